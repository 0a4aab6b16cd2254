"""The code's own shape: apps import one way, and each ledger table has one writer."""

import ast
from pathlib import Path

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


def ledger_writes_outside_the_ledger(source: str) -> list[int]:
    """Lines of ``source`` that write a ledger row or a credit's state."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if (node.func.attr in WRITES and _root_name(node.func.value) in LEDGER_MODELS) or (
                node.func.attr == "save" and _mentions_credit(node.func.value)
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
"""
    assert ledger_writes_outside_the_ledger(source) == [2, 3, 4, 5]
