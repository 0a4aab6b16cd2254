"""The code's own shape: apps import one way, and each ledger table has one writer."""

import ast
from pathlib import Path

import pytest

from scripts import check_layers

ROOT = Path(__file__).resolve().parent.parent
LEDGER_MODELS = {"Credit", "WalletEntry", "EarningEntry", "CreditEvent"}
WRITES = {"update", "bulk_update", "create", "bulk_create", "get_or_create", "update_or_create"}


def test_no_app_imports_a_floor_above_it_or_hides_an_import_in_a_function():
    assert check_layers.violations() == []


def test_the_floor_check_catches_an_upward_import(tmp_path):
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "services.py").write_text(
        "def f():\n    from payments.services import order_start\n"
    )
    found = check_layers.violations(tmp_path)
    assert any("imports payments.services, a floor above it" in line for line in found)
    assert any("inside a function" in line for line in found)


def _root_name(node) -> str | None:
    """The name a chain like ``Credit.objects.filter(...).update`` starts from."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _mentions_credit(node) -> bool:
    return any(
        (isinstance(part, ast.Name) and "credit" in part.id.lower())
        or (isinstance(part, ast.Attribute) and "credit" in part.attr.lower())
        for part in ast.walk(node)
    )


def _sets_status(call: ast.Call) -> bool:
    if call.func.attr == "update":
        return any(keyword.arg == "status" for keyword in call.keywords)
    return call.func.attr == "bulk_update"


def ledger_writes_outside_the_ledger(source: str) -> list[int]:
    """Lines of ``source`` that write a ledger row or a credit's state, or step past the
    credit's guard (``hse.states.moving``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "moving" or (
                node.func.id == "setattr"
                and len(node.args) >= 2
                and _mentions_credit(node.args[0])
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "status"
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if (
                (node.func.attr in WRITES and _root_name(node.func.value) in LEDGER_MODELS)
                or (node.func.attr == "save" and _mentions_credit(node.func.value))
                or (_sets_status(node) and _mentions_credit(node.func.value))
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "status"
                    and _mentions_credit(target.value)
                ):
                    lines.append(node.lineno)
    return sorted(lines)


def test_only_the_ledger_writes_wallets_credits_and_earnings():
    found = []
    apps = [app for app in check_layers.LAYERS if app != "ledger"]
    for path in sorted(path for app in apps for path in (ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        if path == ROOT / "hse" / "states.py":
            continue  # the machines themselves, which the ledger's credit machine runs on
        for line in ledger_writes_outside_the_ledger(path.read_text()):
            found.append(f"{path.relative_to(ROOT)}:{line}")
    assert found == []


def test_the_ledger_check_finds_each_kind_of_write():
    source = """
Credit.objects.filter(pk=1).update(status="used")
WalletEntry.objects.create(amount=5)
session.credit.status = "available"
credit.save(update_fields=["status"])
Session.objects.filter(pk=1).update(status="ended")
order.credits.update(status="used")
setattr(credit, "status", "used")
credits.bulk_update(rows, ["status"])
with moving(Credit): pass
order.credits.update(note="x")
"""
    assert ledger_writes_outside_the_ledger(source) == [2, 3, 4, 5, 7, 8, 9, 10]


def test_the_credit_refuses_a_state_written_past_the_ledger(alice, bob, leadership):
    """What the source check cannot see (a queryset kept in a variable, a save of a copy)
    the model refuses when it runs, and the ledger's own moves still go through."""
    from django.utils import timezone

    from hse.states import StateWriteRefused
    from ledger import services as ledger
    from ledger.models import Credit
    from tests.test_requests import package

    package(alice, bob, leadership)
    credit = Credit.objects.filter(client=alice).first()
    query = Credit.objects.filter(pk=credit.pk)
    for write in (
        lambda: query.update(status="used"),
        lambda: Credit.objects.bulk_update([credit], ["status"]),
    ):
        with pytest.raises(StateWriteRefused):
            write()
    credit.status = "used"
    with pytest.raises(StateWriteRefused):
        credit.save()
    credit.refresh_from_db()
    credit.save()  # nothing changed: allowed
    ledger.credit_schedule(credit=credit, by=alice, now=timezone.now(), why="booked")
    assert Credit.objects.get(pk=credit.pk).status == "scheduled"
    assert credit.status == "scheduled"
    credit.save()  # the caller's copy is up to date, so saving it is no state change
