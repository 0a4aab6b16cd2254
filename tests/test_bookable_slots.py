"""bookable_slots: availability minus busy time, minimum notice and DST, on the 15-minute grid."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from coaching.models import TimeOff
from coaching.selectors import bookable_slots
from tests.factories import CoachFactory

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY_9_TO_12 = [(day, 9 * 60, 12 * 60) for day in range(7)]
EARLY_SUNDAY = [(6, 1 * 60, 4 * 60)]  # Sunday 01:00–04:00, around the 02:00/03:00 changes
EARLY_SUNDAY_FROM_MIDNIGHT = [(6, 0, 3 * 60)]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def slots_on(coach, day: date, zone: ZoneInfo, minutes: int = 60) -> list[datetime]:
    """The slots that start on ``day`` in ``zone``, as local datetimes."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    found = bookable_slots(
        coach=coach,
        duration_minutes=minutes,
        start=start - timedelta(days=1),
        end=start + timedelta(days=2),
        now=utc(2000, 1, 1),
    )
    local = [slot.astimezone(zone) for slot in found]
    return [slot for slot in local if slot.date() == day]


def wall(slots: list[datetime]) -> list[str]:
    return [slot.strftime("%H:%M") for slot in slots]


HOURLY_9_TO_11 = ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "before", "change", "after"),
    [
        (NEW_YORK, date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)),
        (NEW_YORK, date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)),
        (BERLIN, date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)),
        (BERLIN, date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)),
    ],
)
def test_window_keeps_its_local_hours_on_both_sides_of_a_dst_change(zone, before, change, after):
    coach = CoachFactory(time_zone=zone.key, windows=EVERY_DAY_9_TO_12)

    for day in (before, change, after):
        slots = slots_on(coach, day, zone)
        assert wall(slots) == HOURLY_9_TO_11, day
        assert all(slot.utcoffset() == slots[0].utcoffset() for slot in slots)

    # The same local hours are different instants once the offset has changed.
    first_before = slots_on(coach, before, zone)[0].astimezone(UTC)
    first_after = slots_on(coach, after, zone)[0].astimezone(UTC)
    assert first_after - first_before != timedelta(days=2)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "spring_day"), [(NEW_YORK, date(2026, 3, 8)), (BERLIN, date(2026, 3, 29))]
)
def test_local_times_that_do_not_exist_yield_no_slot(zone, spring_day):
    coach = CoachFactory(time_zone=zone.key, windows=EARLY_SUNDAY)

    slots = slots_on(coach, spring_day, zone, minutes=30)

    # 02:00–02:59 does not exist that night; 03:30 is the last start that ends by 04:00.
    assert wall(slots) == ["01:00", "01:15", "01:30", "01:45", "03:00", "03:15", "03:30"]
    for slot in slots:
        assert slot.astimezone(UTC).astimezone(zone) == slot  # a real instant, not a shifted one
    # Every session is 30 real minutes, even the one that crosses the change.
    crossing = slots[3].astimezone(UTC) + timedelta(minutes=30)
    assert crossing.astimezone(zone).strftime("%H:%M") == "03:15"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "autumn_day", "repeated_hour", "last_start"),
    [
        (NEW_YORK, date(2026, 11, 1), "01", "02:30"),
        # In Berlin the repeated hour is 02:00-02:59, so the window 00:00-03:00 lasts four
        # real hours and a session starting at the first 02:45 ends at the second 02:15.
        (BERLIN, date(2026, 10, 25), "02", "02:45"),
    ],
)
def test_repeated_local_times_are_not_doubled(zone, autumn_day, repeated_hour, last_start):
    coach = CoachFactory(time_zone=zone.key, windows=EARLY_SUNDAY_FROM_MIDNIGHT)

    slots = slots_on(coach, autumn_day, zone, minutes=30)
    times = wall(slots)

    # The grid from 00:00, each wall time once, the repeated hour included once.
    grid = [f"{h:02d}:{m:02d}" for h in range(3) for m in (0, 15, 30, 45)]
    assert times == grid[: grid.index(last_start) + 1]
    assert len(set(times)) == len(times)
    repeated = [slot for slot in slots if slot.strftime("%H") == repeated_hour]
    assert len(repeated) == 4
    assert all(slot.fold == 0 for slot in repeated)


@pytest.mark.django_db
def test_nothing_is_bookable_before_now_plus_minimum_notice():
    coach = CoachFactory(time_zone="America/New_York", minimum_notice_minutes=12 * 60)
    now = datetime(2026, 11, 23, 8, 0, tzinfo=NEW_YORK).astimezone(UTC)  # Monday 08:00

    slots = bookable_slots(
        coach=coach, duration_minutes=60, start=now, end=now + timedelta(days=2), now=now
    )

    assert slots, "Tuesday is bookable"
    assert min(slots) == datetime(2026, 11, 24, 9, 0, tzinfo=NEW_YORK)
    assert all(slot >= now + timedelta(hours=12) for slot in slots)


