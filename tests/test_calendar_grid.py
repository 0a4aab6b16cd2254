"""The Calendar tab: every session in any state and every request (with its deadline), each
state in a colour and in words, the week as an hour grid in the viewer's zone, bounded query
parameters, and only the viewer's own items."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from freezegun import freeze_time

from requests_app.models import SessionRequest
from sessions_app.models import Session
from tests.factories import CoachFactory, SkillFactory

pytestmark = pytest.mark.django_db
CALENDAR = reverse("marketplace:calendar")
NOW = datetime(2026, 10, 28, 12, 0, tzinfo=UTC)  # a Wednesday


def book(coach, client_user, skill, starts_at, status=Session.Status.SCHEDULED, **extra):
    return Session.objects.create(
        coach=coach, client=client_user, skill=skill, duration_minutes=60, starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1), status=status, **extra,
    )  # fmt: skip


def ask(coach, client_user, skill, starts_at, *, deadline, status=SessionRequest.Status.PENDING):
    return SessionRequest.objects.create(
        coach=coach, client=client_user, skill=skill, duration_minutes=60, starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1), deadline=deadline, status=status,
        proposed_by=client_user, sent_at=NOW - timedelta(days=3),
        created_at=NOW - timedelta(days=3),
    )  # fmt: skip


def items_of(response) -> list:
    return [item for _, day_items in response.context["days"] for item in day_items]


def event_styles(response) -> dict[str, str]:
    """{item url: its style} of the week grid's events."""
    return {
        event.item.url: event.style
        for _, events in response.context["grid"].columns
        for event in events
    }


def percent(style: str, name: str) -> float:
    return float(re.search(rf"{name}:([\d.]+)%", style).group(1))


@freeze_time(NOW)
def test_the_week_shows_past_cancelled_and_running_sessions_and_requests_with_deadlines(
    client, alice, bob, leadership
):
    monday = datetime(2026, 10, 26, 14, 0, tzinfo=UTC)
    confirmed = book(bob, alice, leadership, monday, Session.Status.CONFIRMED)
    cancelled = book(bob, alice, leadership, monday + timedelta(days=1), Session.Status.CANCELLED)
    # Over, never ended by anyone: the page says what the clock makes of it.
    ended = book(bob, alice, leadership, NOW - timedelta(hours=3))
    coming = book(bob, alice, leadership, NOW + timedelta(days=1))
    waiting = ask(bob, alice, leadership, NOW + timedelta(days=2), deadline=NOW + timedelta(days=1))
    closed = ask(
        bob, alice, leadership, NOW + timedelta(days=3), deadline=NOW - timedelta(hours=1),
        status=SessionRequest.Status.REJECTED,
    )  # fmt: skip
    client.force_login(alice)

    response = client.get(CALENDAR, {"date": "2026-10-28"})

    body = response.content.decode()
    found = {item.url: (item.tone, item.status_label) for item in items_of(response)}
    assert found == {
        reverse("sessions:detail", args=[confirmed.pk]): ("done", "Confirmed"),
        reverse("sessions:detail", args=[cancelled.pk]): ("closed", "Cancelled"),
        reverse("sessions:detail", args=[ended.pk]): ("ended", "Ended, to confirm"),
        reverse("sessions:detail", args=[coming.pk]): ("scheduled", "Scheduled"),
        reverse("requests:detail", args=[waiting.pk]): ("request", "Request, waiting"),
        reverse("requests:detail", args=[closed.pk]): ("request-closed", "Request rejected"),
    }
    # The deadline of the open request, in Alice's zone; the closed one has none.
    assert "Request, waiting, answer by Thu 29 Oct, 13:00 CET" in body
    assert "Request rejected, answer by" not in body
    # Colour is never the only sign: each state in words, and a legend.
    for words in ("Confirmed", "Cancelled", "Ended, to confirm", "Request waiting for an answer"):
        assert words in body


