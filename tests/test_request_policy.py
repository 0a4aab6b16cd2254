"""response_deadline at every boundary of SPEC section 4's table, for both sender roles."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from requests_app.policy import RequestPolicyError, response_deadline

START = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)


def deadline(hours_before: float, role: str, start: datetime = START) -> timedelta:
    """How long before the start the answer is due, for a proposal sent that many hours ahead."""
    sent = start - timedelta(hours=hours_before)
    return start - response_deadline(sent_at=sent, start=start, sender_role=role)


@pytest.mark.parametrize("role", ["client", "coach"])
@pytest.mark.parametrize("hours", [0, 1, 23, 23 + 59 / 60, 24 - 1 / 3600])
def test_less_than_24_hours_is_refused_with_a_reason(role, hours):
    with pytest.raises(RequestPolicyError, match="at least 24 hours' notice"):
        deadline(hours, role)


@pytest.mark.parametrize(
    ("hours", "client_due", "coach_due"),
    [
        (24, 8, 16),
        (47 + 59 / 60, 8, 16),
        (48, 16, 32),
        (71 + 59 / 60, 16, 32),
        (72, 24, 48),
        (7 * 24, 24, 48),
        (30 * 24, 24, 48),
    ],
)
def test_each_bucket_of_the_table(hours, client_due, coach_due):
    assert deadline(hours, "client") == timedelta(hours=client_due)
    assert deadline(hours, "coach") == timedelta(hours=coach_due)


@pytest.mark.parametrize("role", ["client", "coach"])
@pytest.mark.parametrize("hours", [24, 30, 47.99, 48, 60, 71.99, 72, 100, 24 * 30])
def test_the_receiver_always_has_at_least_eight_hours(role, hours):
    sent = START - timedelta(hours=hours)
    due = response_deadline(sent_at=sent, start=START, sender_role=role)
    assert due - sent >= timedelta(hours=8)
    assert due < START


@pytest.mark.parametrize(
    ("zone", "start_local"),
    [
        # Berlin springs forward on 29 March 2026 at 02:00: from Saturday noon to Sunday
        # noon, wall clocks say 24 hours but only 23 real hours pass.
        ("Europe/Berlin", datetime(2026, 3, 29, 12, 0)),
        # New York falls back on 1 November 2026: that span holds 25 real hours.
        ("America/New_York", datetime(2026, 11, 1, 12, 0)),
    ],
)
def test_hours_are_real_elapsed_hours_across_a_dst_change(zone, start_local):
    start = start_local.replace(tzinfo=ZoneInfo(zone))
    same_wall_time_day_before = start_local - timedelta(days=1)
    sent = same_wall_time_day_before.replace(tzinfo=ZoneInfo(zone))

    real_hours = (start.astimezone(UTC) - sent.astimezone(UTC)).total_seconds() / 3600
    if real_hours < 24:
        with pytest.raises(RequestPolicyError):
            response_deadline(sent_at=sent, start=start, sender_role="client")
    else:
        due = response_deadline(sent_at=sent, start=start, sender_role="client")
        assert start - due == timedelta(hours=8)
        # Eight real hours, even if the wall clock says otherwise.
        assert (start.astimezone(UTC) - due.astimezone(UTC)) == timedelta(hours=8)
    assert real_hours in (23, 25)

    # Sent exactly 24 real hours ahead: accepted, due 16 real hours before for a coach.
    sent = start.astimezone(UTC) - timedelta(hours=24)
    due = response_deadline(sent_at=sent, start=start, sender_role="coach")
    assert start - due == timedelta(hours=16)


def test_an_unknown_role_is_a_programming_error():
    with pytest.raises(ValueError):
        response_deadline(sent_at=START - timedelta(days=5), start=START, sender_role="admin")
