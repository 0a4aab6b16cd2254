"""Session requests from proposal to answer, the sweep, permissions and races."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from freezegun import freeze_time

from hse.states import moving
from ledger.models import Credit
from ledger.services import wallet_post
from payments.models import Order
from payments.services import order_start
from requests_app.models import RequestEvent, SessionRequest
from requests_app.services import (
    RequestError,
    RequestExpired,
    request_accept,
    request_adjust,
    request_cancel,
    request_propose,
    request_reject,
    requests_expire_due,
)
from sessions_app.models import Session
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SENT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday
IN_5_DAYS = SENT + timedelta(days=5)  # Saturday 10:00 UTC: outside Bob's hours, free to propose


def package(client, coach, skill, count=5):
    wallet_post(
        user=client,
        amount=count * 10000,
        reason="top_up",
        key=f"f{client.pk}-{count}",
        now=SENT,
    )
    order = order_start(
        client=client,
        coach=coach,
        skill=skill,
        duration_minutes=60,
        quantity=count,
        method="wallet",
        now=SENT,
    )
    return order


@pytest.fixture
def alices_credits(alice, bob, leadership):
    return package(alice, bob, leadership)


def propose_as_alice(alice, bob, at=IN_5_DAYS, now=SENT):
    return request_propose(by=alice, coach=bob, client=alice, starts_at=at, now=now)


def use_up_credits(client) -> None:
    """A test's shortcut past the ledger: the client has no free credit left."""
    with moving(Credit):
        Credit.objects.filter(client=client).update(status="used")


def credit_statuses(client):
    return sorted(Credit.objects.filter(client=client).values_list("status", flat=True))


def test_the_whole_life_of_a_request_sent_adjusted_twice_and_accepted(
    alice, bob, leadership, alices_credits, mailoutbox, django_capture_on_commit_callbacks
):
    with freeze_time(SENT), django_capture_on_commit_callbacks(execute=True):
        request = propose_as_alice(alice, bob)
    assert request.deadline == IN_5_DAYS - timedelta(hours=24)  # client, 3+ days ahead
    assert credit_statuses(alice).count("held") == 1
    assert mailoutbox[-1].to == [bob.user.email]

    # Bob counters for two days later, sent 4 days ahead: his deadline rule applies.
    later = SENT + timedelta(hours=5)
    with freeze_time(later), django_capture_on_commit_callbacks(execute=True):
        request = request_adjust(
            request=request, by=bob.user, starts_at=later + timedelta(hours=50), now=later
        )
    assert request.proposed_by == bob.user
    assert request.deadline == later + timedelta(hours=50) - timedelta(hours=32)  # coach, 48-72 h
    assert mailoutbox[-1].to == [alice.email]

    # Alice adjusts back, 30 hours ahead of the new start.
    again = later + timedelta(hours=1)
    new_start = again + timedelta(hours=30)
    new_start = new_start.replace(minute=0, second=0, microsecond=0)
    with freeze_time(again):
        request = request_adjust(request=request, by=alice, starts_at=new_start, now=again)
    assert request.deadline == new_start - timedelta(hours=8)  # client, 24-48 h
    assert request.proposals.count() == 3

    accepted_at = again + timedelta(hours=2)
    with freeze_time(accepted_at), django_capture_on_commit_callbacks(execute=True):
        request = request_accept(request=request, by=bob.user, now=accepted_at)
    assert request.status == SessionRequest.Status.ACCEPTED
    session = request.session
    assert (session.starts_at, session.status, session.credit_id) == (
        new_start,
        "scheduled",
        request.credit_id,
    )
    assert credit_statuses(alice).count("scheduled") == 1
    assert list(request.events.values_list("from_status", "to_status")) == [
        ("", "pending"), ("pending", "pending"), ("pending", "pending"), ("pending", "accepted"),
    ]  # fmt: skip
    assert any("accepted" in m.subject for m in mailoutbox if m.to == [alice.email])


