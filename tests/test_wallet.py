"""The wallet ledger: append-only, never negative, balance = sum, each key counted once."""

import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum
from freezegun import freeze_time

from ledger.models import Credit, WalletEntry
from ledger.services import (
    InsufficientFunds,
    LedgerError,
    wallet_adjust,
    wallet_balance,
    wallet_post,
)
from payments.models import Order
from payments.services import order_start
from sessions_app.models import Session
from tests.factories import UserFactory
from tests.payments_fixtures import NINE_AM, NOW

pytestmark = pytest.mark.django_db


def top_up(user, amount, key):
    return wallet_post(user=user, amount=amount, reason="top_up", key=key, now=NOW)


def ledger_sum(user) -> int:
    return WalletEntry.objects.filter(user=user).aggregate(total=Sum("amount"))["total"] or 0


def test_balance_is_the_sum_of_entries_and_a_key_counts_once(alice):
    top_up(alice, 5000, "t1")
    top_up(alice, 5000, "t1")
    top_up(alice, 2500, "t2")

    assert wallet_balance(user=alice) == ledger_sum(alice) == 7500
    assert WalletEntry.objects.count() == 2


def test_a_debit_that_would_overdraw_is_refused_with_the_amounts(alice):
    top_up(alice, 3000, "t1")

    with pytest.raises(InsufficientFunds, match=r"Your wallet has \$30.00; this needs \$50.00"):
        wallet_post(user=alice, amount=-5000, reason="payment", key="p1", now=NOW)
    assert wallet_balance(user=alice) == 3000


def test_the_database_refuses_to_change_or_delete_entries(alice):
    entry = top_up(alice, 3000, "t1")

    with pytest.raises(DatabaseError), transaction.atomic():
        WalletEntry.objects.filter(pk=entry.pk).update(amount=999999)
    with pytest.raises(DatabaseError), transaction.atomic():
        WalletEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        WalletEntry.objects.create(
            user=alice, amount=-1, currency="USD", balance_after=-1, reason="payment",
            idempotency_key="negative", created_at=NOW,
        )  # fmt: skip
    assert list(WalletEntry.objects.values_list("amount", flat=True)) == [3000]


def test_paying_a_package_from_the_wallet_is_one_step(alice, bob, leadership):
    top_up(alice, 60000, "t1")
    buy = {
        "client": alice, "coach": bob, "skill": leadership, "duration_minutes": 60,
        "quantity": 5, "method": "wallet", "now": NOW, "token": "form-1",
    }  # fmt: skip

    order = order_start(**buy)
    assert order_start(**buy) == order  # a double click: the same form's copy

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert wallet_balance(user=alice) == 60000 - 5 * 10000
    assert WalletEntry.objects.filter(reason="payment").count() == 1
    credits = Credit.objects.filter(order=order)
    assert credits.count() == 5
    assert {c.status for c in credits} == {"available"}
    assert {(c.price_paid, c.duration_minutes, c.coach_id) for c in credits} == {
        (10000, 60, bob.pk)
    }
    assert list(order.events.values_list("from_status", "to_status", "action")) == [
        ("", "paid", "pay"),
    ]


def test_paying_a_single_session_from_the_wallet_schedules_it(
    alice, bob, leadership, mailoutbox, django_capture_on_commit_callbacks
):
    top_up(alice, 10000, "t1")
    # The emails are written as the page commits, in the year of NOW: no year in their dates.
    with freeze_time(NOW), django_capture_on_commit_callbacks(execute=True):
        order = order_start(
            client=alice,
            coach=bob,
            skill=leadership,
            duration_minutes=60,
            quantity=1,
            method="wallet",
            starts_at=NINE_AM,
            now=NOW,
        )

    session = Session.objects.get()
    assert session.status == Session.Status.SCHEDULED
    assert session.credit.status == Credit.Status.SCHEDULED
    assert wallet_balance(user=alice) == 0
    subjects = sorted(m.subject for m in mailoutbox)
    assert subjects == [
        "[HSE] Booked: Leadership with Alice Client",
        "[HSE] Booked: Leadership with Bob Coach",
        f"[HSE] Receipt for order #{order.pk}",
    ]
    # Each person reads the time in their own zone first, then the other's: Alice in Berlin,
    # Bob's account in UTC.
    to_alice = next(
        m for m in mailoutbox if m.to == ["alice@example.com"] and "Booked" in m.subject
    )
    to_bob = next(m for m in mailoutbox if m.to == ["bob@example.com"])
    assert (
        "Monday 23 November, 15:00–16:00 CET for you · 14:00–15:00 UTC for Bob Coach"
        in to_alice.body
    )
    assert (
        "Monday 23 November, 14:00–15:00 UTC for you · 15:00–16:00 CET for Alice Client"
        in to_bob.body
    )
    assert to_alice.alternatives[0][1] == "text/html"
    invite = to_alice
    ics = invite.attachments[0][1]
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert "DTSTART:20261123T140000Z" in ics
    assert "DTEND:20261123T150000Z" in ics


def test_wallet_payment_fails_whole_when_the_balance_is_short(alice, bob, leadership):
    top_up(alice, 5000, "t1")
    with pytest.raises(InsufficientFunds):
        order_start(
            client=alice,
            coach=bob,
            skill=leadership,
            duration_minutes=60,
            quantity=1,
            method="wallet",
            starts_at=NINE_AM,
            now=NOW,
        )

    # Nothing is left behind: no order, no held slot, no credit, no debit.
    assert not Order.objects.exists()
    assert not Session.objects.exists()
    assert not Credit.objects.exists()
    assert wallet_balance(user=alice) == 5000


def test_an_adjustment_needs_a_reason(alice):
    staff = UserFactory(is_staff=True)
    with pytest.raises(LedgerError):
        wallet_adjust(user=alice, amount=500, note=" ", by=staff, key="a1", now=NOW)
    wallet_adjust(user=alice, amount=500, note="goodwill", by=staff, key="a1", now=NOW)
    assert wallet_balance(user=alice) == 500


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_debits_against_a_balance_for_five(alice):
    top_up(alice, 5 * 1000, "t1")
    barrier = threading.Barrier(20)
    outcomes = []

    def debit(n):
        try:
            barrier.wait()
            wallet_post(user=alice, amount=-1000, reason="payment", key=f"d{n}", now=NOW)
            outcomes.append("ok")
        except InsufficientFunds:
            outcomes.append("refused")
        except Exception as error:
            outcomes.append(f"crash: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=debit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("ok") == 5, outcomes
    assert outcomes.count("refused") == 15, outcomes
    assert wallet_balance(user=alice) == ledger_sum(alice) == 0
    assert not WalletEntry.objects.filter(balance_after__lt=0).exists()
    running = list(
        WalletEntry.objects.filter(user=alice).order_by("id").values_list("amount", "balance_after")
    )
    total = 0
    for amount, after in running:
        total += amount
        assert after == total
