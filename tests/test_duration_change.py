"""Adjust can change the length of any request: the paid credit is exchanged for one of the
new length on acceptance, the price difference paid from or refunded to the client's wallet
once, and a client who cannot pay is told how much to top up."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from freezegun import freeze_time

from ledger import services as ledger
from ledger.models import Credit, WalletEntry
from ledger.services import LedgerError, wallet_balance, wallet_post
from payments import refunds
from payments.models import Refund
from payments.services import order_start
from requests_app.models import SessionRequest
from requests_app.services import (
    RequestError,
    request_accept,
    request_adjust,
    request_propose,
)
from tests.factories import UserFactory
from tests.test_refunds import card_package, charge_of

pytestmark = pytest.mark.django_db
SENT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday
IN_5_DAYS = SENT + timedelta(days=5)  # Saturday 10:00 UTC: free to propose
BOOKED = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York


def five_hours(alice, bob, leadership):
    """Five 60-minute credits at $100 each, paid from the wallet, which is then empty."""
    wallet_post(user=alice, amount=50000, reason="top_up", key=f"f{alice.pk}", now=SENT)
    order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=5,
        method="wallet", now=SENT,
    )  # fmt: skip


def exchanges(alice):
    return list(
        WalletEntry.objects.filter(user=alice, reason="exchange").values_list("amount", flat=True)
    )


def test_a_shorter_session_refunds_the_difference_once_on_acceptance(alice, bob, leadership):
    five_hours(alice, bob, leadership)
    request = request_propose(by=alice, coach=bob, client=alice, starts_at=IN_5_DAYS, now=SENT)
    held = request.credit

    request = request_adjust(
        request=request, by=alice, starts_at=IN_5_DAYS, duration_minutes=30, now=SENT
    )
    assert request.duration_minutes == 30
    assert exchanges(alice) == []  # nothing moves before the answer

    request = request_accept(request=request, by=bob.user, now=SENT)
    held.refresh_from_db()
    assert held.status == "exchanged"
    new = request.credit
    assert (new.duration_minutes, new.price_paid, new.status) == (30, 5000, "scheduled")
    assert request.session.credit == new and request.session.duration_minutes == 30
    assert request.session.ends_at == IN_5_DAYS + timedelta(minutes=30)
    assert exchanges(alice) == [5000]
    assert wallet_balance(user=alice) == 5000

    with pytest.raises(RequestError, match="already accepted"):
        request_accept(request=request, by=bob.user, now=SENT)
    assert exchanges(alice) == [5000]
    assert Credit.objects.filter(client=alice).exclude(status="exchanged").count() == 5


def test_a_longer_session_needs_the_difference_in_the_wallet(
    alice, bob, leadership, mailoutbox, django_capture_on_commit_callbacks
):
    wallet_post(user=alice, amount=25000, reason="top_up", key="f", now=SENT)
    order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=30, quantity=5,
        method="wallet", now=SENT,
    )  # fmt: skip
    request = request_propose(by=alice, coach=bob, client=alice, starts_at=IN_5_DAYS, now=SENT)

    with pytest.raises(RequestError, match=r"top it up by at least \$50\.00"):
        request_adjust(
            request=request, by=alice, starts_at=IN_5_DAYS, duration_minutes=60, now=SENT
        )
    request.refresh_from_db()
    assert request.duration_minutes == 30

    wallet_post(user=alice, amount=3000, reason="top_up", key="some", now=SENT)
    with pytest.raises(RequestError, match=r"top it up by at least \$20\.00"):
        request_adjust(
            request=request, by=alice, starts_at=IN_5_DAYS, duration_minutes=60, now=SENT
        )
    wallet_post(user=alice, amount=2000, reason="top_up", key="enough", now=SENT)
    request = request_adjust(
        request=request, by=alice, starts_at=IN_5_DAYS, duration_minutes=60, now=SENT
    )
    # Spent elsewhere before Bob answers: his acceptance is refused, nothing moves. Bob
    # hears no figure from Alice's wallet; Alice is emailed what to top up.
    wallet_post(user=alice, amount=-4000, reason="payment", key="spent", now=SENT)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RequestError) as refused,
    ):
        request_accept(request=request, by=bob.user, now=SENT)
    assert str(refused.value) == (
        "Alice Client’s wallet does not cover the longer session; they have been told."
    )
    request.refresh_from_db()
    assert request.status == "pending" and exchanges(alice) == []
    assert request.credit.status == "held" and request.credit.duration_minutes == 30
    assert [m.to for m in mailoutbox] == [[alice.email]]
    assert "top it up by at least $40.00" in mailoutbox[0].body
    assert "Top up your wallet" in mailoutbox[0].subject

    wallet_post(user=alice, amount=4000, reason="top_up", key="again", now=SENT)
    request = request_accept(request=request, by=bob.user, now=SENT)
    assert exchanges(alice) == [-5000] and wallet_balance(user=alice) == 0
    assert (request.credit.duration_minutes, request.credit.price_paid) == (60, 10000)


def test_the_coach_proposes_a_longer_session_and_the_client_pays_on_accepting(
    alice, bob, leadership
):
    wallet_post(user=alice, amount=25000, reason="top_up", key="f", now=SENT)
    order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=30, quantity=5,
        method="wallet", now=SENT,
    )  # fmt: skip
    request = request_propose(by=alice, coach=bob, client=alice, starts_at=IN_5_DAYS, now=SENT)
    # A coach may propose a longer session whatever Alice's wallet holds: nothing is checked
    # or moved until she accepts.
    request = request_adjust(
        request=request, by=bob.user, starts_at=IN_5_DAYS, duration_minutes=60, now=SENT
    )
    with pytest.raises(RequestError, match=r"top it up by at least \$50\.00"):
        request_accept(request=request, by=alice, now=SENT)
    assert exchanges(alice) == []

    wallet_post(user=alice, amount=5000, reason="top_up", key="more", now=SENT)
    request = request_accept(request=request, by=alice, now=SENT)
    assert exchanges(alice) == [-5000]
    assert request.session.duration_minutes == 60


def test_a_reschedule_changes_time_and_length_and_shows_both(
    client, alice, bob, leadership, session
):
    """Alice's 60-minute session (paid $100 from her wallet) moves and becomes 30 minutes."""
    with freeze_time(SENT):
        moved_to = session.starts_at + timedelta(days=1)
        request = request_propose(
            by=alice, coach=bob, client=alice, starts_at=moved_to, now=SENT,
            target_session=session, duration_minutes=30,
        )  # fmt: skip
        client.force_login(bob.user)
        page = client.get(reverse("requests:detail", args=[request.pk])).content.decode()
    assert "(60 min); moves to" in page and "(30 min)" in page
    assert "refunded to Alice Client’s wallet" in page

    old_credit = session.credit
    request_accept(request=request, by=bob.user, now=SENT)
    session.refresh_from_db()
    old_credit.refresh_from_db()
    assert (session.starts_at, session.duration_minutes) == (moved_to, 30)
    assert session.ends_at == moved_to + timedelta(minutes=30)
    assert old_credit.status == "exchanged"
    assert (session.credit.status, session.credit.price_paid) == ("scheduled", 5000)
    assert exchanges(alice) == [5000]


