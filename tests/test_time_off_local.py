"""Time off is kept on the coach's wall clock: it moves with a coach who changes zone, its DST
gaps and repeated hours are read one deliberate way, and adding it, or moving the account to
another zone, over booked sessions asks first and lists them."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import User
from coaching.availability import wall_interval
from coaching.models import CoachProfile, TimeOff
from coaching.selectors import bookable_slots
from coaching.services import CoachingError, time_off_add
from sessions_app.models import Session

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # a Saturday
FRIDAY = date(2026, 12, 4)
HTMX = {"HX-Request": "true"}
TIME_OFF_ADD = reverse("coaching:time_off_add")
SETTINGS = reverse("accounts:settings")


def local_slots(coach, day: date, zone) -> list[str]:
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    slots = bookable_slots(
        coach=coach, duration_minutes=60, start=start, end=start + timedelta(days=1), now=NOW
    )
    return [f"{slot.astimezone(zone):%H:%M}" for slot in slots]


def book(coach, client_user, skill, starts_at) -> Session:
    return Session.objects.create(
        coach=coach, client=client_user, skill=skill, duration_minutes=60, starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1), status=Session.Status.SCHEDULED,
    )  # fmt: skip


@pytest.fixture
def berta(db):
    """A coach in Berlin (account and hours), weekdays 08:00–13:00."""
    from tests.factories import CoachFactory

    return CoachFactory(
        user__display_name="Berta Coach",
        user__time_zone="Europe/Berlin",
        time_zone="Europe/Berlin",
        windows=[(d, 8 * 60, 13 * 60) for d in range(5)],
    )


@freeze_time(NOW)
def test_time_off_keeps_its_local_hours_when_the_coach_moves_to_new_york(client, berta):
    time_off_add(
        coach=berta,
        starts=datetime.combine(FRIDAY, time(9)),
        ends=datetime.combine(FRIDAY, time(12)),
        note="",
        now=NOW,
    )
    assert local_slots(berta, FRIDAY, BERLIN) == ["08:00", "12:00"]

    client.force_login(berta.user)
    response = client.post(
        SETTINGS, {"display_name": "Berta Coach", "time_zone": "America/New_York"}
    )

    assert response.status_code == 302  # nothing booked: no question
    berta.refresh_from_db()
    assert berta.time_zone == "America/New_York"  # the hours moved with the account
    # Friday 09:00–12:00 off is now 09:00–12:00 in New York, not 03:00–06:00.
    assert local_slots(berta, FRIDAY, NEW_YORK) == ["08:00", "12:00"]
    off = TimeOff.objects.get()
    assert off.instants() == (
        datetime(2026, 12, 4, 14, 0, tzinfo=UTC),
        datetime(2026, 12, 4, 17, 0, tzinfo=UTC),
    )


@freeze_time(NOW)
def test_a_profile_kept_in_its_own_zone_stays_when_the_account_moves(client, berta):
    CoachProfile.objects.filter(pk=berta.pk).update(time_zone="Europe/Lisbon")
    client.force_login(berta.user)

    client.post(SETTINGS, {"display_name": "Berta Coach", "time_zone": "America/New_York"})

    berta.refresh_from_db()
    assert berta.time_zone == "Europe/Lisbon"


@pytest.mark.parametrize(
    ("starts", "ends", "expected"),
    [
        # Spring forward in New York (14 Mar 2027, 02:00 -> 03:00): a start in the gap moves
        # forward to the jump, an end in the gap is the jump too.
        ((2027, 3, 14, 2, 30), (2027, 3, 14, 4, 0), ("07:00", "08:00")),
        ((2027, 3, 14, 0, 0), (2027, 3, 14, 2, 30), ("05:00", "07:00")),
        # Fall back (1 Nov 2026, 02:00 EDT -> 01:00 EST): a repeated start is its first
        # occurrence (EDT), a repeated end its second (EST): the whole repeated hour is off.
        ((2026, 11, 1, 1, 0), (2026, 11, 1, 1, 30), ("05:00", "06:30")),
        ((2026, 11, 1, 1, 30), (2026, 11, 1, 3, 0), ("05:30", "08:00")),
    ],
)
def test_a_wall_time_in_a_gap_moves_forward_and_a_repeated_one_covers_the_repeat(
    starts, ends, expected
):
    begins, finishes = wall_interval(datetime(*starts), datetime(*ends), NEW_YORK)
    assert (f"{begins:%H:%M}", f"{finishes:%H:%M}") == expected
    assert begins.tzinfo == UTC


@freeze_time(datetime(2027, 3, 1, 12, 0, tzinfo=UTC))
def test_time_off_over_the_spring_gap_blocks_the_real_hours_and_one_inside_it_is_refused(bob):
    bob.availability_windows.update(start_minute=0, end_minute=24 * 60)
    CoachProfile.objects.filter(pk=bob.pk).update(minimum_notice_minutes=0)
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    sunday = date(2027, 3, 14)
    bob.availability_windows.create(weekday=6, start_minute=0, end_minute=24 * 60)
    time_off_add(
        coach=bob,
        starts=datetime.combine(sunday, time(2, 30)),
        ends=datetime.combine(sunday, time(5)),
        note="",
        now=now,
    )
    start = datetime.combine(sunday, time(), NEW_YORK).astimezone(UTC)
    slots = bookable_slots(
        coach=bob, duration_minutes=60, start=start, end=start + timedelta(days=1), now=now
    )
    local = [f"{slot.astimezone(NEW_YORK):%H:%M}" for slot in slots]
    # The clock jumps from 02:00 EST to 03:00 EDT, and 03:00–05:00 EDT is off: an hour
    # from 01:00 EST ends as it starts; one from 01:15 runs into it.
    assert "01:00" in local and "01:15" not in local
    assert "04:45" not in local and "05:00" in local

    with pytest.raises(CoachingError, match="skips that time"):
        time_off_add(
            coach=bob,
            starts=datetime.combine(sunday, time(2, 10)),
            ends=datetime.combine(sunday, time(2, 40)),
            note="",
            now=now,
        )
    assert TimeOff.objects.count() == 1


@freeze_time(NOW)
def test_time_off_with_times_is_kept_as_entered_and_shown_on_the_coachs_clock(client, bob):
    client.force_login(bob.user)

    response = client.post(
        TIME_OFF_ADD,
        {"first_day": "2026-12-04", "start_time": "09:00", "last_day": "2026-12-04",
         "end_time": "12:30", "note": "Dentist"},
        headers=HTMX,
    )  # fmt: skip

    off = TimeOff.objects.get()
    assert (off.start_date, off.start_time, off.end_date, off.end_time) == (
        FRIDAY, time(9), FRIDAY, time(12, 30)
    )  # fmt: skip
    assert "Fri 4 Dec 2026, 09:00–12:30" in response.content.decode()
    assert local_slots(bob, FRIDAY, NEW_YORK) == []  # 09:00–12:00 hours, all off but 12:30


@freeze_time(NOW)
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "first_day": "2026-12-04",
                "start_time": "12:00",
                "last_day": "2026-12-04",
                "end_time": "09:00",
            },
            "must end after it starts",
        ),
        (
            {"first_day": "2026-12-04", "start_time": "25:00", "last_day": "2026-12-04"},
            "Enter a valid time",
        ),
        ({"first_day": "2999-12-31", "last_day": "2999-12-31"}, "too far ahead"),
        ({"first_day": "2026-12-04", "last_day": "2028-01-04"}, "at most a year"),
        (
            {"first_day": "2026-11-21", "last_day": "2026-11-21", "end_time": "06:00"},
            "already over",
        ),
    ],
)
def test_bad_times_off_say_why_and_change_nothing(client, bob, data, message):
    client.force_login(bob.user)

    response = client.post(TIME_OFF_ADD, data, headers=HTMX)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TimeOff.objects.exists()


@freeze_time(NOW)
def test_time_off_over_booked_sessions_lists_them_and_adds_only_when_confirmed(
    client, alice, bob, leadership
):
    at_ten = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # Friday 10:00 in New York
    session = book(bob, alice, leadership, at_ten)
    book(bob, alice, leadership, at_ten + timedelta(days=3))  # Monday: not in the time off
    client.force_login(bob.user)
    data = {"first_day": "2026-12-04", "last_day": "2026-12-04", "note": "Away"}

    asked = client.post(TIME_OFF_ADD, data, headers=HTMX).content.decode()

    assert not TimeOff.objects.exists()
    assert "You have 1 session booked in that time" in asked
    assert reverse("sessions:detail", args=[session.pk]) in asked
    assert "this session stays booked" in asked and "Add anyway" in asked

    added = client.post(TIME_OFF_ADD, {**data, "confirm": "1"}, headers=HTMX).content.decode()

    assert TimeOff.objects.get().note == "Away"
    assert "Add anyway" not in added
    session.refresh_from_db()
    assert session.status == Session.Status.SCHEDULED  # still booked, as the page said


@freeze_time(NOW)
def test_time_off_over_past_or_cancelled_sessions_asks_nothing(client, alice, bob, leadership):
    cancelled = book(bob, alice, leadership, datetime(2026, 12, 4, 15, 0, tzinfo=UTC))
    Session.objects.filter(pk=cancelled.pk).update(status=Session.Status.CANCELLED)
    client.force_login(bob.user)

    response = client.post(TIME_OFF_ADD, {"first_day": "2026-12-04", "last_day": "2026-12-04"})

    assert response.status_code == 302
    assert TimeOff.objects.count() == 1


@freeze_time(NOW)
def test_moving_the_account_over_booked_sessions_lists_them_and_changes_nothing_until_confirmed(
    client, alice, bob, leadership
):
    User.objects.filter(pk=bob.user.pk).update(time_zone="America/New_York")
    bob.user.refresh_from_db()
    at_ten = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York: in hours
    session = book(bob, alice, leadership, at_ten)
    client.force_login(bob.user)
    move = {"display_name": "Bob Coach", "time_zone": "Europe/Berlin"}

    asked = client.post(SETTINGS, move)

    # In Berlin his 09:00–12:00 would be 03:00–06:00 New York time: the session sits outside.
    body = asked.content.decode()
    assert asked.status_code == 200
    assert "Change your zone to Europe/Berlin?" in body
    assert reverse("sessions:detail", args=[session.pk]) in body
    assert "Leadership with Alice Client" in body and "Change anyway" in body
    bob.refresh_from_db()
    bob.user.refresh_from_db()
    assert (bob.user.time_zone, bob.time_zone) == ("America/New_York", "America/New_York")

    done = client.post(SETTINGS, {**move, "confirm": "1"})

    assert done.status_code == 302
    bob.refresh_from_db()
    bob.user.refresh_from_db()
    assert (bob.user.time_zone, bob.time_zone) == ("Europe/Berlin", "Europe/Berlin")
    session.refresh_from_db()
    assert session.starts_at == at_ten and session.status == Session.Status.SCHEDULED


@freeze_time(NOW)
def test_moving_into_time_off_asks_too_and_a_move_that_keeps_sessions_in_hours_does_not(
    client, alice, bob, leadership
):
    User.objects.filter(pk=bob.user.pk).update(time_zone="America/New_York")
    bob.availability_windows.update(start_minute=0, end_minute=24 * 60)
    book(bob, alice, leadership, datetime(2026, 12, 4, 15, 0, tzinfo=UTC))  # Fri 10:00 NY
    # Friday 16:00–17:00 on his clock: in New York it misses the session, in Berlin
    # (where the session is 16:00) it covers it.
    TimeOff.objects.create(
        coach=bob, start_date=FRIDAY, start_time=time(16), end_date=FRIDAY, end_time=time(17)
    )
    client.force_login(bob.user)

    to_berlin = client.post(SETTINGS, {"display_name": "Bob Coach", "time_zone": "Europe/Berlin"})
    to_chicago = client.post(
        SETTINGS, {"display_name": "Bob Coach", "time_zone": "America/Chicago"}
    )

    assert "Change anyway" in to_berlin.content.decode()
    assert to_chicago.status_code == 302  # 09:00 in Chicago: still in his all-day hours
    bob.refresh_from_db()
    assert bob.time_zone == "America/Chicago"


@freeze_time(NOW)
def test_a_client_changes_zone_without_a_question(client, alice):
    client.force_login(alice)

    response = client.post(SETTINGS, {"display_name": "Alice", "time_zone": "Asia/Tokyo"})

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.time_zone == "Asia/Tokyo"


@freeze_time(NOW)
def test_a_new_zone_on_the_profile_over_booked_sessions_asks_first_too(
    client, alice, bob, leadership
):
    session = book(bob, alice, leadership, datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    client.force_login(bob.user)
    profile = {
        "headline": "Leadership coach", "bio": "I help people grow.", "skills": [leadership.pk],
        "languages": ["en"], "hourly_price": "100", "minimum_notice_hours": "0",
        "time_zone": "Asia/Tokyo",
    }  # fmt: skip
    url = reverse("coaching:profile_edit")

    asked = client.post(url, profile)

    body = asked.content.decode()
    assert asked.status_code == 200 and "Move your hours to Asia/Tokyo?" in body
    assert reverse("sessions:detail", args=[session.pk]) in body and "Save anyway" in body
    bob.refresh_from_db()
    assert bob.time_zone == "America/New_York" and bob.headline != "Leadership coach"

    assert client.post(url, {**profile, "confirm": "1"}).status_code == 302
    bob.refresh_from_db()
    assert bob.time_zone == "Asia/Tokyo"
