"""Emails about sessions, to each person in their own zone, after the commit."""

from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from hse import clock, ical
from hse.emails import Attachment, bulk_notifier, send_email_on_commit
from sessions_app.calendar import session_event
from sessions_app.models import Session


def _send(session: Session, *, to, subject: str, kind: str, attachments=(), **extra) -> None:
    other = session.coach.user if to.pk == session.client_id else session.client
    send_email_on_commit(
        attachments=attachments,
        to=to,
        subject=subject,
        template="session_update",
        context={
            "session": session,
            "other": other,
            "kind": kind,
            "url": reverse("sessions:detail", args=[session.pk]),
            **extra,
        },
    )


def session_ended(*, session: Session) -> None:
    _send(
        session,
        to=session.client,
        subject="Your session ended: confirm it or report a problem",
        kind="ended",
        confirm_url=reverse("sessions:confirm", args=[session.pk]),
    )


def post_session(*, session: Session) -> None:
    _send(
        session,
        to=session.client,
        subject=f"Thank you for your session with {session.coach.user.display_name}",
        kind="post_session",
        book_url=reverse("payments:buy", args=[session.coach_id]),
    )


def session_cancelled(*, session: Session, by, credit_returned: bool, now: datetime) -> None:
    """Both people, with the METHOD:CANCEL that takes the event out of their calendars."""
    invite = _invite(session, stamp=now, cancelled=True)
    for person in (session.client, session.coach.user):
        _send(
            session,
            to=person,
            subject="A session was cancelled",
            kind="cancelled",
            by=by,
            credit_returned=credit_returned,
            attachments=(invite,),
        )


def session_moved(*, session: Session, now: datetime) -> None:
    """Both people, with the invitation again at its new time and higher SEQUENCE."""
    invite = _invite(session, stamp=now)
    coach = session.coach.user
    for person, other in ((session.client, coach), (coach, session.client)):
        _send(
            session,
            to=person,
            subject=f"Moved: {session.skill.name} with {other.display_name}",
            kind="moved",
            attachments=(invite,),
        )


def coach_late(*, session: Session) -> None:
    _send(
        session,
        to=session.client,
        subject="Your coach has not started the session yet",
        kind="coach_late",
        room_url=reverse("sessions:room", args=[session.pk]),
    )


def reminder(*, session: Session, minutes: int, now: datetime) -> None:
    """The day-before reminder says when by the calendar of each reader's zone ("today at
    15:00 CET", "tomorrow at 09:00 EST"), never by the hours left: 24 hours ahead may still
    be today."""
    for person in (session.client, session.coach.user):
        if minutes >= 60:
            when = clock.relative_day(session.starts_at, person.zone, now)
        else:
            when = f"in {minutes} minutes"
        _send(session, to=person, subject=f"Reminder: your session starts {when}", kind="reminder")


def report_decided(*, session: Session, report) -> None:
    _send(
        session,
        to=session.client,
        subject="Your report was decided",
        kind="report_decided",
        report=report,
    )


def session_invite(session: Session, *, stamp: datetime, cancelled: bool = False) -> bytes:
    """The session's calendar invitation (``sessions_app.calendar``): METHOD:REQUEST with its
    current SEQUENCE, or METHOD:CANCEL once it is cancelled."""
    return ical.calendar(
        [session_event(session, stamp=stamp, cancelled=cancelled)],
        method="CANCEL" if cancelled else "REQUEST",
    )


def _invite(session: Session, *, stamp: datetime, cancelled: bool = False) -> Attachment:
    content = session_invite(session, stamp=stamp, cancelled=cancelled)
    return Attachment("session.ics", content, "text/calendar")


def booking_confirmation(*, session: Session) -> None:
    # When the invitation was written: it goes out with the booking's commit.
    invite = _invite(session, stamp=timezone.now())
    url = reverse("sessions:detail", args=[session.pk])
    for person, other in (
        (session.client, session.coach.user),
        (session.coach.user, session.client),
    ):
        send_email_on_commit(
            to=person,
            subject=f"Booked: {session.skill.name} with {other.display_name}",
            template="booking_confirmation",
            context={"session": session, "other": other, "url": url},
            attachments=(invite,),
        )


# --- For the sweeps: one notice per batch, written out by the worker --------------------------


def _sessions(ids):
    return Session.objects.filter(pk__in=ids).select_related("coach__user", "client", "skill")


@bulk_notifier
def sessions_ended(ids: list[int]) -> None:
    for session in _sessions(ids):
        session_ended(session=session)


@bulk_notifier
def coaches_late(ids: list[int]) -> None:
    for session in _sessions(ids):
        coach_late(session=session)


@bulk_notifier
def reminders(ids: list[int], *, minutes: int, now: str | None = None) -> None:
    """``now``: the sweep's clock (ISO); a notice written before it passed one reads the
    clock here."""
    at = datetime.fromisoformat(now) if now else timezone.now()
    for session in _sessions(ids):
        reminder(session=session, minutes=minutes, now=at)
