"""Coaches' external calendars: adding and removing their addresses, and the sweep that
reads them (``coaching.calendar_fetch``), expands recurring events over the booking
horizon (``recurring-ical-events``) and stores the busy stretches that block the coach's
times (``coaching.selectors.busy_rows``).

A read that fails keeps the last good busy times and records why, for the coach's page; one
calendar's failure never stops the others. Each calendar is claimed by a conditional UPDATE
of ``checked_at`` before its read, so two sweeps running at once read it once, and the
network is never waited on inside a transaction."""

import logging
from datetime import date, datetime, time, timedelta
from time import monotonic

import recurring_ical_events
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q
from icalendar import Calendar

from coaching.availability import merge
from coaching.calendar_fetch import FetchError, fetch
from coaching.models import BusyCalendar, BusyTime, CoachProfile
from coaching.selectors import forget_schedules
from coaching.services import CoachingError
from hse.bounds import horizon
from hse.text import validate_single_line

log = logging.getLogger(__name__)

# More busy stretches than any real calendar holds over the horizon: a feed past it is
# refused rather than written row by row.
MAX_BUSY_TIMES = 5000
# How long one run of the sweep keeps taking calendars: less than its beat interval.
SWEEP_BUDGET_SECONDS = 240
# Busy times are expanded up to the horizon of the read that expanded them: read the whole
# copy again this often so they keep reaching the horizon as it moves.
REEXPAND_AFTER = timedelta(days=1)


def _refresh_due(now: datetime) -> Q:
    before = now - timedelta(minutes=settings.HSE_BUSY_CALENDAR_REFRESH_MINUTES)
    return Q(checked_at__isnull=True) | Q(checked_at__lte=before)


# --- The coach's list -------------------------------------------------------------------------


def busy_calendar_add(*, coach: CoachProfile, url: str, now: datetime) -> BusyCalendar:
    """Adds a calendar address; the sweep reads it (at once when the caller asks the worker
    to, ``busy_calendar_refresh_task``)."""
    url = url.strip()
    try:
        validate_single_line(url)
        URLValidator(schemes=["http", "https", "webcal"])(url)
    except ValidationError:
        raise CoachingError(
            "Paste the calendar's full address, starting with https:// (or webcal://)."
        ) from None
    if url.startswith("webcal://"):  # what Apple and Outlook show: the same address over https
        url = "https://" + url.removeprefix("webcal://")
    if len(url) > BusyCalendar._meta.get_field("url").max_length:
        raise CoachingError("That address is too long.")
    with transaction.atomic():
        coach = CoachProfile.objects.select_for_update().get(pk=coach.pk)
        calendars = coach.busy_calendars.all()
        if calendars.filter(url=url).exists():
            raise CoachingError("That calendar is already on your list.")
        if calendars.count() >= settings.HSE_BUSY_CALENDARS_PER_COACH:
            raise CoachingError(
                f"You can add up to {settings.HSE_BUSY_CALENDARS_PER_COACH} calendars; "
                "remove one first."
            )
        return BusyCalendar.objects.create(coach=coach, url=url, created_at=now)


def busy_calendar_remove(*, coach: CoachProfile, calendar: BusyCalendar) -> None:
    if calendar.coach_id != coach.pk:
        raise CoachingError("That calendar is not yours.")
    calendar.delete()  # its busy times with it; coaching.signals renews the schedule copies


# --- Reading ----------------------------------------------------------------------------------


