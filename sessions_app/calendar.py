"""A session as a calendar event (``hse.ical``): the same UID in every invitation and in
every feed, with the SEQUENCE stored on the session."""

from datetime import datetime

from django.conf import settings
from django.urls import reverse

from hse import ical
from sessions_app.models import Session


def session_uid(session: Session) -> str:
    return ical.uid("session", session.pk)


def session_event(session: Session, *, stamp: datetime, cancelled: bool = False):
    """The event of ``session`` (its coach's user, client and skill loaded)."""
    coach, client = session.coach.user, session.client
    status = "CANCELLED" if cancelled else "CONFIRMED"
    partstat = "DECLINED" if cancelled else "ACCEPTED"
    return ical.event(
        uid=session_uid(session),
        sequence=session.calendar_sequence,
        status=status,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        summary=f"{session.skill.name} coaching: {coach.display_name} and {client.display_name}",
        description=(
            "Join from the session's page on HSE: Enter room opens "
            f"{settings.HSE_ROOM_OPENS_MINUTES_BEFORE} minutes before."
        ),
        url=ical.absolute(reverse("sessions:detail", args=[session.pk])),
        attendees=[ical.attendee(coach, partstat), ical.attendee(client, partstat)],
        stamp=stamp,
    )
