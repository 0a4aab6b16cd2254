"""The times pages offer come from a cached copy of each coach's and client's schedule
(coaching.selectors.cached_schedule). Every change shows at once, whoever made it and
however; the clock frees holds and requests by itself; and a page served from the copy
reads no sessions, requests or time off."""

import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from freezegun import freeze_time

from coaching.models import AvailabilityWindow
from coaching.services import availability_window_remove, time_off_add, time_off_remove
from ledger.services import wallet_post
from payments.services import order_start
from requests_app.services import request_propose, request_reject
from sessions_app.booking import session_hold_lock, session_reserve, session_schedule_held
from sessions_app.models import Session
from sessions_app.services import session_cancel
from tests.payments_fixtures import NINE_AM, NOW

pytestmark = pytest.mark.django_db
TUESDAY_NINE = NINE_AM + timedelta(days=1)
SCHEDULE_TABLES = ("sessions_app_session", "requests_app_sessionrequest", "coaching_timeoff")


def offered(client, coach, **params) -> set[datetime]:
    """Every open time the coach page shows (all days), as instants."""
    url = reverse("marketplace:coach_detail", args=[coach.pk])
    page = client.get(url, {"show": "all", **params})
    assert page.status_code == 200
    return {
        datetime.fromisoformat(iso)
        for iso in re.findall(r'<time datetime="([^"]+)">', page.content.decode())
    }


def read_schedules(client, coach) -> bool:
    """Whether showing the coach page read any schedule table."""
    with CaptureQueriesContext(connection) as queries:
        offered(client, coach)
    return any(table in q["sql"] for q in queries.captured_queries for table in SCHEDULE_TABLES)


@freeze_time(NOW)
def test_a_second_look_reads_no_schedule_and_a_change_shows_at_once(client, alice, bob):
    client.force_login(alice)
    assert NINE_AM in offered(client, bob)
    assert not read_schedules(client, bob)

    off = time_off_add(
        coach=bob, starts=datetime(2026, 11, 23), ends=datetime(2026, 11, 24), note="", now=NOW
    )
    assert NINE_AM not in offered(client, bob) and TUESDAY_NINE in offered(client, bob)
    time_off_remove(coach=bob, time_off=off)
    assert NINE_AM in offered(client, bob)

    monday = AvailabilityWindow.objects.get(coach=bob, weekday=0)
    availability_window_remove(coach=bob, window=monday)
    assert NINE_AM not in offered(client, bob) and TUESDAY_NINE in offered(client, bob)


def test_a_hold_is_freed_by_the_clock_and_taken_again_by_its_late_payment(
    client, alice, carol, bob, leadership
):
    client.force_login(alice)
    with freeze_time(NOW) as clock:
        assert NINE_AM in offered(client, bob)
        held = session_reserve(
            coach=bob, client=carol, skill=leadership, duration_minutes=60, starts_at=NINE_AM,
            now=NOW, hold_until=NOW + timedelta(minutes=2),
        )  # fmt: skip
        assert NINE_AM not in offered(client, bob)
        assert NINE_AM not in offered(client.__class__(), bob)  # nor for a stranger

        clock.tick(timedelta(minutes=3))  # the hold has lapsed; no sweep has run
        assert NINE_AM in offered(client, bob)
        assert not read_schedules(client, bob)  # the cached copy knew when the hold ended

        # Carol's payment arrives late and still gets the time: the hold was never taken.
        locked = session_hold_lock(session=held)
        assert locked is not None
        session_schedule_held(session=locked, credit=None, now=NOW + timedelta(minutes=3))
        assert NINE_AM not in offered(client, bob)


@freeze_time(NOW)
def test_sessions_and_requests_of_the_coach_or_the_viewer_take_their_time_until_undone(
    client, alice, carol, bob, dora, leadership
):
    client.force_login(alice)
    wallet_post(user=carol, amount=60000, reason="top_up", key="c", now=NOW)
    order_start(
        client=carol, coach=bob, skill=leadership, duration_minutes=60, quantity=5,
        method="wallet", now=NOW,
    )  # fmt: skip
    assert TUESDAY_NINE in offered(client, bob)

    # Carol's proposal holds Bob's Tuesday for everyone until Bob turns it down.
    proposal = request_propose(by=carol, coach=bob, client=carol, starts_at=TUESDAY_NINE, now=NOW)
    assert TUESDAY_NINE not in offered(client, bob)
    request_reject(request=proposal, by=bob.user, now=NOW)
    assert TUESDAY_NINE in offered(client, bob)

    # Alice's own session with Dora, at Bob's Monday nine, is busy time for her only.
    dora.skills.add(leadership)
    dora.availability_windows.update(start_minute=14 * 60, end_minute=20 * 60)
    mine = session_reserve(
        coach=dora, client=alice, skill=leadership, duration_minutes=60, starts_at=NINE_AM, now=NOW
    )
    assert NINE_AM not in offered(client, bob)
    assert NINE_AM in offered(client.__class__(), bob)
    session_cancel(session=mine, by=alice, now=NOW)
    assert NINE_AM in offered(client, bob)


@freeze_time(NOW)
def test_an_admin_edit_of_a_sessions_time_shows_at_once(client, alice, bob, leadership):
    booked = session_reserve(
        coach=bob, client=alice, skill=leadership, duration_minutes=60, starts_at=NINE_AM, now=NOW
    )
    assert NINE_AM not in offered(client, bob) and TUESDAY_NINE in offered(client, bob)

    booked.starts_at, booked.ends_at = TUESDAY_NINE, TUESDAY_NINE + timedelta(hours=1)
    booked.save()  # as the admin's form does

    assert NINE_AM in offered(client, bob) and TUESDAY_NINE not in offered(client, bob)
    Session.objects.filter(pk=booked.pk).get().delete()
    assert TUESDAY_NINE in offered(client, bob)


def test_a_copy_that_does_not_reach_as_far_as_the_page_looks_is_read_again(client, bob):
    with freeze_time(NOW):
        offered(client, bob)
    # Two days on, the copy (still in the cache: a lapse of time the cache did not see) ends
    # before the page's last day.
    with freeze_time(NOW + timedelta(days=2)):
        assert read_schedules(client, bob)
        assert not read_schedules(client, bob)


@freeze_time(NOW)
def test_occupying_keeps_live_sessions_and_unexpired_holds_only(alice, carol, bob, leadership):
    def book(client, start, **hold):
        return session_reserve(
            coach=bob, client=client, skill=leadership, duration_minutes=60, starts_at=start,
            now=NOW - timedelta(minutes=10), **hold,
        )  # fmt: skip

    live = book(alice, NINE_AM)
    held = book(carol, NINE_AM + timedelta(hours=1), hold_until=NOW + timedelta(minutes=5))
    lapsed = book(carol, NINE_AM + timedelta(hours=2), hold_until=NOW - timedelta(minutes=1))

    occupying = set(Session.objects.occupying(NOW).values_list("pk", flat=True))

    assert occupying == {live.pk, held.pk}
    assert lapsed.pk not in occupying