def _instant(value, zone) -> datetime:
    """An event's start or end as an aware instant: a date (all-day) or a floating time is
    read in the coach's zone, as the coach's own calendar shows it."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=zone)
    raise ValueError(f"not a date: {value!r}")


# What expanding a calendar may cost. A repeat rule is cheap to write and dear to expand
# ("FREQ=SECONDLY", or hourly from the year 1600: the expander walks every step from the
# first occurrence), so rules are weighed before anything is expanded, the expansion runs
# lazily (never building every occurrence first), and a wall-clock budget stops it.
# Rules repeating more often than hourly are refused unless a small COUNT ends them.
FINE_FREQUENCIES = {"SECONDLY", "MINUTELY"}
FINE_RULE_MAX_COUNT = 1000
# Roughly the steps the expander takes walking from each rule's start to the horizon, summed
# over the calendar: about a second of work. A weekly meeting since 1990 is ~2,000 steps,
# a hundred yearly birthdays since 1950 ~8,000; an hourly rule from 1600 ~3.7 million.
MAX_RULE_STEPS = 250_000
EXPAND_BUDGET_SECONDS = 3.0
_STEP_SIZE = {  # the expander's step per frequency, and how many days one step may look at
    "HOURLY": (timedelta(hours=1), 1),
    "DAILY": (timedelta(days=1), 1),
    "WEEKLY": (timedelta(days=7), 7),
    "MONTHLY": (timedelta(days=28), 31),
    "YEARLY": (timedelta(days=365), 366),
}
_BY_PARTS = ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "BYHOUR")
TOO_OFTEN = "it repeats too often"


def _first_number(rule, key: str, default: int) -> int:
    values = rule.get(key) or [default]
    value = values[0] if isinstance(values, list) else values
    return max(int(value), 1)


def _rule_steps(rule, first: datetime, end: datetime) -> int:
    """About how many steps expanding ``rule`` (one RRULE, started at ``first``) up to
    ``end`` takes; raises FetchError when the rule repeats more often than hourly."""
    frequency = str((rule.get("FREQ") or [""])[0]).upper()
    count = _first_number(rule, "COUNT", 0) if rule.get("COUNT") else None
    if frequency in FINE_FREQUENCIES or any(len(rule.get(k) or []) > 1 for k in
                                            ("BYMINUTE", "BYSECOND")):  # fmt: skip
        if count is None or count > FINE_RULE_MAX_COUNT:
            raise FetchError(TOO_OFTEN)
        return count
    step, days_per_step = _STEP_SIZE.get(frequency, (timedelta(days=1), 1))
    steps = max((end - first) // (step * _first_number(rule, "INTERVAL", 1)), 1)
    if any(rule.get(part) for part in _BY_PARTS):  # each step looks at every day in it
        steps *= days_per_step
    return steps if count is None else min(steps, count * days_per_step)


def _weigh_rules(calendar: Calendar, *, zone, end: datetime) -> None:
    """Refuses (FetchError) a calendar whose repeat rules would cost too much to expand."""
    total = 0
    for event in calendar.walk("VEVENT"):
        rules = event.get("RRULE")
        if not rules or "DTSTART" not in event:
            continue
        first = _instant(event.decoded("DTSTART"), zone)
        for rule in rules if isinstance(rules, list) else [rules]:
            total += _rule_steps(rule, first, end)
        if total > MAX_RULE_STEPS:
            raise FetchError(TOO_OFTEN)


def _occurrences(calendar: Calendar, *, start: datetime, end: datetime, deadline: float):
    """Every occurrence between ``start`` and ``end``, one series at a time, lazily.
    ``recurring_ical_events``' own ``between`` builds the whole list first, and its
    ``after`` re-expands every rule from its start for each window it looks at; its series
    yield one by one."""
    query = recurring_ical_events.of(calendar)
    for series in query.series:
        for occurrence in series.between(start, end):
            if monotonic() > deadline:
                raise FetchError(TOO_OFTEN)
            yield occurrence.as_component(query.keep_recurrence_attributes)


def busy_from_ics(body: bytes, *, zone, start: datetime, end: datetime) -> list[tuple]:
    """The busy stretches of an iCalendar file between ``start`` and ``end``, merged:
    every occurrence of every event, except those marked free (TRANSP:TRANSPARENT) or
    cancelled. Raises FetchError("not a calendar") when it is not one, and
    FetchError(TOO_OFTEN) when its repeat rules would take too long to expand."""
    deadline = monotonic() + EXPAND_BUDGET_SECONDS
    try:
        calendar = Calendar.from_ical(body)
        if calendar.name != "VCALENDAR":
            raise ValueError(calendar.name)
        _weigh_rules(calendar, zone=zone, end=end)
        stretches, seen = [], 0
        for event in _occurrences(calendar, start=start, end=end, deadline=deadline):
            seen += 1  # free, cancelled and empty ones cost their expansion too
            if seen > MAX_BUSY_TIMES:
                raise FetchError("too many events")
            if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
                continue
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            if "DTSTART" not in event:
                continue
            begins = _instant(event.decoded("DTSTART"), zone)
            ends = _instant(event.decoded("DTEND"), zone) if "DTEND" in event else None
            if ends is None:  # no end and no duration: a day when it is a date, else a moment
                ends = begins + (timedelta(days=1) if not isinstance(
                    event.decoded("DTSTART"), datetime) else timedelta())  # fmt: skip
            begins, ends = max(begins, start), min(ends, end)
            if begins < ends:
                stretches.append((begins, ends))
    except (FetchError, SoftTimeLimitExceeded):  # the worker's time limit stops the sweep
        raise
    except Exception as error:  # whatever a malformed file makes the parsers raise
        log.info("calendar not readable: %r", error)
        raise FetchError("not a calendar") from None
    return merge(stretches)


def busy_calendar_refresh(*, calendar: BusyCalendar, now: datetime) -> bool:
    """Reads one claimed calendar and stores what it says; True when it was read (or is
    unchanged), False when the read failed (the error is on the row)."""
    zone = calendar.coach.zone
    start, end = now - timedelta(days=1), horizon(now)
    # "Unchanged" (304) is only worth asking when the stored busy times are still what a
    # full read would give: expanded within the day, in the coach's present zone.
    current = (
        calendar.expanded_at is not None
        and now - calendar.expanded_at < REEXPAND_AFTER
        and calendar.expanded_zone == zone.key
    )
    try:
        fetched = fetch(
            calendar.url,
            etag=calendar.etag if current else "",
            last_modified=calendar.last_modified if current else "",
        )
        stretches = (
            None
            if fetched.body is None
            else busy_from_ics(fetched.body, zone=zone, start=start, end=end)
        )
    except FetchError as error:
        BusyCalendar.objects.filter(pk=calendar.pk).update(error=str(error)[:200])
        return False
    except SoftTimeLimitExceeded:  # the worker's time limit: the whole sweep stops
        raise
    except Exception:  # a bug here must not stop the sweep's other calendars
        log.exception("calendar %s could not be read", calendar.pk)
        BusyCalendar.objects.filter(pk=calendar.pk).update(error="could not be read")
        return False
    with transaction.atomic():
        # The row may have been removed while we read: then there is nothing to store.
        if not BusyCalendar.objects.select_for_update().filter(pk=calendar.pk).exists():
            return False
        expanded = {}
        if stretches is not None:
            BusyTime.objects.filter(calendar=calendar).delete()
            BusyTime.objects.bulk_create(
                BusyTime(calendar=calendar, coach_id=calendar.coach_id, starts_at=s, ends_at=e)
                for s, e in stretches
            )
            forget_schedules(coach_ids=[calendar.coach_id])
            expanded = {"expanded_at": now, "expanded_zone": zone.key}
        BusyCalendar.objects.filter(pk=calendar.pk).update(
            fetched_at=now,
            error="",
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            **expanded,
        )
    return True


def _claim(pk: int, now: datetime, *, due_only: bool = True) -> BusyCalendar | None:
    """Marks the calendar as being read now; None when another sweep got there first."""
    rows = BusyCalendar.objects.filter(pk=pk)
    if due_only:
        rows = rows.filter(_refresh_due(now))
    if not rows.update(checked_at=now):
        return None
    return BusyCalendar.objects.select_related("coach").get(pk=pk)


def busy_calendar_refresh_now(*, calendar_id: int, now: datetime) -> bool:
    """Reads one calendar at once (just added by its coach)."""
    calendar = _claim(calendar_id, now, due_only=False)
    return calendar is not None and busy_calendar_refresh(calendar=calendar, now=now)


def busy_calendars_refresh_due(
    *, now: datetime, limit: int = 500, budget_seconds: float = SWEEP_BUDGET_SECONDS
) -> int:
    """The sweep: every calendar not read for HSE_BUSY_CALENDAR_REFRESH_MINUTES, oldest
    first, one at a time; returns how many were read. Running it again at once reads none.
    It stops taking new calendars after ``budget_seconds``, so slow servers never make runs
    pile up: the next run takes the rest."""
    due = list(
        BusyCalendar.objects.filter(_refresh_due(now))
        .order_by(F("checked_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:limit]
    )
    read = 0
    started = monotonic()
    for pk in due:
        if monotonic() - started > budget_seconds:
            break
        calendar = _claim(pk, now)
        if calendar is not None:
            read += busy_calendar_refresh(calendar=calendar, now=now)
    return read
