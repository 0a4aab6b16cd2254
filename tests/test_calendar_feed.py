"""Each person's private calendar feed: only their own sessions and open requests, under
the invitations' UIDs; a new address stops the old one at once; anything else is 404."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from freezegun import freeze_time
from icalendar import Calendar

from accounts.models import CalendarFeed
from accounts.services import calendar_feed_renew
from requests_app.services import request_propose
from sessions_app.models import Session
from sessions_app.services import session_cancel
from tests.factories import CoachFactory
from tests.test_session_lifecycle import BOOKED_AT, T

pytestmark = pytest.mark.django_db


def feed_url(user, now=BOOKED_AT) -> str:
    feed = calendar_feed_renew(user=user, now=now)
    return reverse("marketplace:calendar_feed", args=[feed.token])


def events(response) -> dict[str, object]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return {str(e["UID"]): e for e in Calendar.from_ical(response.content).walk("VEVENT")}


def another_session(client, coach, skill, starts_at) -> Session:
    return Session.objects.create(
        coach=coach, client=client, skill=skill, duration_minutes=60, starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
    )  # fmt: skip


@freeze_time(BOOKED_AT + timedelta(hours=1))
def test_the_feed_has_only_the_owners_sessions_and_open_requests(
    client, session, alice, carol, bob, dora, leadership, settings
):
    settings.SITE_URL = "https://hse.example.com"
    dora.skills.add(leadership)
    carols = another_session(carol, bob, leadership, T + timedelta(days=2))
    with_dora = another_session(alice, dora, leadership, T + timedelta(days=3))
    cancelled = another_session(alice, bob, leadership, T + timedelta(days=4))
    session_cancel(session=cancelled, by=alice, now=BOOKED_AT)
    proposal = request_propose(
        by=bob.user, coach=bob, client=alice, starts_at=T + timedelta(days=1), now=BOOKED_AT,
        target_session=session,
    )  # fmt: skip

    alices = events(client.get(feed_url(alice)))
    assert set(alices) == {
        f"session-{session.pk}@hse.example.com",
        f"session-{with_dora.pk}@hse.example.com",
        f"request-{proposal.pk}@hse.example.com",
    }
    booked = alices[f"session-{session.pk}@hse.example.com"]
    assert str(booked["STATUS"]) == "CONFIRMED"
    assert booked.decoded("DTSTART") == T
    proposed = alices[f"request-{proposal.pk}@hse.example.com"]
    assert str(proposed["STATUS"]) == "TENTATIVE"
    assert proposed.decoded("DTSTART") == T + timedelta(days=1)

    bobs = events(client.get(feed_url(bob.user)))
    assert set(bobs) == {
        f"session-{session.pk}@hse.example.com",
        f"session-{carols.pk}@hse.example.com",
        f"request-{proposal.pk}@hse.example.com",
    }
    carols_feed = events(client.get(feed_url(carol)))
    assert set(carols_feed) == {f"session-{carols.pk}@hse.example.com"}


def test_a_new_address_stops_the_old_one_at_once(client, alice):
    old = feed_url(alice)
    assert client.get(old).status_code == 200
    new = feed_url(alice, now=BOOKED_AT + timedelta(minutes=1))
    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert CalendarFeed.objects.count() == 1


def test_bad_addresses_find_nothing(client, alice, carol):
    feed = calendar_feed_renew(user=alice, now=BOOKED_AT)
    carols = calendar_feed_renew(user=carol, now=BOOKED_AT)
    tokens = [
        f"{feed.pk}-{feed.secret[:-1]}",  # one character short
        f"{feed.pk}-{feed.secret}x",
        f"{carols.pk}-{feed.secret}",  # Alice's secret on Carol's feed
        f"{feed.pk}-",
        feed.secret,
        "9" * 40 + "-" + feed.secret,  # an absurd id
        f"{feed.pk}-" + "a" * 5000,
        f"{feed.pk}-{feed.secret}\x00",
    ]
    for token in tokens:
        url = reverse("marketplace:calendar_feed", args=[token])
        assert client.get(url).status_code == 404, token
    assert client.get(f"/calendar/feed/{feed.token}.txt").status_code == 404
    alice.is_active = False
    alice.save()
    assert client.get(reverse("marketplace:calendar_feed", args=[feed.token])).status_code == 404


@freeze_time(BOOKED_AT)
def test_the_feed_reads_a_fixed_number_of_queries(
    client, alice, bob, leadership, django_assert_max_num_queries
):
    url = feed_url(bob.user)
    for day in range(1, 40):
        another_session(alice, bob, leadership, T + timedelta(days=day))
    # The address and its owner, the coach's profile, the sessions, the requests.
    with django_assert_max_num_queries(4):
        found = events(client.get(url))
    assert len(found) == 39


def test_settings_make_and_renew_the_address_with_a_message(client, alice):
    client.force_login(alice)
    page = client.get(reverse("accounts:settings"))
    assert b"Create my calendar address" in page.content
    answer = client.post(reverse("accounts:calendar_feed_new"), follow=True)
    first = CalendarFeed.objects.get(user=alice)
    assert first.token.encode() in answer.content
    assert b"private calendar address is ready" in answer.content
    answer = client.post(reverse("accounts:calendar_feed_new"), follow=True)
    second = CalendarFeed.objects.get(user=alice)
    assert second.secret != first.secret
    assert b"the old one no longer works" in answer.content
    assert second.token.encode() in answer.content and first.token.encode() not in answer.content
    assert client.get(reverse("accounts:calendar_feed_new")).status_code == 405


def test_a_coach_without_a_profile_reads_an_empty_feed(client):
    coach = CoachFactory().user
    assert events(client.get(feed_url(coach))) == {}


def test_admins_list_the_addresses_without_their_secrets(client, alice):
    from tests.factories import UserFactory

    feed = calendar_feed_renew(user=alice, now=BOOKED_AT)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (
        reverse("admin:accounts_calendarfeed_changelist"),
        reverse("admin:accounts_calendarfeed_change", args=[feed.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert feed.secret.encode() not in page.content


@pytest.mark.django_db(transaction=True)
def test_two_first_clicks_at_once_make_one_address(alice):
    """The first click's address is made but not yet committed when the second arrives:
    the second waits for it and renews it, rather than failing on the one-per-person
    constraint."""
    outcome = {}

    def second_click():
        try:
            outcome["feed"] = calendar_feed_renew(user=alice, now=BOOKED_AT)
        except Exception as error:  # what the page would have shown as a 500
            outcome["error"] = error
        finally:
            connection.close()

    with transaction.atomic():
        first = calendar_feed_renew(user=alice, now=BOOKED_AT)
        other = threading.Thread(target=second_click)
        other.start()
        time.sleep(0.5)  # the second click is now waiting on the first's transaction
    other.join(10)
    assert "error" not in outcome, outcome.get("error")
    (feed,) = CalendarFeed.objects.filter(user=alice)
    assert feed.pk == first.pk and feed.secret == outcome["feed"].secret != first.secret
