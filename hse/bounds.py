"""Bounds on what a visitor can send: dates and numbers arrive as text, and a year 9999 or a
number of five thousand digits must end as a message, never as an overflow. The booking
horizon (HSE_BOOKING_HORIZON_DAYS) is how far ahead anything may be booked, proposed or
taken off; the services refuse what lies beyond it with a message."""

from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.utils import formats

# What any instant or date we accept must lie within: far wider than the horizon, and narrow
# enough that adding a day or converting between zones never leaves Python's range.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)


def instant_ok(value: datetime) -> bool:
    return EARLIEST <= value <= LATEST


def day_ok(value: date) -> bool:
    return EARLIEST.date() <= value <= LATEST.date()


def small_int(text, *, digits: int = 9) -> int | None:
    """An integer written with at most ``digits`` digits (ids, counts, minutes), else None."""
    text = str(text or "").strip()
    return int(text) if text.isdigit() and text.isascii() and len(text) <= digits else None


def horizon(now: datetime) -> datetime:
    """The last instant that may be booked, proposed or taken off."""
    return now + timedelta(days=settings.HSE_BOOKING_HORIZON_DAYS)


def beyond_horizon(when: datetime, now: datetime) -> str:
    """A message if ``when`` lies past the booking horizon, else ""."""
    if when <= horizon(now):
        return ""
    last = formats.date_format(horizon(now), "j F Y")
    return (
        f"That is too far ahead: times can be chosen up to {settings.HSE_BOOKING_HORIZON_DAYS} "
        f"days ahead (until {last})."
    )
