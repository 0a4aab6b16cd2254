"""When a request must be answered by (SPEC section 4). Pure: no database, no clock."""

from datetime import UTC, datetime, timedelta

from django.conf import settings


class RequestPolicyError(Exception):
    """The request breaks the notice rule; the message is for people."""


def response_deadline(*, sent_at: datetime, start: datetime, sender_role: str) -> datetime:
    """The moment after which an unanswered proposal is cancelled automatically.

    The hours are real elapsed hours (aware instants subtract in UTC), so a DST change
    neither stretches nor shrinks them. The table's rows are lower bounds: "when 48 hours
    remain" applies from 48 hours up to (not including) 72."""
    if sender_role not in ("client", "coach"):
        raise ValueError(f"unknown sender role {sender_role!r}")
    # In UTC: Python subtracts two datetimes of one zone by their wall clocks.
    start, sent_at = start.astimezone(UTC), sent_at.astimezone(UTC)
    remaining = start - sent_at
    minimum = timedelta(hours=settings.HSE_REQUEST_MIN_NOTICE_HOURS)
    if remaining < minimum:
        raise RequestPolicyError(
            f"Requests need at least {settings.HSE_REQUEST_MIN_NOTICE_HOURS} hours' notice. "
            "Pick a later time, or book an open slot directly."
        )
    for at_least_hours, before_start in settings.HSE_REQUEST_DEADLINES:
        if remaining >= timedelta(hours=at_least_hours):
            return start - timedelta(hours=before_start[sender_role])
    raise RequestPolicyError("No deadline rule covers this request.")  # pragma: no cover
