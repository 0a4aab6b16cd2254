import bisect
import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from itertools import groupby
from operator import or_

from django.conf import settings
from django.db.models import (
    CharField,
    DateField,
    DateTimeField,
    F,
    Q,
    QuerySet,
    TimeField,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Cast

from accounts.models import User
from accounts.timezones import zone_or_utc
from coaching.availability import Interval, free_intervals, merge, slot_starts, wall_interval
from coaching.models import BusyTime, CoachProfile, TimeOff
from hse.cache import (
    get_or_set_many_versioned,
    get_or_set_versioned,
    new_versions_now_and_on_commit,
)

CATALOG_SORTS = {
    "name": ("Name", ("user__display_name", "id")),
    "price": ("Price: low to high", ("hourly_price", "user__display_name", "id")),
    "-price": ("Price: high to low", ("-hourly_price", "user__display_name", "id")),
}


def coach_profile_is_listed(*, user: User) -> bool:
    return CoachProfile.objects.filter(user=user, is_listed=True).exists()


def listed_coach_or_none(*, coach_id: int) -> CoachProfile | None:
    """The listed coach, with their user and skills, from the cache when it can, for what
    the coach page and the buy page show (a checkout reads the coach again from the
    database, under a lock). Kept under the coach's page version, which any change to the
    profile, its skills or the coach's account replaces (``forget_coach_pages``)."""

    def read() -> CoachProfile | None:
        coach = (
            CoachProfile.objects.listed()
            .select_related("user")
            .defer("user__password", "user__email")  # kept out of the cache: not shown here
            .filter(pk=coach_id)
            .first()
        )
        if coach is not None:
            prefetch_related_objects([coach], "skills")
        return coach

    return get_or_set_versioned(
        "coach-page", coach_id, read, timeout=PUBLIC_PARTS_SECONDS, part="row", create=False
    )


# Far longer than any session or request (HSE_SESSION_DURATIONS).
LONGEST_BOOKING = timedelta(days=1)

# A busy row: (starts_at, ends_at, frees_at), frees_at being the instant the clock alone frees
# the time (a checkout hold's expiry, an open request's deadline), or None.
BusyRow = tuple[datetime, datetime, datetime | None]

# What else makes people busy, besides a coach's time off: each source is registered by the
# app that owns its rows (sessions, requests) in its ready(), and gives, for a filter on the
# people (``Q(coach=...) | Q(client=...)``) and on the time, a query of busy rows, leaving
# out the row ``ignore`` names (a session being moved must not collide with itself).
BusySource = Callable[[Q, Q, "int | None"], QuerySet]
_busy_sources: dict[str, BusySource] = {}


def busy_source_register(name: str, source: BusySource) -> None:
    _busy_sources[name] = source


def busy_rows(
    *,
    coach: CoachProfile | None,
    client: User | None,
    start: datetime,
    end: datetime,
    ignore: Mapping[str, int] | None = None,
    skip: Collection[str] = (),
) -> list[BusyRow]:
    """The one place that says what "busy" means, for the coach and the client, either of
    which may be None: the coach's time off and external calendars' busy times, and every
    registered source's rows of either (sessions and checkout holds; open session
    requests), from ``start`` to ``end``, each
    with the instant it stops counting by the clock alone (``busy_at`` keeps what still
    counts at a given instant). ``ignore``: a row per source that must not collide with
    itself (``{"sessions": 12}``); ``skip``: sources that do not count (an accepted request
    books its time whatever other open proposals say)."""
    people = reduce(
        or_, [Q(**{role: who}) for role, who in (("coach", coach), ("client", client)) if who]
    )
    time_off = TimeOff.objects.filter(coach=coach) if coach is not None else None
    external = BusyTime.objects.filter(coach=coach) if coach is not None else None
    return _busy_union(
        people, time_off, start, end, ignore or {}, skip, fields=BUSY_FIELDS, external=external
    )


BUSY_FIELDS = ("starts_at", "ends_at", "frees_at")


def busy_rows_of_coaches(*, coach_ids, start: datetime, end: datetime) -> dict[int, list]:
    """``busy_rows`` of many coaches at once (the catalog's filter by open times), by
    coach, in one round trip."""
    rows = _busy_union(
        Q(coach_id__in=coach_ids), TimeOff.objects.filter(coach_id__in=coach_ids), start, end,
        {}, (), fields=("coach_id", *BUSY_FIELDS),
        external=BusyTime.objects.filter(coach_id__in=coach_ids),
    )  # fmt: skip
    by_coach: dict[int, list] = {}
    for coach_id, *row in rows:
        by_coach.setdefault(coach_id, []).append(tuple(row))
    return by_coach


# A time off row's wall times and the coach's current zone ride along in the busy rows' one
# query (the other rows leave them empty) and become instants in Python (``_time_off_rows``).
WALL_FIELDS = ("off_start_date", "off_start_time", "off_end_date", "off_end_time", "off_zone")
# Typed, so that PostgreSQL matches every part of the union whatever part comes first.
_NO_WALL_TIME = {
    "off_start_date": Cast(Value(None), DateField()),
    "off_start_time": Cast(Value(None), TimeField()),
    "off_end_date": Cast(Value(None), DateField()),
    "off_end_time": Cast(Value(None), TimeField()),
    "off_zone": Cast(Value(None), CharField()),
}


def _busy_union(people: Q, time_off, start, end, ignore, skip, *, fields, external=None) -> list:
    # Sessions and requests last an hour at most: a lower bound on the start lets the
    # (person, starts_at) indexes read only the window, not everyone's whole history.
    during = Q(starts_at__lt=end, starts_at__gt=start - LONGEST_BOOKING, ends_at__gt=start)
    columns = (*fields, *WALL_FIELDS)
    parts = [
        source(people, during, ignore.get(name))
        .order_by()
        .annotate(**_NO_WALL_TIME)
        .values_list(*columns)
        for name, source in _busy_sources.items()
        if name not in skip
    ]
    # The busy times of a coach's external calendars may last days, so they are read by
    # their end, not their start.
    if external is not None:
        rows = external.filter(starts_at__lt=end, ends_at__gt=start)
        parts.append(
            rows.annotate(frees_at=Value(None, DateTimeField()), **_NO_WALL_TIME)
            .order_by()
            .values_list(*columns)
        )
    # Time off is wall time: read by local dates wide enough for any zone (no zone is more
    # than a day from UTC), then made instants in the coach's current zone.
    if time_off is not None:
        rows = time_off.filter(
            start_date__lte=end.date() + timedelta(days=1),
            end_date__gte=start.date() - timedelta(days=1),
        )
        parts.append(
            rows.annotate(
                starts_at=Cast(Value(None), DateTimeField()),
                ends_at=Cast(Value(None), DateTimeField()),
                frees_at=Cast(Value(None), DateTimeField()),
                off_start_date=F("start_date"),
                off_start_time=F("start_time"),
                off_end_date=F("end_date"),
                off_end_time=F("end_time"),
                off_zone=F("coach__time_zone"),
            )
            .order_by()
            .values_list(*columns)
        )
    if not parts:
        return []
    first, *rest = parts
    found = first.union(*rest, all=True) if rest else first  # one round trip
    return _time_off_rows(found, len(fields), start, end)


def _time_off_rows(found, width: int, start: datetime, end: datetime) -> list:
    """The busy rows, each ``width`` long, with time off rows' wall times made instants in
    their coach's zone (those that then miss [start, end) left out)."""
    rows = []
    for row in found:
        head, (start_date, start_time, end_date, end_time, zone) = row[:width], row[width:]
        if zone is None:
            rows.append(tuple(head))
            continue
        begins, ends = wall_interval(
            datetime.combine(start_date, start_time),
            datetime.combine(end_date, end_time),
            zone_or_utc(zone),
        )
        if begins < end and ends > start and begins < ends:
            # The fields before the instants (the coach's id) are kept; instants replace
            # the empty columns.
            rows.append((*head[: width - 3], begins, ends, None))
    return rows


def busy_at(rows: list[BusyRow], now: datetime) -> list[Interval]:
    """The busy rows that still count at ``now``, merged."""
    return merge((begins, ends) for begins, ends, frees in rows if frees is None or frees > now)


def busy_intervals(
    *,
    coach: CoachProfile,
    start: datetime,
    end: datetime,
    now: datetime,
    client: User | None = None,
    ignore: Mapping[str, int] | None = None,
    skip: Collection[str] = (),
) -> list[Interval]:
    """When the coach (and, when given, the client) is busy between ``start`` and ``end``
    at ``now``, merged, read from the database (``busy_rows``)."""
    rows = busy_rows(coach=coach, client=client, start=start, end=end, ignore=ignore, skip=skip)
    return busy_at(rows, now)


# --- What a page shows of a schedule, kept in the cache ---------------------------------------
# A coach's windows and busy rows, and a client's busy rows, kept under a version that each
# change to them replaces (``forget_schedules``: called on every save of time off and windows
# here, and by the apps that own the other busy rows, whether a service or the admin made
# the change). The sweeps change no row's busy time: what they move by the clock (holds and
# requests past their instant) ``busy_at`` has freed already. Pages only: a booking reads
# the database under its locks. A copy lasts SCHEDULE_SECONDS, counted from when it was
# read, so that copies do not all run out at once.
SCHEDULE_SECONDS = 600
SCHEDULE_DAYS = max(settings.HSE_BOOKING_DAYS, settings.HSE_COACH_PAGE_SLOT_DAYS)


def _windows(coach: CoachProfile) -> list[tuple[int, int, int]]:
    return [
        (window.weekday, window.start_minute, window.end_minute)
        for window in coach.availability_windows.all()
    ]


def cached_schedule(
    *, coach: CoachProfile, client: User | None, start: datetime, end: datetime, now: datetime
) -> tuple[list[tuple[int, int, int]], list[Interval]]:
    """The coach's weekly windows, and when the coach (and the client) is busy between
    ``start`` and ``end`` at ``now``: as ``busy_intervals``, from the cache when it can."""
    # A copy covers every page shown while it lasts: from a day before it was read to two
    # days past the last day a page offers.
    low = now - LONGEST_BOOKING
    high = now + timedelta(days=SCHEDULE_DAYS) + 2 * LONGEST_BOOKING

    def copy(*, of_coach: bool) -> dict:
        return {
            "span": (low, high),
            "windows": _windows(coach) if of_coach else [],
            "rows": busy_rows(
                coach=coach if of_coach else None,
                client=None if of_coach else client,
                start=low,
                end=high,
            ),
        }

    reads = {f"coach-{coach.pk}": lambda: copy(of_coach=True)}
    if client is not None:
        reads[f"client-{client.pk}"] = lambda: copy(of_coach=False)
    parts = get_or_set_many_versioned(
        "schedule",
        reads,
        timeout=SCHEDULE_SECONDS,
        usable=lambda part: part["span"][0] <= start and end <= part["span"][1],
    )
    rows = [
        row for part in parts.values() for row in part["rows"] if row[0] < end and row[1] > start
    ]
    return parts[f"coach-{coach.pk}"]["windows"], busy_at(rows, now)


def forget_schedules(*, coach_ids=(), client_ids=()) -> None:
    """What these coaches' and clients' pages show of their schedules changed."""
    new_versions_now_and_on_commit(
        "schedule",
        [f"coach-{pk}" for pk in coach_ids if pk] + [f"client-{pk}" for pk in client_ids if pk],
    )


def bookable_slots(
    *,
    coach: CoachProfile,
    duration_minutes: int,
    start: datetime,
    end: datetime,
    now: datetime,
    client: User | None = None,
    cached: bool = False,
    ignore: Mapping[str, int] | None = None,
) -> list[datetime]:
    """Aware UTC instants in [start, end) at which a session of ``duration_minutes`` with
    ``coach`` can be booked: availability, minus busy intervals (the client's too, when
    given), minus anything before ``now`` plus the coach's minimum notice, on the slot grid.
    ``cached``: for a page that offers times (``cached_schedule``); a booking checks anew."""
    duration = timedelta(minutes=duration_minutes)
    around = {"start": start - duration, "end": end + duration, "now": now, "client": client}
    if cached and not ignore:
        windows, busy = cached_schedule(coach=coach, **around)
    else:
        windows, busy = _windows(coach), busy_intervals(coach=coach, **around, ignore=ignore)
    return slot_starts(
        windows=windows,
        zone=coach.zone,
        duration=duration,
        start=start,
        end=end,
        earliest=now + timedelta(minutes=coach.minimum_notice_minutes),
        busy=busy,
        grid_minutes=settings.HSE_SLOT_GRID_MINUTES,
    )


def slots_by_local_day(slots: list[datetime], zone) -> list[tuple]:
    """[(local date, [local datetimes])] for slots shown in ``zone``, in order."""
    local = [slot.astimezone(zone) for slot in slots]
    return [(day, list(times)) for day, times in groupby(local, key=lambda t: t.date())]


def bookable_days(*, coach, client, duration_minutes: int, zone, now: datetime) -> list[tuple]:
    """The client's bookable times with ``coach`` for the booking horizon, by local day."""
    slots = bookable_slots(
        coach=coach,
        duration_minutes=duration_minutes,
        start=now,
        end=now + timedelta(days=settings.HSE_BOOKING_DAYS),
        now=now,
        client=client,
        cached=True,
    )
    return slots_by_local_day(slots, zone)


# --- Rendered parts kept in the cache ---------------------------------------------------------
# What the public sees of coaches changes only when a coach's profile, skills or name change,
# or a client rates them: those changes give these parts a new version (``forget_coach_pages``
# from the services and from coaching.signals, which also catches the admin's edits).
PUBLIC_PARTS_SECONDS = 600


def catalog_results_html(*, query_string: str, render) -> str:
    """The catalog's results for one query string: ``render()``, or the copy in the cache."""
    part = hashlib.sha256(query_string.encode()).hexdigest()
    return get_or_set_versioned("catalog", "all", render, timeout=PUBLIC_PARTS_SECONDS, part=part)


def coach_profile_html(*, coach_id: int, variant: str, render) -> str:
    """A coach page's profile column (``variant``: what differs between viewers)."""
    return get_or_set_versioned(
        "coach-page", coach_id, render, timeout=PUBLIC_PARTS_SECONDS, part=variant
    )


def forget_coach_pages(*coach_ids: int) -> None:
    """What these coaches show the public changed: their pages and the catalog are rendered
    again."""
    if coach_ids:
        forget_coach_profiles(*coach_ids)
        forget_catalog()


def forget_coach_profiles(*coach_ids: int) -> None:
    """Something only these coaches' pages show changed (their reviews, a skill's name)."""
    new_versions_now_and_on_commit("coach-page", coach_ids)


def forget_catalog() -> None:
    new_versions_now_and_on_commit("catalog", ["all"])


# --- Sessions booked with a coach, for the pages that ask before changing their hours -------
@dataclass(frozen=True)
class Booked:
    """A booked session, as a page lists it when it asks "add anyway?"."""

    starts_at: datetime
    ends_at: datetime
    title: str  # "Leadership with Alice"
    url: str


# The app that owns sessions registers the one source of them (in its ready()): for a
# coach and a stretch of time, the sessions still booked in it.
BookedSource = Callable[..., list[Booked]]
_booked_sources: dict[str, BookedSource] = {}


def booked_source_register(name: str, source: BookedSource) -> None:
    _booked_sources[name] = source


def booked_between(*, coach: CoachProfile, start: datetime, end: datetime) -> list[Booked]:
    """The coach's booked sessions overlapping [start, end), in time order."""
    found = [
        item
        for source in _booked_sources.values()
        for item in source(coach=coach, start=start, end=end)
    ]
    return sorted(found, key=lambda item: (item.starts_at, item.url))


def booked_in_time_off(
    *, coach: CoachProfile, starts: datetime, ends: datetime, now: datetime
) -> list[Booked]:
    """The coach's sessions still to come that time off from wall time ``starts`` to
    ``ends`` (the coach's clock) would cover."""
    begins, finishes = wall_interval(starts, ends, coach.zone)
    return [
        item
        for item in booked_between(coach=coach, start=max(begins, now), end=finishes)
        if item.ends_at > now
    ]


def booked_outside_hours(*, coach: CoachProfile, zone, now: datetime) -> list[Booked]:
    """The coach's sessions still to come that would sit outside their weekly hours, or
    inside their time off, were the hours and the time off read in ``zone``."""
    end = now + timedelta(days=settings.HSE_BOOKING_HORIZON_DAYS) + LONGEST_BOOKING
    booked = booked_between(coach=coach, start=now, end=end)
    if not booked:
        return []
    low = min(item.starts_at for item in booked)
    high = max(item.ends_at for item in booked)
    off = [
        wall_interval(item.starts, item.ends, zone)
        for item in coach.time_off.filter(
            end_date__gte=low.date() - timedelta(days=1),
            start_date__lte=high.date() + timedelta(days=1),
        )
    ]
    free = free_intervals(windows=_windows(coach), zone=zone, start=low, end=high, busy=off)
    starts = [interval[0] for interval in free]

    def fits(item: Booked) -> bool:
        index = bisect.bisect_right(starts, item.starts_at) - 1
        return index >= 0 and free[index][1] >= item.ends_at

    return [item for item in booked if not fits(item)]


def coach_zone_clashes(*, user: User, time_zone: str, now: datetime) -> list[Booked]:
    """What a coach's move of their account to ``time_zone`` would leave outside their
    hours (``coaching.services.coach_zone_follow`` moves the hours only when the profile is
    in the account's zone)."""
    if not user.is_coach:
        return []
    coach = CoachProfile.objects.filter(user=user, time_zone=user.time_zone).first()
    if coach is None:
        return []
    return booked_outside_hours(coach=coach, zone=zone_or_utc(time_zone), now=now)