def test_an_unanswered_request_expires_exactly_at_its_deadline_and_frees_the_credit(
    alice, bob, leadership, alices_credits, mailoutbox, django_capture_on_commit_callbacks
):
    request = propose_as_alice(alice, bob)
    deadline = request.deadline

    assert requests_expire_due(now=deadline - timedelta(seconds=1)) == 0
    assert (
        SessionRequest.objects.get().effective_status(deadline - timedelta(seconds=1)) == "pending"
    )
    # Pages already call it expired at the deadline, before the sweep runs.
    assert SessionRequest.objects.get().effective_status(deadline) == "expired"

    with django_capture_on_commit_callbacks(execute=True):
        assert requests_expire_due(now=deadline) == 1
    assert requests_expire_due(now=deadline) == 0  # twice: nothing more

    request.refresh_from_db()
    assert request.status == "expired" and request.closed_at == deadline
    assert credit_statuses(alice) == ["available"] * 5
    expiry_mails = [m for m in mailoutbox if "expired" in m.subject]
    assert sorted(m.to[0] for m in expiry_mails) == sorted([alice.email, bob.user.email])
    assert RequestEvent.objects.filter(to_status="expired").count() == 1


def test_answering_after_the_deadline_expires_instead(alice, bob, leadership, alices_credits):
    request = propose_as_alice(alice, bob)

    with pytest.raises(RequestExpired):
        request_accept(request=request, by=bob.user, now=request.deadline)

    request.refresh_from_db()
    assert request.status == "expired"
    assert credit_statuses(alice) == ["available"] * 5
    assert not Session.objects.filter(status="scheduled", starts_at=IN_5_DAYS).exists()


def test_the_sweep_catches_up_after_downtime(alice, carol, bob, leadership):
    package(alice, bob, leadership)
    package(carol, bob, leadership)
    for day, client in enumerate([alice, carol, alice]):
        propose_as_alice(client, bob, at=IN_5_DAYS + timedelta(days=day * 2))

    assert requests_expire_due(now=SENT + timedelta(days=30), batch=2) == 3
    assert set(SessionRequest.objects.values_list("status", flat=True)) == {"expired"}


def test_only_the_receiver_answers_and_only_the_sender_cancels(
    alice, carol, bob, leadership, alices_credits
):
    request = propose_as_alice(alice, bob)

    for action in (request_accept, request_reject):
        with pytest.raises(RequestError, match="sent to"):
            action(request=request, by=alice, now=SENT)
        with pytest.raises(RequestError):
            action(request=request, by=carol, now=SENT)
    with pytest.raises(RequestError, match="who sent"):
        request_cancel(request=request, by=bob.user, now=SENT)
    with pytest.raises(RequestError, match="not yours"):
        request_adjust(
            request=request, by=carol, starts_at=IN_5_DAYS + timedelta(hours=1), now=SENT
        )
    request.refresh_from_db()
    assert request.status == "pending"

    request_cancel(request=request, by=alice, now=SENT)
    assert credit_statuses(alice) == ["available"] * 5
    with pytest.raises(RequestError, match="already cancelled"):
        request_accept(request=request, by=bob.user, now=SENT)


def test_reject_frees_the_credit(alice, bob, leadership, alices_credits):
    request = propose_as_alice(alice, bob)
    request_reject(request=request, by=bob.user, now=SENT)
    request.refresh_from_db()
    assert request.status == "rejected"
    assert credit_statuses(alice) == ["available"] * 5


@pytest.mark.parametrize(
    ("hours_ahead", "message"),
    [(23, "at least 24 hours"), (24 * 5 + 0.1, "15-minute grid")],
)
def test_bad_proposals_are_refused_and_hold_nothing(
    alice, bob, leadership, alices_credits, hours_ahead, message
):
    with pytest.raises(RequestError, match=message):
        propose_as_alice(alice, bob, at=SENT + timedelta(hours=hours_ahead))
    assert not SessionRequest.objects.exists()
    assert credit_statuses(alice) == ["available"] * 5


def test_a_client_without_a_free_credit_cannot_propose(alice, bob, leadership):
    with pytest.raises(RequestError, match="no free session"):
        propose_as_alice(alice, bob)


