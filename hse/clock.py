"""How people read instants: every time we show carries the abbreviation of its own moment
in the reader's zone ("01:30 EDT", then "01:30 EST" an hour later), so a repeated autumn hour,
a range across a clock change and a deadline months away all say which instant they mean.

Pure functions over aware datetimes, a zone and ``now`` (the year is shown only when it is
not the reader's current year); the template tags in ``hse.templatetags.hse`` call them."""

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

# A zone without a name of its own (Asia/Kathmandu, America/Santiago) has only its offset
# in the tz database ("+0545", "-03"); we show it as "UTC+5:45" / "UTC-3", which names the
# instant as surely as "CET" does.


def local_time(at: datetime, zone: tzinfo) -> datetime:
    """``at`` on ``zone``'s clock, with ``fold`` set in a repeated hour. Computed from the
    offset rather than with ``astimezone``, which freezegun's datetimes (the tests') answer
    without the fold, turning 01:30 EST into 01:30 EDT."""
    utc_wall = at.replace(tzinfo=None) - at.utcoffset()
    return zone.fromutc(utc_wall.replace(tzinfo=zone))


def abbreviation(at: datetime, zone: tzinfo) -> str:
    """ "EST", "CEST", "UTC", or "UTC+5:45" where the zone has only an offset."""
    local = local_time(at, zone)
    name = local.strftime("%Z")
    if name and name[0] not in "+-":
        return name
    return offset_label(local.utcoffset())


