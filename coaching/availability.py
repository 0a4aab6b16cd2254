"""Turning weekly wall-clock availability into real instants, safely across DST.

Weekly windows are local wall-clock times in the coach's zone. Each date is expanded on
its own, so 09:00–12:00 stays 09:00–12:00 local on both sides of a change; a local time
that does not exist (the spring-forward gap) yields no slot, and a repeated local time
(the autumn fall-back) yields only its first occurrence.
"""

import bisect
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


@lru_cache(maxsize=1 << 16)  # a pure function, asked the same few wall times over and over
def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime | None:
    """The UTC instant at which the wall clock in ``zone`` shows ``minute`` after midnight
    of ``day``; None where that wall time does not exist; the first one where it repeats."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    instant = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return instant


@lru_cache(maxsize=1 << 16)
def boundary_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """Like ``local_instant``, but a boundary inside a gap moves to the end of the gap
    (the moment the clock jumps), so a window that starts or ends there keeps its meaning."""
    for later in range(minute, minute + 24 * 60):
        instant = local_instant(day, later, zone)
        if instant is not None:
            return instant
    raise ValueError(f"no wall time exists after {day} +{minute}min in {zone}")  # pragma: no cover


@lru_cache(maxsize=1 << 16)
def boundary_end_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """Where a stretch that lasts *until* this wall time ends: the later of the two instants
    when the wall time repeats (the clock shows earlier times until then), and the moment
    the clock jumps when it falls in a gap."""
    naive = datetime.combine(day, time()) + timedelta(minutes=minute)
    later = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if later.astimezone(zone).replace(tzinfo=None) == naive:
        return later
    return boundary_instant(day, minute, zone)


def wall_interval(starts: datetime, ends: datetime, zone: ZoneInfo) -> Interval:
    """The UTC instants of a stretch of wall time [starts, ends) (naive datetimes) in
    ``zone``: every moment at which the clock shows a time inside it. So a start in a gap
    moves forward to the moment the clock jumps; a start that repeats takes the first
    occurrence and an end that repeats the second (the repeated hour is inside); an end in a
    gap is the moment the clock jumps. Seconds are ignored: times are whole minutes."""

    def minute(moment: datetime) -> int:
        return moment.hour * 60 + moment.minute

    return (
        boundary_instant(starts.date(), minute(starts), zone),
        boundary_end_instant(ends.date(), minute(ends), zone),
    )


def _even_day_start(day: date, zone: ZoneInfo) -> datetime | None:
    """Local midnight of ``day`` as a UTC instant when the whole day keeps one UTC offset
    (every wall time is then midnight plus its minutes); None on a day the clocks change."""
    begins = local_instant(day, 0, zone)
    ends = local_instant(day + timedelta(days=1), 0, zone)
    if begins is None or ends is None or ends - begins != timedelta(days=1):
        return None
    return begins


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _containing(intervals: Sequence[Interval], starts: Sequence[datetime], at: datetime):
    index = bisect.bisect_right(starts, at) - 1
    if index >= 0 and intervals[index][1] > at:
        return intervals[index]
    return None


def _overlaps(intervals: Sequence[Interval], starts: Sequence[datetime], a: datetime, b: datetime):
    # The interval starting latest before b is the only one that can reach into [a, b),
    # because merged intervals do not overlap each other.
    index = bisect.bisect_left(starts, b) - 1
    return index >= 0 and intervals[index][1] > a


def slot_starts(
    *,
    windows: Iterable[tuple[int, int, int]],
    zone: ZoneInfo,
    duration: timedelta,
    start: datetime,
    end: datetime,
    earliest: datetime,
    busy: Iterable[Interval],
    grid_minutes: int,
) -> list[datetime]:
    """Instants in [max(start, earliest), end) at which a session of ``duration`` fits
    inside the availability ``windows`` (weekday, start minute, end minute) and overlaps
    nothing in ``busy``. Candidates are local wall times on the ``grid_minutes`` grid."""
    by_weekday: dict[int, list[tuple[int, int]]] = {}
    for weekday, first, last in windows:
        by_weekday.setdefault(weekday, []).append((first, last))
    if not by_weekday:
        return []

    lower = max(start, earliest)
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)

    open_intervals: list[Interval] = []
    day_windows: list[tuple[date, int, int, datetime]] = []
    day = first_day
    while day <= last_day:
        for first, last in by_weekday.get(day.weekday(), ()):
            opens = boundary_instant(day, first, zone)
            closes = boundary_instant(day, last, zone)
            if closes <= opens:
                continue
            open_intervals.append((opens, closes))
            day_windows.append((day, first, last, opens))
        day += timedelta(days=1)

    open_intervals = merge(open_intervals)
    open_starts = [interval[0] for interval in open_intervals]
    busy_intervals = merge(busy)
    busy_starts = [interval[0] for interval in busy_intervals]
    grid = timedelta(minutes=grid_minutes)

    def bookable(begins: datetime, window_end: datetime) -> bool:
        finishes = begins + duration
        return (
            lower <= begins < end
            and finishes <= window_end
            and not _overlaps(busy_intervals, busy_starts, begins, finishes)
        )

    midnights: dict[date, datetime | None] = {}
    found: set[datetime] = set()
    for day, first, last, opens in day_windows:
        aligned = -(-first // grid_minutes) * grid_minutes
        if day not in midnights:
            midnights[day] = _even_day_start(day, zone)
        midnight = midnights[day]
        if midnight is not None:
            # One UTC offset all day: every candidate of this window lies inside the stretch
            # that holds its opening, and the next is one grid step later.
            stretch_end = _containing(open_intervals, open_starts, opens)[1]
            begins = midnight + timedelta(minutes=aligned)
            for _ in range(aligned, last, grid_minutes):
                if bookable(begins, stretch_end):
                    found.add(begins)
                begins += grid
            continue
        for minute in range(aligned, last, grid_minutes):  # a day the clocks change
            begins = local_instant(day, minute, zone)
            if begins is None:
                continue
            window = _containing(open_intervals, open_starts, begins)
            if window is not None and bookable(begins, window[1]):
                found.add(begins)
    return sorted(found)


def free_intervals(
    *,
    windows: Iterable[tuple[int, int, int]],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    busy: Iterable[Interval],
) -> list[Interval]:
    """The stretches in [start, end) inside the weekly ``windows`` and outside ``busy``,
    merged: what a coach has free, for questions that need no slot grid (the catalog's
    "evenings this week")."""
    by_weekday: dict[int, list[tuple[int, int]]] = {}
    for weekday, first, last in windows:
        by_weekday.setdefault(weekday, []).append((first, last))
    day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    opened = []
    while day <= last_day:
        for first, last in by_weekday.get(day.weekday(), ()):
            opens, closes = boundary_instant(day, first, zone), boundary_instant(day, last, zone)
            if opens < closes:
                opened.append((max(opens, start), min(closes, end)))
        day += timedelta(days=1)
    free = []
    taken = merge(busy)
    for opens, closes in merge(interval for interval in opened if interval[0] < interval[1]):
        for busy_start, busy_end in taken:
            if busy_end <= opens or busy_start >= closes:
                continue
            if busy_start > opens:
                free.append((opens, busy_start))
            opens = max(opens, busy_end)
            if opens >= closes:
                break
        if opens < closes:
            free.append((opens, closes))
    return free