def test_a_coach_proposes_only_to_their_own_clients(alice, carol, bob, leadership, alices_credits):
    with pytest.raises(RequestError, match="only to your own clients"):
        request_propose(
            by=bob.user,
            coach=bob,
            client=carol,
            skill=leadership,
            duration_minutes=60,
            starts_at=IN_5_DAYS,
            now=SENT,
        )
    request = request_propose(
        by=bob.user,
        coach=bob,
        client=alice,
        skill=leadership,
        duration_minutes=45,
        starts_at=IN_5_DAYS,
        now=SENT,
    )
    assert request.deadline == IN_5_DAYS - timedelta(hours=48)
    assert request.credit is None


def test_an_open_proposal_holds_its_time_for_both(alice, carol, bob, leadership, alices_credits):
    package(carol, bob, leadership)
    propose_as_alice(alice, bob)

    with pytest.raises(RequestError, match="overlaps"):
        propose_as_alice(carol, bob, at=IN_5_DAYS + timedelta(minutes=30))
    # Touching is fine.
    propose_as_alice(carol, bob, at=IN_5_DAYS + timedelta(hours=1))


def test_accepting_a_coachs_request_without_a_credit_starts_a_checkout(
    alice, bob, leadership, alices_credits
):
    use_up_credits(alice)
    request = request_propose(
        by=bob.user,
        coach=bob,
        client=alice,
        skill=leadership,
        duration_minutes=30,
        starts_at=IN_5_DAYS,
        now=SENT,
    )

    request = request_accept(request=request, by=alice, now=SENT, method="stripe")

    assert request.status == "accepted"
    order = request.order
    assert (order.status, order.quantity, order.total_price) == ("pending", 1, 5000)
    assert order.held_session.starts_at == IN_5_DAYS and order.held_session.status == "held"


def test_accepting_and_paying_from_the_wallet_is_one_step(alice, bob, leadership, alices_credits):
    from ledger.services import wallet_post

    use_up_credits(alice)
    request = request_propose(
        by=bob.user,
        coach=bob,
        client=alice,
        skill=leadership,
        duration_minutes=30,
        starts_at=IN_5_DAYS,
        now=SENT,
    )

    with pytest.raises(RequestError, match="Your wallet has"):
        request_accept(request=request, by=alice, now=SENT, method="wallet")
    request.refresh_from_db()
    assert request.status == "pending" and Order.objects.filter(status="pending").count() == 0

    wallet_post(user=alice, amount=5000, reason="top_up", key="more", now=SENT)
    request = request_accept(request=request, by=alice, now=SENT, method="wallet")
    assert request.order.status == "paid"
    assert Session.objects.get(starts_at=IN_5_DAYS).status == "scheduled"


def test_a_coach_cannot_accept_for_a_client_who_would_have_to_pay(
    alice, bob, leadership, alices_credits
):
    use_up_credits(alice)
    request = request_propose(
        by=bob.user,
        coach=bob,
        client=alice,
        skill=leadership,
        duration_minutes=30,
        starts_at=IN_5_DAYS,
        now=SENT,
    )
    request = request_adjust(
        request=request, by=alice, starts_at=IN_5_DAYS + timedelta(hours=1), now=SENT
    )

    with pytest.raises(RequestError, match="they accept it themselves and pay"):
        request_accept(request=request, by=bob.user, now=SENT, method="wallet")

    request.refresh_from_db()
    assert (
        request.status == "pending" and not Order.objects.filter(status="paid", quantity=1).exists()
    )


def test_accepting_a_coachs_request_uses_a_matching_free_credit(
    alice, bob, leadership, alices_credits
):
    request = request_propose(
        by=bob.user,
        coach=bob,
        client=alice,
        skill=leadership,
        duration_minutes=60,
        starts_at=IN_5_DAYS,
        now=SENT,
    )

    request = request_accept(request=request, by=alice, now=SENT)

    assert request.order is None
    assert request.session.status == "scheduled"
    assert credit_statuses(alice).count("scheduled") == 1


