"""What people read about a session's time: both clocks on the session page and in the
emails, the note when their clocks change on different dates, reminders worded from the
reader's calendar, and one moment when a session's confirmation closes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from freezegun import freeze_time

from marketplace.selectors import pending_actions
from requests_app.services import request_propose
from sessions_app import services, sweeps
from sessions_app.lifecycle import confirmation_closes_at, phase
from sessions_app.models import Session
from tests.test_requests import package
from tests.test_session_lifecycle import T

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob_in_new_york(bob):
    """Bob reads his emails and pages in New York (his account's zone, not only his hours')."""
    bob.user.time_zone = "America/New_York"
    bob.user.save(update_fields=["time_zone"])
    return bob


def detail(client, session) -> str:
    return client.get(reverse("sessions:detail", args=[session.pk])).content.decode()


# --- Both clocks and the clock-change note ------------------------------------------------------


def test_the_session_page_shows_both_clocks_and_when_they_change_on_different_dates(
    client, alice, bob_in_new_york, session
):
    # Seen on 20 October: Berlin falls back on 25 October, New York on 1 November.
    client.force_login(alice)
    with freeze_time(datetime(2026, 10, 20, 12, tzinfo=UTC)):
        page = detail(client, session)
    assert '<p class="big-time">Monday 30 November, 15:00–16:00 CET</p>' in page
    assert '<p class="other-clock">09:00–10:00 EST for Bob Coach</p>' in page
    assert (
        "Between now and then, clocks change on different dates for you and Bob Coach: yours on "
        "Sun 25 Oct (CEST to CET), Bob Coach’s on Sun 1 Nov (EDT to EST)."
    ) in page

    # Bob reads it the other way round.
    client.force_login(bob_in_new_york.user)
    with freeze_time(datetime(2026, 10, 20, 12, tzinfo=UTC)):
        page = detail(client, session)
    assert '<p class="big-time">Monday 30 November, 09:00–10:00 EST</p>' in page
    assert '<p class="other-clock">15:00–16:00 CET for Alice Client</p>' in page
    assert "yours on Sun 1 Nov (EDT to EST), Alice Client’s on Sun 25 Oct (CEST to CET)" in page

    # Once both have changed, nothing more to say.
    with freeze_time(datetime(2026, 11, 10, 12, tzinfo=UTC)):
        page = detail(client, session)
    assert "clocks change" not in page
    assert '<p class="other-clock">15:00–16:00 CET for Alice Client</p>' in page


def test_one_clock_when_both_people_read_the_same_time(client, alice, bob, session):
    bob.user.time_zone = "Europe/Paris"
    bob.user.save(update_fields=["time_zone"])
    client.force_login(alice)
    with freeze_time(T - timedelta(days=1)):
        page = detail(client, session)
    assert '<p class="other-clock">the same time for Bob Coach</p>' in page


def test_session_and_request_emails_show_both_clocks_and_the_note(
    alice, bob_in_new_york, leadership, mailoutbox, django_capture_on_commit_callbacks
):
    sent = datetime(2026, 10, 19, 10, tzinfo=UTC)  # before both October changes
    starts = datetime(2026, 11, 2, 15, tzinfo=UTC)  # a Monday: 16:00 CET, 10:00 EST
    package(alice, bob_in_new_york, leadership)
    with freeze_time(sent), django_capture_on_commit_callbacks(execute=True):
        request_propose(by=alice, coach=bob_in_new_york, client=alice, starts_at=starts, now=sent)
    to_bob = mailoutbox[-1]
    assert to_bob.to == [bob_in_new_york.user.email]
    assert "Monday 2 November, 10:00–11:00 EST for you · 16:00–17:00 CET for Alice Client" in (
        to_bob.body
    )
    assert (
        "Between now and then, clocks change on different dates for you and Alice Client: yours "
        "on Sun 1 Nov (EDT to EST), Alice Client’s on Sun 25 Oct (CEST to CET)."
    ) in to_bob.body
    html = to_bob.alternatives[0][0]
    assert "10:00–11:00 EST for you · 16:00–17:00 CET for Alice Client" in html
    assert "clocks change on different dates" in html
    # The deadline is the reader's: a day before the start (the client sent it), in EST.
    assert "Please answer by Sun 1 Nov, 10:00 EST;" in to_bob.body


# --- Reminders ----------------------------------------------------------------------------------


def test_the_day_before_reminder_says_today_for_a_session_later_the_same_day(
    alice, bob_in_new_york, session, mailoutbox, django_capture_on_commit_callbacks
):
    # 00:30 UTC on the session's day: 01:30 in Berlin (the same day), 19:30 the evening
    # before in New York. Fewer than 24 hours ahead: the day-before reminder is due.
    now = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    with freeze_time(now), django_capture_on_commit_callbacks(execute=True):
        assert sweeps.reminders_send_due(now=now) == 1
    subjects = {m.to[0]: m.subject for m in mailoutbox if "Reminder" in m.subject}
    assert subjects == {
        "alice@example.com": "[HSE] Reminder: your session starts today at 15:00 CET",
        "bob@example.com": "[HSE] Reminder: your session starts tomorrow at 09:00 EST",
    }
    to_alice = next(m for m in mailoutbox if m.to == ["alice@example.com"])
    assert "Monday 30 November, 15:00–16:00 CET for you · 09:00–10:00 EST for Bob Coach" in (
        to_alice.body
    )

    # The starting-soon one counts minutes.
    mailoutbox.clear()
    soon = T - timedelta(minutes=10)
    with freeze_time(soon), django_capture_on_commit_callbacks(execute=True):
        assert sweeps.reminders_send_due(now=soon) == 1
    assert {m.subject for m in mailoutbox} == {"[HSE] Reminder: your session starts in 15 minutes"}


# --- When confirmation closes -------------------------------------------------------------------


def test_an_unstarted_session_waits_for_confirmation_until_its_end_plus_15_min_plus_72_h(
    client, alice, bob, session
):
    # The coach came to the lobby and never started (the client did not come): it counts as
    # held. Without any trace of the coach it would be given back instead (issue 22).
    services.session_enter_lobby(session=session, by=bob.user, now=T)
    closes = session.ends_at + timedelta(minutes=15) + timedelta(hours=72)
    assert confirmation_closes_at(session) == closes
    client.force_login(alice)

    just_before = closes - timedelta(seconds=1)
    with freeze_time(just_before):
        # The pending actions, the page and the phase agree before any sweep has run...
        waiting = pending_actions(user=alice, now=just_before).to_confirm
        assert [s.pk for s in waiting] == [session.pk] and waiting[0].confirm_by == closes
        assert phase(session, just_before).can_confirm
        assert "You can confirm or report it until Thu 3 Dec, 16:15 CET;" in detail(client, session)
        pending = client.get(reverse("marketplace:pending")).content.decode()
        assert "Confirm or report by Thu 3 Dec, 16:15 CET;" in pending
        confirm = client.get(reverse("sessions:confirm", args=[session.pk])).content.decode()
        assert "You can confirm or report it until Thu 3 Dec, 16:15 CET;" in confirm
        # ...and after the sweep ended it, the auto-confirm sweep still waits.
        assert sweeps.sessions_auto_end_due(now=just_before) == 1
        assert sweeps.sessions_auto_confirm_due(now=just_before) == 0
        session.refresh_from_db()
        assert confirmation_closes_at(session) == closes
        assert [s.pk for s in pending_actions(user=alice, now=just_before).to_confirm] == [
            session.pk
        ]

    with freeze_time(closes):
        assert pending_actions(user=alice, now=closes).to_confirm == []
        assert phase(session, closes).status == Session.Status.CONFIRMED
        assert sweeps.sessions_auto_confirm_due(now=closes) == 1
        assert sweeps.sessions_auto_confirm_due(now=closes) == 0
    session.refresh_from_db()
    assert session.status == Session.Status.CONFIRMED


def test_before_any_sweep_the_pending_list_keeps_the_session_until_confirmation_closes(
    alice, session
):
    closes = confirmation_closes_at(session)
    # The sweeps never ran: the session is still "scheduled" in its row.
    for now, listed in ((closes - timedelta(minutes=1), True), (closes, False)):
        with freeze_time(now):
            waiting = pending_actions(user=alice, now=now).to_confirm
        assert bool(waiting) is listed, now
    # An hour before the old cut (end + 72 h) it had already gone; now it stays till the close.
    old_cut = session.ends_at + timedelta(hours=72)
    assert [s.pk for s in pending_actions(user=alice, now=old_cut).to_confirm] == [session.pk]


def test_a_session_the_coach_ended_closes_72_h_after_it_ended(alice, bob, session):
    services.session_start(session=session, by=bob.user, now=T)
    ended_at = T + timedelta(minutes=40)
    services.session_end(session=session, by=bob.user, now=ended_at)
    session.refresh_from_db()
    closes = ended_at + timedelta(hours=72)
    assert confirmation_closes_at(session) == closes
    assert pending_actions(user=alice, now=closes - timedelta(seconds=1)).to_confirm
    assert not pending_actions(user=alice, now=closes).to_confirm
    assert sweeps.sessions_auto_confirm_due(now=closes - timedelta(seconds=1)) == 0
    assert sweeps.sessions_auto_confirm_due(now=closes) == 1