def test_the_adjust_form_takes_a_length_and_refuses_nonsense(client, alice, bob, leadership):
    five_hours(alice, bob, leadership)
    request = request_propose(by=alice, coach=bob, client=alice, starts_at=IN_5_DAYS, now=SENT)
    client.force_login(alice)
    url = reverse("requests:adjust", args=[request.pk])
    start = "2026-11-28T11:00"  # Berlin: 10:00 UTC
    with freeze_time(SENT):
        for duration in ("7", "9" * 300, "-30", "thirty\x00"):
            client.post(url, {"start": start, "duration": duration})
        client.post(url, {"start": start, "duration": "45"})
    request.refresh_from_db()
    assert request.duration_minutes == 45
    assert SessionRequest.objects.get().proposals.count() == 2


@pytest.mark.parametrize("trial_price", [0, 1500])
def test_a_trial_keeps_its_length(alice, bob, leadership, settings, trial_price):
    """A trial (free, or at the coach's trial price) lengthened would cost next to nothing:
    neither person may change its length, and the ledger refuses the exchange too."""
    bob.trial_offered, bob.trial_price = True, trial_price
    bob.save()
    wallet_post(user=alice, amount=50000, reason="top_up", key="f", now=SENT)
    order = order_start(
        client=alice, coach=bob, skill=leadership, quantity=1, now=SENT, trial=True,
        duration_minutes=settings.HSE_TRIAL_MINUTES, method="wallet", starts_at=IN_5_DAYS,
        agreed=True,
    )  # fmt: skip
    session = order.held_session
    session.refresh_from_db()
    refused = "A trial session keeps its length"
    for by in (alice, bob.user):
        with pytest.raises(RequestError, match=refused):
            request_propose(
                by=by, coach=bob, client=alice, starts_at=BOOKED, now=SENT,
                target_session=session, duration_minutes=60,
            )  # fmt: skip
    # A new time alone is fine; a length added by the other side's counter is refused.
    request = request_propose(
        by=alice, coach=bob, client=alice, starts_at=BOOKED, now=SENT, target_session=session
    )
    with pytest.raises(RequestError, match=refused):
        request_adjust(
            request=request, by=bob.user, starts_at=BOOKED, duration_minutes=60, now=SENT
        )
    with pytest.raises(LedgerError, match=refused):
        ledger.credit_exchange(
            credit=session.credit, duration_minutes=60, by=alice, now=SENT, why="t"
        )
    session.refresh_from_db()
    assert session.duration_minutes == settings.HSE_TRIAL_MINUTES
    assert session.credit.status == "scheduled" and exchanges(alice) == []


