"""Emails about sessions, to each person in their own zone, after the commit."""

from datetime import UTC

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event

from hse.emails import Attachment, bulk_notifier, send_email_on_commit
from sessions_app.models import Session


def _send(session: Session, *, to, subject: str, kind: str, **extra) -> None:
    other = session.coach.user if to.pk == session.client_id else session.client
    send_email_on_commit(
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


def session_cancelled(*, session: Session, by, credit_returned: bool) -> None:
    for person in (session.client, session.coach.user):
        _send(
            session,
            to=person,
            subject="A session was cancelled",
            kind="cancelled",
            by=by,
            credit_returned=credit_returned,
        )


def coach_late(*, session: Session) -> None:
    _send(
        session,
        to=session.client,
        subject="Your coach has not started the session yet",
        kind="coach_late",
        room_url=reverse("sessions:room", args=[session.pk]),
    )


def reminder(*, session: Session, minutes: int) -> None:
    when = "tomorrow" if minutes >= 12 * 60 else f"in {minutes} minutes"
    for person in (session.client, session.coach.user):
        _send(session, to=person, subject=f"Reminder: your session starts {when}", kind="reminder")


def report_decided(*, session: Session, report) -> None:
    _send(
        session,
        to=session.client,
        subject="Your report was decided",
        kind="report_decided",
        report=report,
    )


def session_invite(session: Session) -> bytes:
    """An iCalendar invitation; instants in UTC, so every calendar shows its own zone."""
    calendar = Calendar()
    calendar.add("prodid", "-//HSE coaching//hse//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"session-{session.pk}@hse")
    event.add("dtstamp", session.created_at.astimezone(UTC))
    event.add("dtstart", session.starts_at.astimezone(UTC))
    event.add("dtend", session.ends_at.astimezone(UTC))
    event.add(
        "summary",
        f"{session.skill.name} coaching: {session.coach.user.display_name} and "
        f"{session.client.display_name}",
    )
    event.add(
        "description",
        "Join from the Sessions page on HSE: Enter room opens "
        f"{settings.HSE_ROOM_OPENS_MINUTES_BEFORE} minutes before.",
    )
    calendar.add_component(event)
    return calendar.to_ical()


def booking_confirmation(*, session: Session) -> None:
    invite = Attachment("session.ics", session_invite(session), "text/calendar")
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
def reminders(ids: list[int], *, minutes: int) -> None:
    for session in _sessions(ids):
        reminder(session=session, minutes=minutes)
