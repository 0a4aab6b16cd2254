"""The catalog's filters: a search, a skill, a price range, languages, and when a coach has
open times in the viewer's zone (this week or the next 7 days; mornings, afternoons,
evenings; weekends), combined, with how many coaches each option would show."""

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from coaching import search
from coaching.availability import boundary_instant, free_intervals
from coaching.models import LANGUAGES, AvailabilityWindow, CoachProfile, Skill
from coaching.selectors import CATALOG_SORTS, busy_at, busy_rows_of_coaches
from hse.cache import get_or_set_versioned

# The viewer's local hours each part of the day covers: a coach has a morning if an open
# time starts in it. Night owls' times (22:00-06:00) count for "any time" only.
DAYPARTS = {
    "morning": ("Mornings", 6, 12),
    "afternoon": ("Afternoons", 12, 17),
    "evening": ("Evenings", 17, 22),
}
WHOLE_DAY = "day"  # not an option people pick: any time of a day
WHENS = {"week": "This week", "7days": "Next 7 days"}
DAYS_AHEAD = 7


@dataclass(frozen=True)
class Filters:
    skill: Skill | None = None
    query: str = ""
    sort: str = "name"
    price_min: int | None = None  # minor units, per hour
    price_max: int | None = None
    languages: tuple[str, ...] = ()
    when: str = ""  # "", "week" or "7days"
    dayparts: tuple[str, ...] = ()
    weekends: bool = False

    @property
    def by_time(self) -> bool:
        return bool(self.when or self.dayparts or self.weekends)


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    count: int
    chosen: bool


@dataclass
class Catalog:
    coaches: list[CoachProfile]
    languages: list[Option] = field(default_factory=list)
    whens: list[Option] = field(default_factory=list)
    dayparts: list[Option] = field(default_factory=list)
    weekends: Option | None = None


def _base(filters: Filters) -> QuerySet[CoachProfile]:
    coaches = CoachProfile.objects.listed()
    if filters.skill is not None:
        coaches = coaches.filter(skills=filters.skill)
    if filters.price_min is not None:
        coaches = coaches.filter(hourly_price__gte=filters.price_min)
    if filters.price_max is not None:
        coaches = coaches.filter(hourly_price__lte=filters.price_max)
    return search.matching(coaches, filters.query)


def _speaks(coach_languages, wanted) -> bool:
    return all(code in coach_languages for code in wanted)


# The catalog's open times are read again after this long (bookings made meanwhile show then).
OPEN_DAYS_SECONDS = 300


def open_days(*, zone, now: datetime) -> dict[int, set[tuple[date, str]]]:
    """``free_days`` of every listed coach, kept in the cache per zone for OPEN_DAYS_SECONDS
    (a new version with every change to what the catalog shows, as its pages have)."""
    period = int(now.timestamp()) // OPEN_DAYS_SECONDS

    def read():
        coaches = list(CoachProfile.objects.listed().only("time_zone", "minimum_notice_minutes"))
        return free_days(coaches=coaches, zone=zone, now=now)

    return get_or_set_versioned(
        "catalog", "all", read, timeout=OPEN_DAYS_SECONDS, part=f"open:{zone.key}:{period}"
    )


def free_days(*, coaches, zone, now: datetime) -> dict[int, set[tuple[date, str]]]:
    """For each coach, the (local day, part of day) in the viewer's ``zone`` in which a
    session of the shortest length could start, over the next DAYS_AHEAD days: their weekly
    hours less everything that makes them busy, read in two queries for all of them. (The
    slot grid is left aside: windows lie on it, and a booking checks its own slot.)"""
    coach_ids = [coach.pk for coach in coaches]
    end = now + timedelta(days=DAYS_AHEAD)
    windows = defaultdict(list)
    for coach_id, weekday, first, last in AvailabilityWindow.objects.filter(
        coach_id__in=coach_ids
    ).values_list("coach_id", "weekday", "start_minute", "end_minute"):
        windows[coach_id].append((weekday, first, last))
    busy = busy_rows_of_coaches(coach_ids=coach_ids, start=now, end=end)
    shortest = timedelta(minutes=min(settings.HSE_SESSION_DURATIONS))
    today = now.astimezone(zone).date()
    # Each part of each coming day, as instants of the viewer's zone; and the whole day, so
    # that a time outside the named parts (late at night) still counts for "this week".
    named = [(name, first, last) for name, (_, first, last) in DAYPARTS.items()]
    parts = [
        (day, name, boundary_instant(day, first * 60, zone), boundary_instant(day, last * 60, zone))
        for day in (today + timedelta(days=n) for n in range(DAYS_AHEAD + 1))
        for name, first, last in [*named, (WHOLE_DAY, 0, 24)]
    ]
    found: dict[int, set[tuple[date, str]]] = {}
    for coach in coaches:
        earliest = now + timedelta(minutes=coach.minimum_notice_minutes)
        free = free_intervals(
            windows=windows[coach.pk], zone=coach.zone, start=earliest, end=end,
            busy=busy_at(busy.get(coach.pk, []), now),
        )  # fmt: skip
        # A part of a day is open when a shortest session can start in it and still end
        # inside a free stretch.
        found[coach.pk] = {
            (day, name)
            for day, name, part_start, part_end in parts
            for free_start, free_end in free
            if (begins := max(free_start, part_start)) < part_end and begins + shortest <= free_end
        }
    return found


def _with_language(filters: Filters, code: str) -> Filters:
    return replace(filters, languages=tuple(dict.fromkeys((*filters.languages, code))))


def _fits_time(days: set[tuple[date, str]], filters: Filters, today: date) -> bool:
    last = today + timedelta(days=DAYS_AHEAD - 1)
    if filters.when == "week":
        last = min(last, today + timedelta(days=6 - today.weekday()))  # until Sunday
    return any(
        day <= last
        and (not filters.dayparts or part in filters.dayparts)
        and (not filters.weekends or day.weekday() >= 5)
        for day, part in days
    )


def catalog(*, filters: Filters, zone, now: datetime) -> Catalog:
    """The coaches the filters show, in the chosen order, and each option's count: how many
    coaches the catalog would show with that option chosen and the rest as they are (parts
    of the day: that part alone). Several parts of the day mean any of them; several
    languages, all of them."""
    rows = list(_base(filters).select_related("user").order_by(*CATALOG_SORTS[filters.sort][1]))
    days = open_days(zone=zone, now=now) if rows else {}
    today = now.astimezone(zone).date()

    def count(changed: Filters) -> int:
        return sum(
            1
            for coach in rows
            if _speaks(coach.languages, changed.languages)
            and (not changed.by_time or _fits_time(days.get(coach.pk, set()), changed, today))
        )

    shown = [
        coach
        for coach in rows
        if _speaks(coach.languages, filters.languages)
        and (not filters.by_time or _fits_time(days.get(coach.pk, set()), filters, today))
    ]
    spoken = {code for coach in rows for code in coach.languages}

    return Catalog(
        coaches=shown,
        languages=[
            Option(code, name, count(_with_language(filters, code)), code in filters.languages)
            for code, name in LANGUAGES
            if code in spoken or code in filters.languages
        ],
        whens=[
            Option(value, label, count(replace(filters, when=value)), filters.when == value)
            for value, label in WHENS.items()
        ],
        dayparts=[
            Option(name, label, count(replace(filters, dayparts=(name,))), name in filters.dayparts)
            for name, (label, _, _) in DAYPARTS.items()
        ],
        weekends=Option("1", "Weekends", count(replace(filters, weekends=True)), filters.weekends),
    )
