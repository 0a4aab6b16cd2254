"""iCalendar events for sessions and requests, as invitations (emails) and as feeds.

One event per thing, under one UID for its whole life; each change sends it again with a
higher SEQUENCE, so a calendar replaces its copy instead of adding one. Instants are written
in UTC, so every calendar shows them in its own zone. The organizer is the site itself: the
updates come from the address that sent the first invitation."""

from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import urlsplit

from django.conf import settings
from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//HSE coaching//hse//EN"


def site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "hse"


def uid(kind: str, pk: int) -> str:
    """``session-12@hse.example.com``: stable for the row's life, unique to this site."""
    return f"{kind}-{pk}@{site_host()}"


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _address(email: str, name: str, **params) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = vText(value)
    return address


def organizer() -> vCalAddress:
    name, email = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return _address(email or "no-reply@" + site_host(), name or "HSE")


def attendee(user, partstat: str) -> vCalAddress:
    """``partstat``: ACCEPTED, TENTATIVE, NEEDS-ACTION or DECLINED (RFC 5545 3.2.12)."""
    return _address(
        user.email, user.display_name or user.email, role="REQ-PARTICIPANT",
        partstat=partstat, rsvp="FALSE",
    )  # fmt: skip


def event(
    *,
    uid: str,
    sequence: int,
    status: str,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    description: str,
    url: str,
    attendees: list[vCalAddress],
    stamp: datetime,
) -> Event:
    """``status``: CONFIRMED, TENTATIVE or CANCELLED."""
    item = Event()
    item.add("uid", uid)
    item.add("sequence", sequence)
    item.add("status", status)
    item.add("dtstamp", stamp.astimezone(UTC))
    item.add("dtstart", starts_at.astimezone(UTC))
    item.add("dtend", ends_at.astimezone(UTC))
    item.add("summary", summary)
    item.add("description", description)
    item.add("url", url)
    item.add("organizer", organizer())
    for person in attendees:
        item.add("attendee", person)
    item.add("transp", "OPAQUE" if status == "CONFIRMED" else "TRANSPARENT")
    return item


def calendar(events: list[Event], *, method: str | None = None, name: str = "") -> bytes:
    """A VCALENDAR: an invitation with ``method`` (REQUEST, CANCEL), else a feed."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    for item in events:
        cal.add_component(item)
    return cal.to_ical()