@pytest.mark.django_db
def test_minimum_notice_cuts_into_a_window_on_the_grid():
    coach = CoachFactory(time_zone="America/New_York", minimum_notice_minutes=90)
    now = datetime(2026, 11, 23, 8, 50, tzinfo=NEW_YORK).astimezone(UTC)  # notice ends 10:20

    slots = bookable_slots(
        coach=coach, duration_minutes=30, start=now, end=now + timedelta(hours=8), now=now
    )

    assert wall([s.astimezone(NEW_YORK) for s in slots]) == [
        "10:30", "10:45", "11:00", "11:15", "11:30",
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_day_of_time_off_has_no_slots_and_the_days_around_it_do():
    coach = CoachFactory(time_zone="America/New_York")
    TimeOff.objects.create(
        coach=coach,
        start_date=date(2026, 11, 24),
        start_time=time(0, 0),
        end_date=date(2026, 11, 25),
        end_time=time(0, 0),
    )

    assert wall(slots_on(coach, date(2026, 11, 23), NEW_YORK)) == HOURLY_9_TO_11
    assert slots_on(coach, date(2026, 11, 24), NEW_YORK) == []
    assert wall(slots_on(coach, date(2026, 11, 25), NEW_YORK)) == HOURLY_9_TO_11


@pytest.mark.django_db
def test_a_busy_hour_blocks_every_slot_that_overlaps_it_and_no_other():
    coach = CoachFactory(time_zone="America/New_York")
    TimeOff.objects.create(
        coach=coach,
        start_date=date(2026, 11, 23),
        start_time=time(10, 0),
        end_date=date(2026, 11, 23),
        end_time=time(11, 0),
    )

    assert wall(slots_on(coach, date(2026, 11, 23), NEW_YORK)) == ["09:00", "11:00"]


@pytest.mark.django_db
def test_slots_are_the_same_instants_whoever_looks_at_them():
    coach = CoachFactory(time_zone="America/New_York")

    new_york = slots_on(coach, date(2026, 11, 23), NEW_YORK)
    in_berlin = [slot.astimezone(BERLIN) for slot in new_york]

    assert wall(in_berlin) == [
        "15:00", "15:15", "15:30", "15:45", "16:00", "16:15", "16:30", "16:45", "17:00",
    ]  # fmt: skip
    assert in_berlin[0].strftime("%Z") == "CET"


@pytest.mark.django_db
def test_touching_windows_make_one_stretch_even_across_midnight():
    coach = CoachFactory(
        time_zone="Europe/Berlin",
        windows=[
            (0, 22 * 60, 24 * 60),
            (1, 0, 2 * 60),
            (2, 9 * 60, 10 * 60),
            (2, 10 * 60, 11 * 60),
        ],
    )

    monday = slots_on(coach, date(2026, 11, 23), BERLIN)
    wednesday = slots_on(coach, date(2026, 11, 25), BERLIN)

    assert wall(monday) == ["22:00", "22:15", "22:30", "22:45", "23:00", "23:15", "23:30", "23:45"]
    assert wall(wednesday) == ["09:00", "09:15", "09:30", "09:45", "10:00"]


@pytest.mark.django_db
def test_slots_are_sorted_utc_instants_on_the_grid_and_inside_the_range():
    coach = CoachFactory(time_zone="Asia/Kolkata")  # a half-hour offset from UTC
    start = utc(2026, 11, 23, 4, 0)

    slots = bookable_slots(
        coach=coach, duration_minutes=45, start=start, end=start + timedelta(days=3), now=start
    )

    assert slots == sorted(slots)
    assert all(slot.tzinfo is UTC and start <= slot < start + timedelta(days=3) for slot in slots)
    local = [slot.astimezone(ZoneInfo("Asia/Kolkata")) for slot in slots]
    assert all(slot.minute % 15 == 0 for slot in local)
    assert wall(local[:1]) == ["09:30"]  # 04:00 UTC is 09:30 in Kolkata


@pytest.mark.django_db
def test_a_coach_without_windows_has_no_slots():
    coach = CoachFactory(windows=[])
    now = utc(2026, 11, 23)

    assert (
        bookable_slots(
            coach=coach, duration_minutes=30, start=now, end=now + timedelta(days=7), now=now
        )
        == []
    )


@pytest.mark.django_db
def test_a_session_that_began_before_the_range_still_blocks_the_slots_it_overlaps(
    alice, leadership
):
    from sessions_app.models import Session

    coach = CoachFactory(time_zone="America/New_York")
    coach.skills.add(leadership)
    began = datetime(2026, 11, 23, 9, 0, tzinfo=NEW_YORK)
    Session.objects.create(
        coach=coach, client=alice, skill=leadership, duration_minutes=60, starts_at=began,
        ends_at=began + timedelta(hours=1), status=Session.Status.SCHEDULED,
    )  # fmt: skip

    found = bookable_slots(
        coach=coach, duration_minutes=30, start=began + timedelta(minutes=30),
        end=began + timedelta(hours=3), now=utc(2000, 1, 1),
    )  # fmt: skip

    assert wall([slot.astimezone(NEW_YORK) for slot in found])[0] == "10:00"
