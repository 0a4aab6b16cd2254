"""Invitations that follow the session: one UID for its whole life, a higher SEQUENCE for
each change, METHOD:CANCEL when it is cancelled. Read from the emails really sent."""

from datetime import timedelta

import pytest
from django.core import mail
from icalendar import Calendar

from ledger.services import wallet_post
from payments.services import order_start
from requests_app.services import RequestError, request_accept, request_propose
from sessions_app.models import Session
from sessions_app.services import session_cancel
from tests.test_session_lifecycle import BOOKED_AT, T

pytestmark = pytest.mark.django_db


def invites(to: str) -> list:
    """The calendar events attached to the emails sent to ``to``, in order:
    (METHOD, the VEVENT)."""
    found = []
    for message in mail.outbox:
        if message.to != [to]:
            continue
        for _name, content, mimetype in message.attachments:
            if mimetype.startswith("text/calendar"):
                calendar = Calendar.from_ical(content)
                (event,) = calendar.walk("VEVENT")
                found.append((str(calendar["METHOD"]), event))
    return found


def test_book_move_cancel_sends_request_0_request_1_cancel_2_under_one_uid(
    alice, bob, leadership, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://hse.example.com"
    wallet_post(user=alice, amount=10000, reason="top_up", key="fund", now=BOOKED_AT)
    with django_capture_on_commit_callbacks(execute=True):
        order_start(
            client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=1,
            method="wallet", starts_at=T, now=BOOKED_AT,
        )  # fmt: skip
    session = Session.objects.get()
    moved_to = T + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        request = request_propose(
            by=bob.user, coach=bob, client=alice, starts_at=moved_to, now=BOOKED_AT,
            target_session=session,
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        request_accept(request=request, by=alice, now=BOOKED_AT + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        session_cancel(session=session, by=alice, now=BOOKED_AT + timedelta(hours=2))

    for person in (alice, bob.user):
        sent = invites(person.email)
        assert [(method, int(event["SEQUENCE"])) for method, event in sent] == [
            ("REQUEST", 0),
            ("REQUEST", 1),
            ("CANCEL", 2),
        ]
        uids = {str(event["UID"]) for _, event in sent}
        assert uids == {f"session-{session.pk}@hse.example.com"}
        assert [str(event["STATUS"]) for _, event in sent] == [
            "CONFIRMED",
            "CONFIRMED",
            "CANCELLED",
        ]
        first, moved, cancelled = (event for _, event in sent)
        assert first.decoded("DTSTART") == T
        assert moved.decoded("DTSTART") == moved_to == cancelled.decoded("DTSTART")
        assert moved.decoded("DTEND") == moved_to + timedelta(hours=1)
        # Times in UTC, the organizer is the site, both people attend, the page is linked.
        assert moved["DTSTART"].to_ical() == moved_to.strftime("%Y%m%dT%H%M%SZ").encode()
        assert str(moved["ORGANIZER"]).startswith("mailto:")
        attendees = {str(a): a.params["PARTSTAT"] for a in moved["ATTENDEE"]}
        assert attendees == {"mailto:alice@example.com": "ACCEPTED",
                             "mailto:bob@example.com": "ACCEPTED"}  # fmt: skip
        assert str(moved["URL"]) == f"https://hse.example.com/sessions/{session.pk}/"
        assert cancelled.decoded("DTSTAMP") == BOOKED_AT + timedelta(hours=2)

    session.refresh_from_db()
    assert session.calendar_sequence == 2
    moved_emails = [m for m in mail.outbox if m.subject.startswith("[HSE] Moved:")]
    assert sorted(m.to[0] for m in moved_emails) == ["alice@example.com", "bob@example.com"]
    assert all("moved to a new time" in m.body for m in moved_emails)


def test_a_refused_move_sends_no_invitation_and_keeps_the_sequence(
    session, alice, bob, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    other = Session.objects.create(
        coach=bob, client=alice, skill=session.skill, duration_minutes=60,
        starts_at=T + timedelta(days=1), ends_at=T + timedelta(days=1, hours=1),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        request = request_propose(
            by=bob.user, coach=bob, client=alice, starts_at=T + timedelta(days=2),
            now=BOOKED_AT, target_session=session,
        )  # fmt: skip
    # The proposed time is taken meanwhile (a session written around the services).
    Session.objects.filter(pk=other.pk).update(
        starts_at=T + timedelta(days=2), ends_at=T + timedelta(days=2, hours=1)
    )
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RequestError, match="no longer free"),
    ):
        request_accept(request=request, by=alice, now=BOOKED_AT + timedelta(hours=1))
    session.refresh_from_db()
    assert session.calendar_sequence == 0
    assert invites(alice.email) == []