@pytest.mark.postgres("reads the FOR UPDATE statements, which SQLite has not")
def test_a_length_change_locks_people_then_the_session_then_its_credit(
    alice, bob, leadership, session
):
    """The order of a booking and of a cancellation (the session, then its credit, then the
    requests moving it), so a length change and a cancellation of the same session queue
    instead of deadlocking."""
    request = request_propose(
        by=alice, coach=bob, client=alice, starts_at=session.starts_at + timedelta(days=1),
        now=SENT, target_session=session, duration_minutes=30,
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        request_accept(request=request, by=bob.user, now=SENT)
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]

    def first(table):  # the credit table kept its first name
        return next(i for i, sql in enumerate(locks) if f'FROM "{table}"' in sql)

    assert first("accounts_user") < first("sessions_app_session") < first("payments_credit")
    assert first("sessions_app_session") < first("requests_app_sessionrequest")


def test_a_card_refund_after_a_longer_length_gives_the_card_only_what_it_paid(
    alice, bob, leadership, stripe_settings, django_capture_on_commit_callbacks
):
    """A 60-minute credit paid $100 by card, made 90 minutes with $50 from the wallet: the
    card gets $100 back and the wallet $50, each once."""
    order = card_package(alice, bob, leadership, stripe_settings)
    wallet_post(user=alice, amount=5000, reason="top_up", key="more", now=SENT)
    longer = ledger.credit_exchange(
        credit=order.credits.first(), duration_minutes=90, by=alice, now=SENT, why="t"
    )
    assert (longer.price_paid, wallet_balance(user=alice)) == (15000, 0)
    sam = UserFactory(display_name="Sam Staff", is_staff=True)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            refunds.credit_refund(credit=longer, to_card=True, by=sam, now=SENT, why="t")

    moved = {r.kind: (r.amount, r.status) for r in Refund.objects.filter(credit=longer)}
    assert moved["card"][0] == 10000 and moved["card"][1] in ("sent", "succeeded")
    assert moved["wallet"] == (5000, "succeeded")
    assert Refund.objects.count() == 2
    assert charge_of(order, stripe_settings).amount_refunded == 10000
    assert wallet_balance(user=alice) == 5000
    longer.refresh_from_db()
    assert longer.status == "refunded"
