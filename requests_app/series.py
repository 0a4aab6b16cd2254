"""Weekly series: "every Tuesday at 18:00 for the next N credits", planned before it is sent.

The client names weekdays and times on their own clock for the first week; each is turned
into the coach's wall time of that first occurrence, and the weeks after keep the coach's
wall time (a clock change moves the client's time instead, and the plan says so). Reads
only: the request is written by ``services.series_propose``."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from django.conf import settings

from accounts.models import User
from coaching.availability import local_instant, slot_starts
from coaching.models import CoachProfile
from coaching.selectors import busy_intervals
from hse.bounds import beyond_horizon, horizon
from hse.clock import local_time


@dataclass(frozen=True)
class WeeklyTime:
    """A weekday (0 is Monday) and minutes after midnight, on the client's clock."""

    weekday: int
    minute: int


@dataclass
class Occurrence:
    position: int
    starts_at: datetime | None  # None: the coach's wall time does not exist that day
    ends_at: datetime | None
    coach_day: date
    conflict: str = ""
    shifted: bool = False  # the client's wall time differs from the one they chose
    replaced: bool = False  # the client picked another time for this one


def _first_local_day(first_day: date, weekday: int) -> date:
    return first_day + timedelta(days=(weekday - first_day.weekday()) % 7)


def expand(
    *,
    times: list[WeeklyTime],
    first_day: date,
    count: int,
    duration_minutes: int,
    client_zone: tzinfo,
    coach_zone: tzinfo,
) -> list[Occurrence]:
    """The first ``count`` occurrences of ``times`` from ``first_day`` (the client's date),
    in order. Each weekly time is read on the client's clock in its first week, then kept on
    the coach's clock week after week."""
    duration = timedelta(minutes=duration_minutes)
    found: list[tuple[datetime, int, Occurrence]] = []
    for stream, weekly in enumerate(times):
        day = _first_local_day(first_day, weekly.weekday)
        first = None
        for _ in range(3):  # a wall time missing in the spring gap: the next week has it
            first = local_instant(day, weekly.minute, client_zone)
            if first is not None:
                break
            day += timedelta(days=7)
        if first is None:  # pragma: no cover (no zone skips the same hour three weeks running)
            continue
        on_coach = local_time(first, coach_zone)
        coach_minute = on_coach.hour * 60 + on_coach.minute
        for week in range(count):
            coach_day = on_coach.date() + timedelta(days=7 * week)
            starts = local_instant(coach_day, coach_minute, coach_zone)
            occurrence = Occurrence(
                position=0,
                starts_at=starts,
                ends_at=starts + duration if starts else None,
                coach_day=coach_day,
                shifted=starts is not None
                and _minute(local_time(starts, client_zone)) != weekly.minute,
            )
            # Order by the instant, or by the coach's wall time where the day has none.
            key = starts or (
                datetime.combine(coach_day, datetime.min.time()).replace(tzinfo=first.tzinfo)
                + timedelta(minutes=coach_minute)
            )
            found.append((key, stream, occurrence))
    found.sort(key=lambda row: (row[0], row[1]))
    chosen = [occurrence for _, _, occurrence in found[:count]]
    for position, occurrence in enumerate(chosen, start=1):
        occurrence.position = position
    return chosen


def _minute(local: datetime) -> int:
    return local.hour * 60 + local.minute


def notice(coach: CoachProfile) -> timedelta:
    """How far ahead a series' times must lie: the coach's minimum notice, and a request's."""
    return max(
        timedelta(minutes=coach.minimum_notice_minutes),
        timedelta(hours=settings.HSE_REQUEST_MIN_NOTICE_HOURS),
    )


def _gap(at: datetime, coach_zone: tzinfo, client_zone: tzinfo) -> timedelta:
    """How far the client's clock is ahead of the coach's at ``at``."""
    return local_time(at, client_zone).utcoffset() - local_time(at, coach_zone).utcoffset()


def moved(*, starts: list[datetime], durations: list[int], to: datetime, coach_zone, client_zone):
    """New times for a series' sessions (``starts``, in order, lasting ``durations``
    minutes) moving together: the first to ``to``, each later one by the same change of the
    coach's wall time (days and minutes), so a Tuesday and a Thursday at different hours
    both move alike and keep their own hours and lengths. ``shifted``: a clock change puts
    the client's time elsewhere than the first one's gap between their clocks."""
    first = local_time(starts[0], coach_zone).replace(tzinfo=None)
    change = local_time(to, coach_zone).replace(tzinfo=None) - first
    gap = _gap(to, coach_zone, client_zone)
    occurrences = []
    for position, (old, minutes) in enumerate(zip(starts, durations, strict=True), start=1):
        wall = local_time(old, coach_zone).replace(tzinfo=None) + change
        coach_day = wall.date()
        at = to if position == 1 else local_instant(coach_day, _minute(wall), coach_zone)
        occurrences.append(
            Occurrence(
                position=position,
                starts_at=at,
                ends_at=at + timedelta(minutes=minutes) if at else None,
                coach_day=coach_day,
                shifted=at is not None and _gap(at, coach_zone, client_zone) != gap,
            )
        )
    return occurrences


