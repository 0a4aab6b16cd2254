"""Defects found in review of issue 22 part B: a late card payment for an expired trial,
lock order of package extensions, the confirmed badge, the expiry sweep, booking messages."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import User
from ledger import services as ledger
from ledger.models import Credit
from ledger.sweeps import credits_expire_due
from payments import packages, refunds
from payments.models import Order
from payments.services import PaymentError, order_expire, order_start
from sessions_app.booking import BookingError, session_schedule_from_credit
from sessions_app.lifecycle import effective_status
from sessions_app.models import Attendance, Session
from sessions_app.selectors import sessions_past
from sessions_app.sweeps import sessions_auto_confirm_due, sessions_auto_end_due
from tests.stripe_helpers import checkout_completed, event, sign
from tests.test_offers import _fund, _offers, _trial
from tests.test_package_validity import BOUGHT, EXPIRES
from tests.test_session_lifecycle import BOOKED_AT, T

pytestmark = pytest.mark.django_db

WEBHOOK = reverse("payments:stripe_webhook")


def _post(client, payload: bytes):
    return client.post(
        WEBHOOK, payload, content_type="application/json",
        headers={"Stripe-Signature": sign(payload)},
    )  # fmt: skip


# --- 1. A trial paid late by card, after another trial was bought --------------------------


def test_a_late_card_payment_for_an_expired_trial_is_held_not_a_500(
    client, alice, bob, leadership, stripe_settings
):
    _offers(bob, price=1500)
    first = _trial(alice, bob, leadership, method="stripe")
    order_expire(order=first, now=BOOKED_AT, why="its Stripe checkout expired")
    _fund(alice)
    second = _trial(alice, bob, leadership, at=T + timedelta(hours=1))
    assert second.status == Order.Status.PAID

    paid = checkout_completed(f"order-{first.pk}", amount=1500, payment_intent="pi_late")
    response = _post(client, event("evt_late_trial", "checkout.session.completed", paid))

    assert response.status_code == 200
    first.refresh_from_db()
    # The money is recorded, held for an admin with the reason; no second trial delivered.
    assert first.status == Order.Status.REVIEW
    assert first.stripe_amount == 1500 and first.stripe_payment_intent == "pi_late"
    assert "second trial" in first.events.latest("pk").why
    assert Credit.objects.filter(order=first).count() == 0
    assert Credit.objects.filter(order=second).count() == 1
    # The same event again changes nothing.
    assert (
        _post(client, event("evt_late_trial", "checkout.session.completed", paid)).status_code
        == 200
    )

    # An admin cannot make it a second trial, and can give the money back.
    admin = User.objects.create_superuser(email="admin@example.com", password="x")
    with pytest.raises(PaymentError, match="another trial"):
        refunds.review_fulfil(row=first, by=admin, now=BOOKED_AT)
    first.refresh_from_db()
    assert first.status == Order.Status.REVIEW


def test_a_late_trial_payment_of_another_amount_is_held_without_colliding(
    client, alice, bob, leadership, stripe_settings
):
    _offers(bob, price=1500)
    first = _trial(alice, bob, leadership, method="stripe")
    order_expire(order=first, now=BOOKED_AT, why="its Stripe checkout expired")
    _fund(alice)
    _trial(alice, bob, leadership, at=T + timedelta(hours=1))

    paid = checkout_completed(f"order-{first.pk}", amount=999)
    assert _post(client, event("evt_odd", "checkout.session.completed", paid)).status_code == 200
    first.refresh_from_db()
    assert first.status == Order.Status.REVIEW and first.stripe_amount == 999


# --- 2. Answering an extension locks the order before the extension -----------------------


def _locked_tables(queries) -> list[str]:
    """The tables of the FOR UPDATE statements, in the order they ran."""
    found = []
    for query in queries:
        sql = query["sql"]
        if "FOR UPDATE" in sql:
            table = sql.split(" FROM ", 1)[1].split()[0].strip('"')
            found.append(table)
    return found


@pytest.mark.postgres("reads the FOR UPDATE statements, which SQLite has not")
@pytest.mark.parametrize("accept", [True, False])
def test_an_extension_answer_locks_the_order_first_as_package_end_does(
    alice, bob, leadership, accept
):
    ledger.wallet_post(user=alice, amount=100_000, reason="top_up", key="fund", now=BOUGHT)
    order = order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=5,
        method="wallet", now=BOUGHT,
    )  # fmt: skip
    now = EXPIRES - timedelta(days=10)
    extension = packages.extension_ask(order=order, by=alice, now=now)
    with CaptureQueriesContext(connection) as answered:
        packages.extension_answer(extension=extension, accept=accept, by=bob.user, now=now)
    locked = _locked_tables(answered.captured_queries)
    assert locked[:2] == ["payments_order", "payments_packageextension"], locked


# --- 3. A session the coach never came to is not shown as confirmed ------------------------


@pytest.mark.parametrize("came", [False, True])
def test_the_page_and_the_sweep_agree_on_a_session_the_coach_missed(
    client, alice, bob, session, came
):
    if came:
        Attendance.objects.create(session=session, user=bob.user, kind=Attendance.Kind.START, at=T)
    later = T + timedelta(days=30)  # the confirmation window closed; no sweep ran yet
    session.refresh_from_db()
    shown = effective_status(session, later)
    # The lists read the same rule from an annotation, without a query per row.
    client.force_login(alice)
    with freeze_time(later):
        (listed,) = sessions_past(user=alice, now=later)
        assert listed.phase.status == shown
        sessions_auto_end_due(now=later)
        sessions_auto_confirm_due(now=later)
    session.refresh_from_db()
    assert (
        shown == session.status == (Session.Status.CONFIRMED if came else Session.Status.CANCELLED)
    )


# --- 4. The expiry sweep and a pending extension; a held credit released late ----------------


def _package(alice, bob, leadership):
    ledger.wallet_post(user=alice, amount=100_000, reason="top_up", key="fund", now=BOUGHT)
    return order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=5,
        method="wallet", now=BOUGHT,
    )  # fmt: skip


def test_an_extension_asked_before_expiry_can_still_be_accepted_after(alice, bob, leadership):
    order = _package(alice, bob, leadership)
    extension = packages.extension_ask(order=order, by=alice, now=EXPIRES - timedelta(days=2))
    after = EXPIRES + timedelta(days=1)
    with freeze_time(after):
        assert credits_expire_due(now=after) == 0
    assert set(order.credits.values_list("status", flat=True)) == {"available"}
    packages.extension_answer(extension=extension, accept=True, by=bob.user, now=after)
    assert set(order.credits.values_list("status", flat=True)) == {"available"}
    # Once answered, the sweep does its work again at the new expiry.
    extension.refresh_from_db()
    with freeze_time(extension.new_expires_at):
        assert credits_expire_due(now=extension.new_expires_at) == 5


def test_a_declined_extension_lets_the_sweep_expire_the_package(alice, bob, leadership):
    order = _package(alice, bob, leadership)
    extension = packages.extension_ask(order=order, by=alice, now=EXPIRES - timedelta(days=2))
    after = EXPIRES + timedelta(days=1)
    packages.extension_answer(extension=extension, accept=False, by=bob.user, now=after)
    with freeze_time(after):
        assert credits_expire_due(now=after) == 5


@pytest.mark.parametrize("bulk", [False, True])
def test_a_held_credit_released_after_its_expiry_gets_the_grace(alice, bob, leadership, bulk):
    order = _package(alice, bob, leadership)
    credit = order.credits.first()
    ledger.credit_hold(credit=credit, by=alice, now=BOUGHT, why="a request")
    late = EXPIRES + timedelta(days=1)
    if bulk:
        assert ledger.credits_release_many(ids=[credit.pk], now=late, why="lapsed") == [credit.pk]
    else:
        assert ledger.credit_release(credit=credit, by=None, now=late, why="declined")
        assert credit.expires_at == late + timedelta(days=14)
    credit.refresh_from_db()
    assert credit.status == "available" and credit.expires_at == late + timedelta(days=14)
    with freeze_time(late):
        assert credits_expire_due(now=late) == 4  # the others; not the released one


# --- 5. Scheduling a credit that is no longer available says why -------------------------


def _expire(alice, order, credit):
    with freeze_time(EXPIRES):
        credits_expire_due(now=EXPIRES)


def _end(alice, order, credit):
    packages.package_end(order=order, by=alice, now=BOUGHT)


def _schedule(alice, order, credit):
    ledger.credit_schedule(credit=credit, by=alice, now=BOUGHT, why="booked")


def _hold(alice, order, credit):
    ledger.credit_hold(credit=credit, by=alice, now=BOUGHT, why="a request")


@pytest.mark.parametrize(
    ("move", "message"),
    [
        (_expire, "This credit expired; its price went back to your wallet"),
        (_end, "package was ended"),
        (_schedule, "already scheduled"),
        (_hold, "held by a session request"),
    ],
)
def test_scheduling_a_credit_that_is_not_available_says_why(alice, bob, leadership, move, message):
    order = _package(alice, bob, leadership)
    credit = order.credits.first()
    move(alice, order, credit)
    sessions = Session.objects.count()
    with pytest.raises(BookingError, match=message):
        session_schedule_from_credit(credit=credit, starts_at=T, by=alice, now=BOUGHT)
    assert Session.objects.count() == sessions
