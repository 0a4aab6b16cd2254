"""Orders hold slots; nobody can double-book a coach or a client; holds expire."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from coaching.selectors import bookable_slots
from payments.models import Order
from payments.services import order_start
from payments.sweeps import holds_expire_due
from sessions_app.booking import SlotTaken, session_reserve
from sessions_app.models import Session, SessionEvent
from tests.factories import UserFactory
from tests.payments_fixtures import NINE_AM, NOW
from tests.waiting import PATIENCE, wait_for

pytestmark = pytest.mark.django_db


def start_single(client, coach, skill, *, at=NINE_AM, method="stripe", now=NOW):
    return order_start(
        client=client,
        coach=coach,
        skill=skill,
        duration_minutes=60,
        quantity=1,
        method=method,
        starts_at=at,
        now=now,
    )


def slots(coach, *, client=None, now=NOW):
    return bookable_slots(
        coach=coach,
        duration_minutes=60,
        start=now,
        end=now + timedelta(days=1),
        now=now,
        client=client,
    )


def test_a_single_session_order_holds_its_slot_for_thirty_minutes(alice, bob, leadership):
    order = start_single(alice, bob, leadership)

    assert order.status == Order.Status.PENDING
    assert (order.unit_price, order.total_price) == (10000, 10000)
    held = order.held_session
    assert held.status == Session.Status.HELD
    assert held.hold_expires_at == NOW + timedelta(minutes=settings.HSE_HOLD_MINUTES)
    assert NINE_AM not in slots(bob)
    # 08:15-09:45 local overlap the held 09:00-10:00 hour, for anyone.
    assert NINE_AM + timedelta(hours=1) in slots(bob)
    assert list(SessionEvent.objects.values_list("to_status", "why")) == [
        ("held", "held for checkout")
    ]


def test_the_clients_own_bookings_make_them_busy_with_every_coach(alice, bob, dora, leadership):
    start_single(alice, bob, leadership)
    dora.skills.add(leadership)
    dora.time_zone = "America/New_York"
    dora.save()

    assert NINE_AM in slots(dora)
    assert NINE_AM not in slots(dora, client=alice)


def test_a_second_client_gets_slot_taken(alice, carol, bob, leadership):
    start_single(alice, bob, leadership)

    with pytest.raises(SlotTaken, match="not available any more"):
        start_single(carol, bob, leadership)
    assert Order.objects.count() == 1


def test_an_expired_hold_is_free_on_pages_before_the_sweep_and_can_be_rebooked(
    alice, carol, bob, leadership
):
    order = start_single(alice, bob, leadership)
    later = NOW + timedelta(minutes=settings.HSE_HOLD_MINUTES, seconds=1)

    assert NINE_AM in slots(bob, now=later)
    second = start_single(carol, bob, leadership, now=later)

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert order.held_session.status == Session.Status.EXPIRED
    assert second.held_session.status == Session.Status.HELD


def test_the_hold_sweep_expires_due_orders_once(alice, carol, bob, leadership):
    due = start_single(alice, bob, leadership)
    fresh = start_single(
        carol, bob, leadership, at=NINE_AM + timedelta(hours=2), now=NOW + timedelta(minutes=20)
    )
    at = NOW + timedelta(minutes=31)

    first = holds_expire_due(now=at)
    events = SessionEvent.objects.count()
    second = holds_expire_due(now=at)

    assert (first, second) == (1, 0)
    assert SessionEvent.objects.count() == events
    due.refresh_from_db()
    fresh.refresh_from_db()
    assert due.status == Order.Status.EXPIRED
    assert due.held_session.status == Session.Status.EXPIRED
    assert fresh.status == Order.Status.PENDING


def test_the_sweep_catches_up_on_many_overdue_holds(bob, leadership):
    clients = [UserFactory() for _ in range(3)]
    for hour, client in enumerate(clients):
        start_single(
            client,
            bob,
            leadership,
            at=NINE_AM + timedelta(hours=hour) if hour < 2 else NINE_AM + timedelta(days=1),
        )

    assert holds_expire_due(now=NOW + timedelta(hours=6), batch=2) == 3
    assert not Order.objects.filter(status=Order.Status.PENDING).exists()


@pytest.mark.parametrize("bad", ["coach", "duration", "quantity", "outside"])
def test_bad_orders_are_refused_and_hold_nothing(alice, bob, leadership, bad):
    from payments.services import PaymentError
    from sessions_app.lifecycle import BookingError

    kwargs = dict(
        client=alice,
        coach=bob,
        skill=leadership,
        duration_minutes=60,
        quantity=1,
        method="wallet",
        starts_at=NINE_AM,
        now=NOW,
    )
    if bad == "coach":
        kwargs["client"] = bob.user
    elif bad == "duration":
        kwargs["duration_minutes"] = 50
    elif bad == "quantity":
        kwargs["quantity"] = 3
    else:
        kwargs["starts_at"] = NINE_AM - timedelta(hours=3)  # 06:00, outside the window

    with pytest.raises((PaymentError, BookingError)):
        order_start(**kwargs)
    assert not Session.objects.exists()
    assert not Order.objects.exists()


@pytest.mark.postgres("the exclusion constraint is PostgreSQL's")
def test_the_database_refuses_overlapping_sessions_even_outside_the_services(
    alice, carol, bob, leadership
):
    Session.objects.create(
        coach=bob, client=alice, skill=leadership, duration_minutes=60,
        starts_at=NINE_AM, ends_at=NINE_AM + timedelta(hours=1), status="scheduled",
    )  # fmt: skip

    for client in (carol, alice):
        with pytest.raises(IntegrityError), transaction.atomic():
            Session.objects.create(
                coach=bob if client == carol else _other_coach(leadership), client=client,
                skill=leadership, duration_minutes=30, starts_at=NINE_AM + timedelta(minutes=30),
                ends_at=NINE_AM + timedelta(hours=1), status="scheduled",
            )  # fmt: skip
    # Touching is not overlapping, and cancelled rows do not count.
    Session.objects.create(
        coach=bob, client=carol, skill=leadership, duration_minutes=60,
        starts_at=NINE_AM + timedelta(hours=1), ends_at=NINE_AM + timedelta(hours=2),
        status="cancelled",
    )  # fmt: skip
    Session.objects.create(
        coach=bob, client=carol, skill=leadership, duration_minutes=60,
        starts_at=NINE_AM + timedelta(hours=1), ends_at=NINE_AM + timedelta(hours=2),
        status="scheduled",
    )  # fmt: skip


def _other_coach(skill):
    from tests.factories import CoachFactory

    return CoachFactory(skills=[skill])


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_twenty_threads_booking_the_same_slot_leave_exactly_one_order(bob, leadership):
    clients = [UserFactory() for _ in range(20)]
    barrier = threading.Barrier(20)
    outcomes = []

    def book(client):
        try:
            barrier.wait()
            start_single(client, bob, leadership)
            outcomes.append("booked")
        except SlotTaken as error:
            outcomes.append(str(error))
        except Exception as error:  # anything else would be a 500
            outcomes.append(f"crash: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("booked") == 1, outcomes
    assert all("taken" in o or "not available" in o for o in outcomes if o != "booked"), outcomes
    assert Session.objects.filter(status="held").count() == 1
    assert Order.objects.count() == 1


def test_session_reserve_refuses_a_client_booking_themselves_as_coach(bob, leadership):
    from sessions_app.lifecycle import BookingError

    with pytest.raises(BookingError):
        session_reserve(
            coach=bob,
            client=bob.user,
            skill=leadership,
            duration_minutes=60,
            starts_at=NINE_AM,
            now=NOW,
        )


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_one_buy_form_sent_many_times_at_once_buys_once_and_says_so_each_time(
    alice, bob, leadership
):
    """A double click on "Pay from wallet" for a single session: the copies that wait for
    the first one's slot answer with its order, not with "this time was just taken"."""
    from ledger.services import wallet_balance, wallet_post

    wallet_post(user=alice, amount=100000, reason="top_up", key="t", now=NOW)
    copies = 8
    barrier = threading.Barrier(copies)
    outcomes = []

    def send():
        try:
            barrier.wait()
            order = order_start(
                client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=1,
                method="wallet", starts_at=NINE_AM, now=NOW, token="one-form",
            )  # fmt: skip
            outcomes.append(order.pk)
        except Exception as error:  # SlotTaken here would tell the buyer a lie
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    order = Order.objects.get()
    assert outcomes == [order.pk] * copies, outcomes
    assert order.status == Order.Status.PAID
    assert wallet_balance(user=alice) == 100000 - order.total_price


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_second_booking_of_the_slot_waits_for_the_first_and_is_told_it_was_taken(
    alice, bob, leadership
):
    """Two bookings of one slot queue on the coach's row before either takes the time, so
    they never meet in the exclusion constraints, where each could wait for the other's new
    row (PostgreSQL would end that deadlock with an error). The second waits for the first
    to commit, then finds the time taken."""
    carol = UserFactory()
    first_reserved = threading.Event()
    outcomes = {}

    def reserve(client):
        return session_reserve(
            coach=bob, client=client, skill=leadership, duration_minutes=60,
            starts_at=NINE_AM, now=NOW, hold_until=NOW + timedelta(minutes=15),
        )  # fmt: skip

    def first():
        try:
            with transaction.atomic():
                reserve(alice)
                first_reserved.set()
                # Holds its locks until the second is waiting for them.
                wait_for(lambda: _waiting_on_a_lock(connection), "the second to wait")
            outcomes["first"] = "booked"
        except Exception as error:
            outcomes["first"] = repr(error)
        finally:
            connection.close()

    def second():
        try:
            first_reserved.wait(PATIENCE)
            reserve(carol)
            outcomes["second"] = "booked"
        except SlotTaken:
            outcomes["second"] = "taken"
        except Exception as error:
            outcomes["second"] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"first": "booked", "second": "taken"}, outcomes
    assert list(Session.objects.values_list("client_id", flat=True)) == [alice.pk]


def _waiting_on_a_lock(connection) -> bool:
    """Whether another backend of this database waits for a lock (read afresh each time:
    PostgreSQL keeps one snapshot of the activity per transaction otherwise)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0