def test_a_reschedule_moves_the_session_only_when_accepted(alice, bob, leadership, alices_credits):
    credit = Credit.objects.filter(client=alice).first()
    from sessions_app.booking import session_schedule_from_credit

    monday_nine = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York
    session = session_schedule_from_credit(credit=credit, starts_at=monday_nine, by=alice, now=SENT)
    moved_to = monday_nine + timedelta(minutes=30)  # overlaps its own old time: allowed

    first = request_propose(
        by=bob.user, coach=bob, client=alice, starts_at=moved_to, now=SENT, target_session=session
    )
    request_reject(request=first, by=alice, now=SENT)
    session.refresh_from_db()
    assert session.starts_at == monday_nine

    second = request_propose(
        by=alice, coach=bob, client=alice, starts_at=moved_to, now=SENT, target_session=session
    )
    request_accept(request=second, by=bob.user, now=SENT)
    session.refresh_from_db()
    assert (session.starts_at, session.ends_at) == (moved_to, moved_to + timedelta(hours=1))
    assert session.reminder_day_sent_at is None and session.coach_late_notified_at is None
    assert credit_statuses(alice).count("available") == 4  # no credit moved
    assert session.events.filter(why__startswith="moved from").count() == 1


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes = []

    def run(call):
        try:
            barrier.wait()
            outcomes.append(call())
        except Exception as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_accept_versus_sweep_ends_in_exactly_one_outcome(alice, bob, leadership, attempt):
    package(alice, bob, leadership)
    request = propose_as_alice(alice, bob)
    at = request.deadline - timedelta(microseconds=1) if attempt else request.deadline

    outcomes = _race(
        lambda: request_accept(request=request, by=bob.user, now=at),
        lambda: requests_expire_due(now=request.deadline),
    )

    request.refresh_from_db()
    assert request.status in ("accepted", "expired"), outcomes
    booked = Session.objects.filter(status="scheduled").count()
    if request.status == "accepted":
        assert booked == 1 and credit_statuses(alice).count("scheduled") == 1
    else:
        assert booked == 0 and credit_statuses(alice) == ["available"] * 5
    assert RequestEvent.objects.exclude(to_status="pending").count() == 1


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_requests_can_never_both_be_accepted(alice, carol, bob, leadership):
    package(alice, bob, leadership)
    package(carol, bob, leadership)
    first = propose_as_alice(alice, bob)
    # A second, overlapping proposal slipped in (as two concurrent proposals could).
    second = SessionRequest.objects.create(
        coach=bob, client=carol, skill=leadership, duration_minutes=60,
        starts_at=IN_5_DAYS + timedelta(minutes=30), ends_at=IN_5_DAYS + timedelta(minutes=90),
        proposed_by=carol, sent_at=SENT, deadline=IN_5_DAYS - timedelta(hours=24), created_at=SENT,
    )  # fmt: skip

    outcomes = _race(
        lambda: request_accept(request=first, by=bob.user, now=SENT),
        lambda: request_accept(request=second, by=bob.user, now=SENT),
    )

    statuses = sorted(SessionRequest.objects.values_list("status", flat=True))
    assert statuses == ["accepted", "pending"], outcomes
    assert Session.objects.filter(status="scheduled").count() == 1
    # The loser is refused (a RequestError in every run observed here); the outcome that
    # matters is above: one accepted, one still pending, one session.
    assert sum(isinstance(o, Exception) for o in outcomes) == 1, outcomes


def test_strangers_requests_are_not_in_their_querysets(
    alice, carol, bob, leadership, alices_credits
):
    propose_as_alice(alice, bob)
    stranger = UserFactory()
    assert SessionRequest.objects.for_user(stranger).count() == 0
    assert SessionRequest.objects.for_user(carol).count() == 0
    assert SessionRequest.objects.for_user(alice).count() == 1
    assert SessionRequest.objects.for_user(bob.user).count() == 1
    assert Order.objects.count() == 1


def test_cancelling_a_session_closes_its_open_reschedule_request(
    alice, bob, leadership, alices_credits
):
    from sessions_app.booking import session_schedule_from_credit
    from sessions_app.services import session_cancel

    credit = Credit.objects.filter(client=alice, status="available").first()
    monday_nine = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    session = session_schedule_from_credit(credit=credit, starts_at=monday_nine, by=alice, now=SENT)
    request = request_propose(
        by=bob.user,
        coach=bob,
        client=alice,
        starts_at=monday_nine + timedelta(hours=2),
        now=SENT,
        target_session=session,
    )

    session_cancel(session=session, by=alice, now=SENT)

    request.refresh_from_db()
    assert request.status == "cancelled"
