"""The clock-change note speaks of the difference between two people's clocks: it appears
only when that difference changes between now and the session, and names each change on
its own zone's calendar."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hse import clock

NEW_YORK, CHICAGO = ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")
BERLIN, PHOENIX = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Phoenix")
SYDNEY, ADELAIDE = ZoneInfo("Australia/Sydney"), ZoneInfo("Australia/Adelaide")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def note(at, zone, other, now) -> str:
    return clock.clock_change_note(at, zone=zone, other_zone=other, other_name="Bob", now=now)


def test_zones_that_change_on_the_same_local_day_get_no_note():
    # New York and Chicago both spring forward on Sun 14 Mar 2027 at 02:00 local, an hour
    # apart in UTC; Sydney and Adelaide both fall back on Sun 4 Apr 2027, half an hour
    # apart. The difference between each pair stays the same: nothing to say.
    assert note(utc(2027, 3, 20, 15), NEW_YORK, CHICAGO, utc(2027, 3, 1)) == ""
    assert note(utc(2027, 3, 20, 15), CHICAGO, NEW_YORK, utc(2027, 3, 1)) == ""
    assert note(utc(2027, 11, 20, 15), NEW_YORK, CHICAGO, utc(2027, 10, 1)) == ""
    assert note(utc(2027, 4, 10, 2), SYDNEY, ADELAIDE, utc(2027, 3, 20)) == ""
    assert note(utc(2027, 10, 10, 2), ADELAIDE, SYDNEY, utc(2027, 9, 20)) == ""


def test_new_york_and_berlin_across_the_weeks_only_the_us_has_changed():
    # US: Sun 14 Mar 2027; Europe: Sun 28 Mar 2027. The session falls between them.
    text = note(utc(2027, 3, 20, 15), BERLIN, NEW_YORK, utc(2027, 3, 1))
    assert text == (
        "Between now and then, clocks change for Bob on Sun 14 Mar (EST to EDT) but not for "
        "you. The times above are right for the day of the session."
    )
    # Past both changes the difference is back where it was, but it changed on the way.
    text = note(utc(2027, 4, 5, 15), NEW_YORK, BERLIN, utc(2027, 3, 1))
    assert "different dates for you and Bob: yours on Sun 14 Mar (EST to EDT), " in text
    assert "Bob’s on Sun 28 Mar (CET to CEST)" in text


def test_a_zone_without_clock_changes_against_one_with():
    assert note(utc(2027, 3, 20, 15), PHOENIX, NEW_YORK, utc(2027, 3, 1)) == (
        "Between now and then, clocks change for Bob on Sun 14 Mar (EST to EDT) but not for "
        "you. The times above are right for the day of the session."
    )
    assert "clocks change for you on Sun 14 Mar" in note(
        utc(2027, 3, 20, 15), NEW_YORK, PHOENIX, utc(2027, 3, 1)
    )