def check(
    *,
    coach: CoachProfile,
    client: User,
    duration_minutes: int,
    occurrences: list[Occurrence],
    now: datetime,
    moving: list[int] | None = None,
) -> list[Occurrence]:
    """Fills in each occurrence's ``conflict`` ("" when it is free): a time that does not
    exist on the coach's clock, beyond the horizon, too soon, outside the coach's hours, in
    their time off (or their calendars' busy times), taken (a session, hold or open request
    of either person), or overlapping an earlier time of the series. Two reads of the busy
    times for the whole series. Each time lasts until its own ``ends_at`` (``duration_minutes``
    where it has none). ``moving``: the sessions these times replace (a series moving
    together), which do not stand in their own way."""
    duration = timedelta(minutes=duration_minutes)
    for occurrence in occurrences:  # each keeps its own length; the default where unset
        if occurrence.starts_at is not None and occurrence.ends_at is None:
            occurrence.ends_at = occurrence.starts_at + duration
    windows = [
        (window.weekday, window.start_minute, window.end_minute)
        for window in coach.availability_windows.all()
    ]
    busy, away = [], []
    reachable = [o for o in occurrences if o.starts_at is not None and o.starts_at <= horizon(now)]
    if reachable:
        # Nothing before now can stand in the way of a time that must lie ahead anyway.
        start = max(min(o.starts_at for o in reachable), now)
        end = max(max(o.ends_at for o in reachable), start)
        busy = busy_intervals(
            coach=coach, client=client, start=start, end=end, now=now,
            ignore={"sessions": list(moving)} if moving else None,
        )  # fmt: skip
        # The coach's own time: time off and their calendars' busy times, without bookings.
        away = busy_intervals(
            coach=coach, start=start, end=end, now=now, skip=("sessions", "requests", "series")
        )
    earliest = now + notice(coach)
    grid = settings.HSE_SLOT_GRID_MINUTES
    name = coach.user.display_name
    kept: list[tuple[datetime, datetime]] = []
    for occurrence in occurrences:
        starts, ends = occurrence.starts_at, occurrence.ends_at
        if starts is None:
            occurrence.conflict = f"That time does not exist on {name}’s clock that day."
        elif beyond_horizon(starts, now):
            occurrence.conflict = (
                f"Too far ahead: times can be chosen up to "
                f"{settings.HSE_BOOKING_HORIZON_DAYS} days ahead."
            )
        elif starts < earliest:
            hours = int(notice(coach).total_seconds() // 3600)
            occurrence.conflict = f"Too soon: a request needs {hours} hours’ notice."
        elif starts.minute % grid or starts.second or starts.microsecond:
            occurrence.conflict = f"Not on the {grid}-minute grid."
        elif starts not in slot_starts(
            windows=windows, zone=coach.zone, duration=ends - starts, start=starts,
            end=starts + timedelta(minutes=1), earliest=starts, busy=[], grid_minutes=grid,
        ):  # fmt: skip
            occurrence.conflict = f"Outside {name}’s hours."
        elif any(off_start < ends and off_end > starts for off_start, off_end in away):
            occurrence.conflict = f"{name} is away (time off or busy in their calendar)."
        elif any(busy_start < ends and busy_end > starts for busy_start, busy_end in busy):
            occurrence.conflict = "Already booked: a session, hold or request of yours or theirs."
        elif any(other_start < ends and other_end > starts for other_start, other_end in kept):
            occurrence.conflict = "Overlaps another time of this series."
        else:
            occurrence.conflict = ""
        if not occurrence.conflict:
            kept.append((starts, ends))
    return occurrences


def plan(
    *,
    coach: CoachProfile,
    client: User,
    duration_minutes: int,
    times: list[WeeklyTime],
    first_day: date,
    count: int,
    now: datetime,
    replacements: dict[int, datetime] | None = None,
) -> list[Occurrence]:
    """The series the client is setting up: expanded, with the times they picked instead of
    conflicting ones put in place, each checked."""
    occurrences = expand(
        times=times, first_day=first_day, count=count, duration_minutes=duration_minutes,
        client_zone=client.zone, coach_zone=coach.zone,
    )  # fmt: skip
    duration = timedelta(minutes=duration_minutes)
    for occurrence in occurrences:
        instead = (replacements or {}).get(occurrence.position)
        if instead is not None:
            occurrence.starts_at, occurrence.ends_at = instead, instead + duration
            occurrence.replaced, occurrence.shifted = True, False
    return check(
        coach=coach, client=client, duration_minutes=duration_minutes,
        occurrences=occurrences, now=now,
    )  # fmt: skip