def offset_label(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def day(
    at: datetime, zone: tzinfo, now: datetime, *, long: bool = False, reader: tzinfo | None = None
) -> str:
    """ "Tue 14 Jan" ("Tuesday 14 January" when long), with the year when it is not the
    reader's current year (``reader``: the reader's zone, when ``zone`` is another
    person's)."""
    this_year = local_time(now, reader or zone).year
    return local_day(local_time(at, zone).date(), this_year, long=long)


def local_day(value: date, this_year: int, *, long: bool = False) -> str:
    text = f"{value:%A} {value.day} {value:%B}" if long else f"{value:%a} {value.day} {value:%b}"
    return text if value.year == this_year else f"{text} {value.year}"


def clock(at: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """ "14:00 CET": the time of day with its own abbreviation."""
    local = local_time(at, zone)
    time = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{time} {abbreviation(at, zone)}"


def when(
    at: datetime, zone: tzinfo, now: datetime, *, long=False, seconds=False, reader=None
) -> str:
    """ "Tue 14 Jan, 14:00 CET"."""
    local = local_time(at, zone)
    time = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{day(at, zone, now, long=long, reader=reader)}, {time} {abbreviation(at, zone)}"


def span(
    start: datetime, end: datetime, zone: tzinfo, now: datetime, *, long=False, reader=None
) -> str:
    """A range: "Tue 14 Jan, 14:00–15:00 CET" when both ends share a day and an
    abbreviation; otherwise each end is labelled ("Sun 1 Nov, 01:30 EDT – 01:30 EST",
    "Tue 14 Jan, 23:30 CET – Wed 15 Jan, 00:30 CET")."""
    first, last = local_time(start, zone), local_time(end, zone)
    head = day(start, zone, now, long=long, reader=reader)
    start_abbr, end_abbr = abbreviation(start, zone), abbreviation(end, zone)
    if first.date() == last.date() and start_abbr == end_abbr:
        return f"{head}, {first:%H:%M}–{last:%H:%M} {start_abbr}"
    tail = f"{last:%H:%M} {end_abbr}"
    if first.date() != last.date():
        tail = f"{day(end, zone, now, long=long, reader=reader)}, {tail}"
    return f"{head}, {first:%H:%M} {start_abbr} – {tail}"


def _wall(start: datetime, end: datetime | None, zone: tzinfo) -> tuple:
    """What a reader in ``zone`` sees: the local times and their abbreviations."""
    ends = (
        () if end is None else (local_time(end, zone).replace(tzinfo=None), abbreviation(end, zone))
    )
    return (local_time(start, zone).replace(tzinfo=None), abbreviation(start, zone), *ends)


def other_clock(
    start: datetime,
    end: datetime | None,
    *,
    zone: tzinfo,
    other_zone: tzinfo,
    other_name: str,
    now: datetime,
    long: bool = False,
) -> str:
    """ "09:00–10:00 EST for Bob": the other person's time, for a reader in ``zone`` who has
    just read their own: the day is left out only when the reader's time named one day and
    it is the other person's too. "the same time for Bob" when both clocks read the same."""
    if _wall(start, end, zone) == _wall(start, end, other_zone):
        return f"the same time for {other_name}"
    if end is None:
        theirs = when(start, other_zone, now, long=long, reader=zone)
    else:
        theirs = span(start, end, other_zone, now, long=long, reader=zone)
    my_days = {local_time(at, zone).date() for at in (start, end) if at is not None}
    if my_days == {local_time(start, other_zone).date()}:
        theirs = theirs.split(", ", 1)[1]  # the reader has just read that day
    return f"{theirs} for {other_name}"


def both_clocks(
    start: datetime,
    end: datetime | None,
    *,
    zone: tzinfo,
    other_zone: tzinfo,
    other_name: str,
    now: datetime,
    long: bool = False,
) -> str:
    """ "Tue 14 Jan, 15:00–16:00 CET for you · 09:00–10:00 EST for Bob": the reader's time,
    then the other person's. One label when both clocks read the same."""
    if end is None:
        mine = when(start, zone, now, long=long)
    else:
        mine = span(start, end, zone, now, long=long)
    if _wall(start, end, zone) == _wall(start, end, other_zone):
        return f"{mine} for you and {other_name}"
    theirs = other_clock(
        start, end, zone=zone, other_zone=other_zone, other_name=other_name, now=now, long=long
    )
    return f"{mine} for you · {theirs}"


# --- Clock changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A zone's clocks move at ``at``: from the ``before`` abbreviation to ``after``."""

    at: datetime
    before: str
    after: str


# Zones change their offset at most a few times a year, never twice within a day, so a daily
# look finds every change; the exact minute is then found by halving the day.
_STEP = timedelta(days=1)
_LOOK_AHEAD = timedelta(days=800)


def changes(zone: tzinfo, start: datetime, end: datetime) -> list[Change]:
    """The moments in (start, end] when ``zone``'s offset from UTC changes."""
    found = []
    end = min(end, start + _LOOK_AHEAD)
    at = start
    while at < end:
        following = min(at + _STEP, end)
        if local_time(at, zone).utcoffset() != local_time(following, zone).utcoffset():
            low, high = at, following
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                same = local_time(middle, zone).utcoffset() == local_time(low, zone).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            moment = high.replace(second=0, microsecond=0)
            found.append(Change(moment, abbreviation(low, zone), abbreviation(high, zone)))
        at = following
    return found


def _gap(at: datetime, zone: tzinfo, other_zone: tzinfo) -> timedelta:
    """How far the other person's clock is ahead of the reader's at ``at``."""
    return local_time(at, other_zone).utcoffset() - local_time(at, zone).utcoffset()


def clock_change_note(
    at: datetime, *, zone: tzinfo, other_zone: tzinfo, other_name: str, now: datetime
) -> str:
    """A sentence when the difference between the two people's clocks does not stay the
    same from now to ``at``; "" otherwise. Two zones that change on the same local day a
    few hours apart (New York and Chicago, Sydney and Adelaide) differ for those hours
    only, in the night: that is not worth a note, so a stretch under a day between two
    changes does not count. The dates are named on each person's own clock."""
    if at <= now:
        return ""
    mine, theirs = changes(zone, now, at), changes(other_zone, now, at)
    bounds = [now, *sorted({c.at for c in mine + theirs}), at]
    stretches = list(itertools.pairwise(bounds))
    gaps = {
        _gap(begins, zone, other_zone)
        for n, (begins, ends) in enumerate(stretches)
        if ends - begins >= timedelta(days=1) or n in (0, len(stretches) - 1)
    }
    if len(gaps) <= 1:
        return ""

    def told(found: list[Change], in_zone: tzinfo) -> str:
        return ", ".join(f"{day(c.at, in_zone, now)} ({c.before} to {c.after})" for c in found)

    if mine and theirs:
        my_days = [local_time(c.at, zone).date() for c in mine]
        their_days = [local_time(c.at, other_zone).date() for c in theirs]
        head = (
            f"clocks change on different dates for you and {other_name}"
            if my_days != their_days
            else f"the difference between your clock and {other_name}’s changes"
        )
        return (
            f"Between now and then, {head}: "
            f"yours on {told(mine, zone)}, {other_name}’s on {told(theirs, other_zone)}. "
            "The times above are right for the day of the session."
        )
    who, found, in_zone, still = (
        ("you", mine, zone, other_name) if mine else (other_name, theirs, other_zone, "you")
    )
    return (
        f"Between now and then, clocks change for {who} on {told(found, in_zone)} but not for "
        f"{still}. The times above are right for the day of the session."
    )


# --- Reminders ----------------------------------------------------------------------------


def relative_day(at: datetime, zone: tzinfo, now: datetime) -> str:
    """ "today at 15:00 CET", "tomorrow at 09:00 CET", else "on Tue 14 Jan at 09:00 CET":
    from the calendar days in the reader's zone, not from the hours left."""
    days = (local_time(at, zone).date() - local_time(now, zone).date()).days
    time = clock(at, zone)
    if days == 0:
        return f"today at {time}"
    if days == 1:
        return f"tomorrow at {time}"
    return f"on {day(at, zone, now)} at {time}"


# --- Lists of times -------------------------------------------------------------------------


def shared_abbreviation(times: list[datetime], zone: tzinfo) -> str:
    """The abbreviation all ``times`` share in ``zone``, for a heading over them; "" when
    the clocks change among them, and each time must then carry its own."""
    found = {abbreviation(at, zone) for at in times}
    return found.pop() if len(found) == 1 else ""


def hours(start: datetime, end: datetime, zone: tzinfo, now: datetime) -> str:
    """A range under a day the reader has just read: "14:00–15:00 CET", "01:30 EDT – 01:30 EST",
    or "23:30 CET – Wed 15 Jan, 00:30 CET" when it ends on another day."""
    return span(start, end, zone, now).split(", ", 1)[1]