@freeze_time(NOW)
def test_the_week_grid_places_events_at_their_local_hours_across_the_clock_change(
    client, alice, bob, leadership
):
    # Berlin's clocks go back on Sunday 25 Oct 2026: 10:00 is 08:00 UTC on Monday the 19th
    # and 09:00 UTC on Sunday the 25th. Both sit on the 10:00 line of Alice's grid.
    before = book(bob, alice, leadership, datetime(2026, 10, 19, 8, 0, tzinfo=UTC))
    after = book(bob, alice, leadership, datetime(2026, 10, 25, 9, 0, tzinfo=UTC))
    # 01:30 CET on the 25th comes after 02:30 CEST → 02:00 CET: an hour long on any clock.
    repeated = book(bob, alice, leadership, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    client.force_login(alice)

    response = client.get(CALENDAR, {"date": "2026-10-21"})

    grid = response.context["grid"]
    styles = event_styles(response)
    first = grid.hours[0]
    assert first == 2 and grid.hours[-1] == 21  # widened from 06:00 to show the 02:30 one
    span = len(grid.hours) * 60
    for session in (before, after):
        style = styles[reverse("sessions:detail", args=[session.pk])]
        assert percent(style, "top") == pytest.approx((10 - first) * 60 / span * 100, abs=0.01)
        assert percent(style, "height") == pytest.approx(60 / span * 100, abs=0.01)
    columns = [day for day, events in grid.columns for _ in events]
    assert columns.count(datetime(2026, 10, 25).date()) == 2
    style = styles[reverse("sessions:detail", args=[repeated.pk])]
    assert percent(style, "top") == pytest.approx((2.5 - first) * 60 / span * 100, abs=0.01)
    assert percent(style, "height") == pytest.approx(60 / span * 100, abs=0.01)
    assert "02:30 CEST – 02:30 CET" in response.content.decode()


@freeze_time(NOW)
def test_overlapping_items_share_their_column_and_a_late_one_widens_the_grid(
    client, alice, bob, leadership
):
    evening = datetime(2026, 10, 28, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
    session = book(bob, alice, leadership, evening, Session.Status.CANCELLED)
    proposal = ask(bob, alice, leadership, evening, deadline=NOW + timedelta(hours=5))
    client.force_login(alice)

    response = client.get(CALENDAR)

    assert response.context["grid"].hours[-1] == 23
    styles = event_styles(response)
    one = styles[reverse("sessions:detail", args=[session.pk])]
    other = styles[reverse("requests:detail", args=[proposal.pk])]
    assert percent(one, "width") == percent(other, "width") == 50
    assert {percent(one, "left"), percent(other, "left")} == {0, 50}


@freeze_time(NOW)
def test_only_the_viewers_items_are_shown(client, alice, carol, bob, leadership):
    mine = book(bob, alice, leadership, NOW + timedelta(days=1))
    dora = CoachFactory(user__display_name="Dora Coach", skills=[SkillFactory()])
    theirs = book(dora, carol, leadership, NOW + timedelta(days=1, hours=2))
    ask(dora, carol, leadership, NOW + timedelta(days=2), deadline=NOW + timedelta(days=1))

    for person, expected in ((alice, [mine]), (bob.user, [mine]), (carol, [theirs])):
        client.force_login(person)
        response = client.get(CALENDAR)
        urls = [item.url for item in items_of(response)]
        if person == carol:
            assert len(urls) == 2 and reverse("sessions:detail", args=[theirs.pk]) in urls
        else:
            assert urls == [reverse("sessions:detail", args=[s.pk]) for s in expected]
    client.force_login(dora.user)
    assert reverse("sessions:detail", args=[mine.pk]) not in client.get(CALENDAR).content.decode()


@freeze_time(NOW)
@pytest.mark.parametrize("view", ["week", "month"])
def test_the_calendar_costs_the_same_queries_for_a_few_items_or_many(
    client, alice, bob, leadership, view, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    book(bob, alice, leadership, NOW + timedelta(days=1))
    client.get(CALENDAR, {"view": view})  # the header's count is kept after the first
    with CaptureQueriesContext(connection) as few:
        client.get(CALENDAR, {"view": view})
    for hours in range(1, 30):
        status = [Session.Status.CONFIRMED, Session.Status.CANCELLED][hours % 2]
        book(bob, alice, leadership, NOW - timedelta(hours=hours * 2), status)
        ask(bob, alice, leadership, NOW + timedelta(hours=hours * 2 + 1),
            deadline=NOW + timedelta(hours=hours))  # fmt: skip

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(CALENDAR, {"view": view})
    assert len(items_of(response)) == 59
    assert len(few.captured_queries) <= 10


@freeze_time(NOW)
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"view": "year"}, "A calendar shows a week or a month"),
        ({"view": "x" * 5000}, "A calendar shows a week or a month"),
        ({"date": "2026-02-30"}, "That date is not valid"),
        ({"date": "-1"}, "That date is not valid"),
        ({"view": "week\x00", "date": "2026-10-28\x00"}, "A calendar shows a week or a month"),
    ],
)
def test_bad_calendar_parameters_are_a_message(client, alice, query, message):
    client.force_login(alice)

    response = client.get(CALENDAR, query)

    assert response.status_code == 200
    assert message in response.content.decode()


@freeze_time(NOW)
@pytest.mark.parametrize("view", ["week", "month"])
def test_the_last_week_or_month_we_show_sends_back_to_today_with_a_message(client, alice, view):
    client.force_login(alice)

    response = client.get(CALENDAR, {"view": view, "date": "2999-12-31"}, follow=True)

    assert response.redirect_chain[-1][0] == f"{CALENDAR}?view={view}"
    assert "That date is not valid; showing today." in response.content.decode()
    assert response.context["anchor"] == NOW.date()


@freeze_time(NOW)
def test_today_previous_and_next_links(client, alice):
    client.force_login(alice)

    body = client.get(CALENDAR, {"date": "2027-03-03"}).content.decode()

    assert 'href="?view=week"' in body  # Today
    assert 'href="?view=week&amp;date=2027-02-22"' in body
    assert 'href="?view=week&amp;date=2027-03-08"' in body
