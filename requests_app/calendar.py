"""An open request as a TENTATIVE calendar event (``hse.ical``), for people's private feeds.
Requests are not sent as invitations: a feed drops one as soon as it closes, where an
emailed copy would stay in the calendar of whoever answered it in the app."""

from datetime import datetime

from django.urls import reverse

from hse import ical
from requests_app.models import SessionRequest


def request_event(request: SessionRequest, *, stamp: datetime, sequence: int = 0):
    """``sequence``: how many times the request was proposed anew (adjusted)."""
    coach, client = request.coach.user, request.client
    what = "New time proposed" if request.is_reschedule else "Proposed"
    proposer = coach if request.proposed_by_id == coach.pk else client
    return ical.event(
        uid=ical.uid("request", request.pk),
        sequence=sequence,
        status="TENTATIVE",
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        summary=f"{what}: {request.skill.name} coaching, {coach.display_name} and "
        f"{client.display_name}",
        description=f"Proposed by {proposer.display_name}, waiting for an answer on HSE.",
        url=ical.absolute(reverse("requests:detail", args=[request.pk])),
        attendees=[
            ical.attendee(person, "ACCEPTED" if person.pk == proposer.pk else "NEEDS-ACTION")
            for person in (coach, client)
        ],
        stamp=stamp,
    )
