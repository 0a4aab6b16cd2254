"""Every time a person reads names its instant: the helper (``hse.clock``) at the DST edges,
a property test over the real session page and the real emails, and a guard that keeps
Django's ``T`` (which prints nothing in a repeated hour) out of the templates."""

import html
import itertools
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hse import clock
from hse.emails import build_email
from marketplace.views import _labelled_day
from sessions_app.lifecycle import confirmation_closes_at, room_opens_at
from sessions_app.models import Session

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
SYDNEY = ZoneInfo("Australia/Sydney")
SANTIAGO = ZoneInfo("America/Santiago")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
UTC_ZONE = ZoneInfo("UTC")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- The helper at the edges ------------------------------------------------------------------

IN_2026 = utc(2026, 6, 1)


def test_new_yorks_repeated_hour_is_told_apart_by_its_abbreviation():
    first, second = utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)  # both 01:30 on the wall

    assert clock.when(first, NEW_YORK, IN_2026) == "Sun 1 Nov, 01:30 EDT"
    assert clock.when(second, NEW_YORK, IN_2026) == "Sun 1 Nov, 01:30 EST"
    assert clock.span(first, second, NEW_YORK, IN_2026) == "Sun 1 Nov, 01:30 EDT – 01:30 EST"
    # Seen from another year, the year is named.
    assert (
        clock.span(first, second, NEW_YORK, utc(2025, 12, 31, 12))
        == "Sun 1 Nov 2026, 01:30 EDT – 01:30 EST"
    )
    # A deadline an hour after another is not the same label.
    assert clock.when(first, NEW_YORK, IN_2026) != clock.when(second, NEW_YORK, IN_2026)


def test_a_range_across_the_spring_gap_is_labelled_at_both_ends():
    start = utc(2026, 3, 8, 6, 30)  # 01:30 EST; at 02:00 the clocks jump to 03:00 EDT
    assert clock.when(start, NEW_YORK, IN_2026) == "Sun 8 Mar, 01:30 EST"
    assert clock.span(start, start + timedelta(hours=1), NEW_YORK, IN_2026) == (
        "Sun 8 Mar, 01:30 EST – 03:30 EDT"
    )
    assert clock.hours(start, start + timedelta(hours=1), NEW_YORK, IN_2026) == (
        "01:30 EST – 03:30 EDT"
    )
    # Otherwise one abbreviation serves the whole range.
    assert clock.span(utc(2026, 3, 9, 13), utc(2026, 3, 9, 14), NEW_YORK, IN_2026) == (
        "Mon 9 Mar, 09:00–10:00 EDT"
    )


def test_berlins_last_sunday_of_october_repeats_0230():
    first, second = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)

    assert clock.when(first, BERLIN, IN_2026) == "Sun 25 Oct, 02:30 CEST"
    assert clock.when(second, BERLIN, IN_2026) == "Sun 25 Oct, 02:30 CET"
    assert clock.span(first, second, BERLIN, IN_2026, long=True) == (
        "Sunday 25 October, 02:30 CEST – 02:30 CET"
    )


def test_zones_without_a_name_show_their_offset():
    at = utc(2026, 1, 14, 9, 0)

    assert clock.when(at, KATHMANDU, IN_2026) == "Wed 14 Jan, 14:45 UTC+5:45"
    assert clock.when(at, SANTIAGO, IN_2026) == "Wed 14 Jan, 06:00 UTC-3"  # summer there
    assert clock.when(utc(2026, 7, 14, 9), SANTIAGO, IN_2026) == "Tue 14 Jul, 05:00 UTC-4"
    assert clock.when(at, UTC_ZONE, IN_2026) == "Wed 14 Jan, 09:00 UTC"


def test_sydneys_april_fall_back_repeats_0230():
    first, second = utc(2026, 4, 4, 15, 30), utc(2026, 4, 4, 16, 30)

    assert clock.when(first, SYDNEY, IN_2026) == "Sun 5 Apr, 02:30 AEDT"
    assert clock.when(second, SYDNEY, IN_2026) == "Sun 5 Apr, 02:30 AEST"


def test_a_range_past_midnight_names_both_days():
    start = utc(2026, 1, 14, 22, 30)
    assert clock.span(start, start + timedelta(hours=1), BERLIN, IN_2026) == (
        "Wed 14 Jan, 23:30 CET – Thu 15 Jan, 00:30 CET"
    )
    # Across New Year, seen in the old one: the new year is named.
    eve = utc(2026, 12, 31, 22, 30)
    assert clock.span(eve, eve + timedelta(hours=1), BERLIN, utc(2026, 12, 1)) == (
        "Thu 31 Dec, 23:30 CET – Fri 1 Jan 2027, 00:30 CET"
    )


def test_both_clocks_show_the_reader_first_then_the_other_person():
    start = utc(2026, 1, 13, 14)
    end = start + timedelta(hours=1)
    mine = clock.both_clocks(
        start, end, zone=BERLIN, other_zone=NEW_YORK, other_name="Bob", now=IN_2026
    )
    assert mine == "Tue 13 Jan, 15:00–16:00 CET for you · 09:00–10:00 EST for Bob"
    # Another day for the other person: named.
    late = utc(2026, 1, 13, 23, 30)
    assert clock.both_clocks(
        late, None, zone=KATHMANDU, other_zone=NEW_YORK, other_name="Bob", now=IN_2026
    ) == ("Wed 14 Jan, 05:15 UTC+5:45 for you · Tue 13 Jan, 18:30 EST for Bob")
    # The same wall time and abbreviation: one label.
    assert clock.both_clocks(
        start, end, zone=NEW_YORK, other_zone=ZoneInfo("America/Toronto"), other_name="Bob",
        now=IN_2026,
    ) == "Tue 13 Jan, 09:00–10:00 EST for you and Bob"  # fmt: skip
    # A reader whose range spans two days: the other person's day is named.
    night = utc(2026, 1, 13, 22, 30)
    assert clock.both_clocks(
        night, night + timedelta(hours=1), zone=BERLIN, other_zone=NEW_YORK, other_name="Bob",
        now=IN_2026,
    ) == (
        "Tue 13 Jan, 23:30 CET – Wed 14 Jan, 00:30 CET for you · Tue 13 Jan, 17:30–18:30 EST "
        "for Bob"
    )  # fmt: skip


def test_the_other_persons_year_follows_the_readers_year():
    # 23:30 on New Year's Eve in New York is already next year in Berlin.
    start = utc(2027, 1, 1, 4, 30)
    now = utc(2026, 12, 31, 23, 30)  # 2027 in Berlin, still 2026 in New York
    assert clock.other_clock(
        start, None, zone=BERLIN, other_zone=NEW_YORK, other_name="Bob", now=now
    ) == ("Thu 31 Dec 2026, 23:30 EST for Bob")


def test_the_note_tells_when_clocks_change_on_different_dates():
    # In 2026 the US moves on 8 March, Europe on 29 March; both in the same direction.
    note = clock.clock_change_note(
        utc(2026, 4, 1, 14), zone=BERLIN, other_zone=NEW_YORK, other_name="Bob",
        now=utc(2026, 2, 1),
    )  # fmt: skip
    assert note == (
        "Between now and then, clocks change on different dates for you and Bob: "
        "yours on Sun 29 Mar (CET to CEST), Bob’s on Sun 8 Mar (EST to EDT). "
        "The times above are right for the day of the session."
    )
    # Only one of them changes: said so.
    assert clock.clock_change_note(
        utc(2026, 11, 5), zone=KATHMANDU, other_zone=BERLIN, other_name="Bob",
        now=utc(2026, 10, 1),
    ) == (
        "Between now and then, clocks change for Bob on Sun 25 Oct (CEST to CET) but not for "
        "you. The times above are right for the day of the session."
    )  # fmt: skip
    # Sydney falls back while Berlin springs forward.
    assert "yours on Sun 5 Apr (AEDT to AEST), Bob’s on Sun 29 Mar (CET to CEST)" in (
        clock.clock_change_note(
            utc(2026, 4, 10), zone=SYDNEY, other_zone=BERLIN, other_name="Bob",
            now=utc(2026, 3, 1),
        )
    )  # fmt: skip
    # Both change together (two EU zones), none changes, or the session is over: no note.
    for zone, other, now, at in (
        (BERLIN, ZoneInfo("Europe/Paris"), utc(2026, 3, 1), utc(2026, 4, 1)),
        (BERLIN, NEW_YORK, utc(2026, 5, 1), utc(2026, 6, 1)),
        (BERLIN, NEW_YORK, utc(2026, 4, 1), utc(2026, 2, 1)),
    ):
        assert (
            clock.clock_change_note(at, zone=zone, other_zone=other, other_name="Bob", now=now)
            == ""
        )


def test_relative_day_counts_calendar_days_in_the_readers_zone():
    now = utc(2026, 11, 30, 7)  # 08:00 in Berlin, 02:00 in New York
    later_today = utc(2026, 11, 30, 14)
    assert clock.relative_day(later_today, BERLIN, now) == "today at 15:00 CET"
    assert clock.relative_day(later_today, NEW_YORK, now) == "today at 09:00 EST"
    assert clock.relative_day(utc(2026, 12, 1, 6), BERLIN, now) == "tomorrow at 07:00 CET"
    assert clock.relative_day(utc(2026, 12, 3, 6), BERLIN, now) == "on Thu 3 Dec at 07:00 CET"
    # 20 hours ahead but after midnight in Kathmandu: tomorrow there, today in New York.
    soon = utc(2026, 12, 1, 3)
    assert clock.relative_day(soon, KATHMANDU, now) == "tomorrow at 08:45 UTC+5:45"
    assert clock.relative_day(soon, NEW_YORK, now) == "today at 22:00 EST"


@freeze_time("2026-06-01 12:00:00")
def test_the_template_filters_use_the_viewers_zone_and_this_year():
    template = Template(
        "{% load hse %}{{ a|when }} | {{ b|when }} | {{ a|clock }} | {{ c|when }}"
        " | {{ a|zone_abbr }}"
    )
    context = Context(
        {"a": utc(2026, 11, 1, 5, 30), "b": utc(2026, 11, 1, 6, 30), "c": utc(2027, 1, 5, 12)}
    )
    with timezone.override(NEW_YORK):
        assert template.render(context) == (
            "Sun 1 Nov, 01:30 EDT | Sun 1 Nov, 01:30 EST | 01:30 EDT | Tue 5 Jan 2027, 07:00 EST"
            " | EDT"
        )
    with timezone.override(KATHMANDU):
        assert template.render(context).endswith("| UTC+5:45")


def test_a_day_whose_clocks_change_labels_each_time_instead_of_its_heading():
    fall_back = [utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)]
    assert clock.shared_abbreviation(fall_back, NEW_YORK) == ""
    assert clock.shared_abbreviation(fall_back[:2], NEW_YORK) == "EDT"
    _, abbr, labelled = _labelled_day(date(2026, 11, 1), fall_back, NEW_YORK)
    assert abbr == "" and [label for _, label in labelled] == [
        "00:30 EDT",
        "01:30 EDT",
        "01:30 EST",
    ]
    _, abbr, labelled = _labelled_day(date(2026, 11, 1), fall_back[:2], NEW_YORK)
    assert abbr == "EDT" and [label for _, label in labelled] == ["00:30", "01:30"]


# --- No Django "T" in what people read --------------------------------------------------------

# A format given to |date, |time or Django's date_format: a "T" not escaped by a backslash.
DATE_FORMAT = re.compile(r"""(?:\|(?:date|time):|date_format\([^,]+,\s*)(["'])(?P<format>.*?)\1""")


def _unescaped_t(fmt: str) -> bool:
    return bool(re.search(r"(?<!\\)T", fmt))


def test_the_guard_finds_a_t_format():
    assert any(_unescaped_t(m["format"]) for m in DATE_FORMAT.finditer('{{ x|date:"H:i T" }}'))
    assert not any(
        _unescaped_t(m["format"]) for m in DATE_FORMAT.finditer(r"{{ x|date:'Y-m-d\TH:i' }}")
    )


def test_no_template_or_code_formats_a_time_with_djangos_t():
    root = Path(django_settings.BASE_DIR)
    files = itertools.chain(
        (root / "templates").rglob("*.html"),
        (root / "templates").rglob("*.txt"),
        (p for p in root.glob("*/*.py") if p.parts[-2] not in {".venv", "tests", "bench"}),
    )
    found = [
        f"{path.relative_to(root)}: {match[0]}"
        for path in files
        for match in DATE_FORMAT.finditer(path.read_text(encoding="utf-8"))
        if _unescaped_t(match["format"])
    ]
    assert found == []


# --- The property: every label on the real page and in the real emails ------------------------

ZONES = {  # every abbreviation here names one zone
    "America/New_York", "Europe/Berlin", "Asia/Kathmandu", "Australia/Sydney",
    "America/Santiago", "America/Los_Angeles", "UTC",
}  # fmt: skip
MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                                      "Sep", "Oct", "Nov", "Dec"), 1)}  # fmt: skip
LABEL = re.compile(
    r"(?:(?P<rel>today|tomorrow) at "
    r"|(?P<wd>Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]* (?P<d>\d{1,2}) (?P<mon>[A-Z][a-z]{2})[a-z]*"
    r"(?: (?P<y>\d{4}))?(?:, | at ))?"
    r"(?P<t>\d\d:\d\d)(?:–(?P<t2>\d\d:\d\d))? (?P<abbr>UTC[+-]\d{1,2}(?::\d\d)?|[A-Z]{3,5})\b"
    r"(?P<after> for (?:you|\w+))?"
)


def _instant(day: date, hhmm: str, abbr: str) -> tuple[datetime, str]:
    """The one instant and zone a label can mean among ZONES (the test fails otherwise)."""
    hour, minute = map(int, hhmm.split(":"))
    found = set()
    for name in ZONES:
        zone = ZoneInfo(name)
        for fold in (0, 1):
            local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone, fold=fold)
            instant = (local.replace(tzinfo=None) - local.utcoffset()).replace(tzinfo=UTC)
            wall = clock.local_time(instant, zone).replace(tzinfo=None)
            exists = wall == local.replace(tzinfo=None)  # not in a spring gap
            if exists and clock.abbreviation(instant, zone) == abbr:
                found.add((instant, name))
    assert len(found) == 1, f"{day} {hhmm} {abbr} means {found}"
    return found.pop()


def read_labels(
    text: str, *, zone: ZoneInfo, now: datetime
) -> list[tuple[str, datetime, str, str]]:
    """(the label as read, its instant, its zone, "you"/"other"/"") for each time in
    ``text``; a time without a day has the day last read."""
    today = now.astimezone(zone).date()
    this_year = today.year
    current = None
    labels = []
    for match in LABEL.finditer(text):
        if match["rel"]:
            current = today + timedelta(days=1 if match["rel"] == "tomorrow" else 0)
        elif match["d"]:
            current = date(int(match["y"] or this_year), MONTHS[match["mon"]], int(match["d"]))
        assert current is not None, f"a time without a day: {match[0]!r}"
        whose = {None: "", " for you": "you"}.get(match["after"], "other")
        times = [match["t"]] + ([match["t2"]] if match["t2"] else [])
        for hhmm in times:
            instant, name = _instant(current, hhmm, match["abbr"])
            labels.append((f"{current} {hhmm} {match['abbr']}", instant, name, whose))
    return labels


def _visible(page: str) -> str:
    main = page.split('id="session-main"', 1)[1]
    text = re.sub(r"<[^>]+>", " ", main)
    return re.sub(r"\s+", " ", html.unescape(text))


def check(text: str, *, reader: str, other: str, expected: set, now: datetime) -> set:
    """Every label names one of ``expected`` in the reader's or the other's zone (the one its
    phrase says), and no label names two instants."""
    labels = read_labels(text, zone=ZoneInfo(reader), now=now)
    assert labels, text
    meaning: dict[str, set] = {}
    for label, instant, name, whose in labels:
        assert instant in expected, (label, instant, text)
        assert name in {reader, other}, (label, name)
        if whose == "you":
            assert name == reader, (label, text)
        elif whose == "other" and reader != other:
            assert name == other, (label, text)
        meaning.setdefault(label, set()).add(instant)
    assert all(len(instants) == 1 for instants in meaning.values()), meaning
    return {instant for _, instant, _, _ in labels}


grid_instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda t: t.replace(minute=t.minute // 15 * 15, second=0, microsecond=0, tzinfo=UTC)
)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=grid_instants,
    minutes=st.sampled_from((30, 60, 90)),
    client_zone=st.sampled_from(sorted(ZONES)),
    coach_zone=st.sampled_from(sorted(ZONES)),
    ahead=st.sampled_from(
        (
            timedelta(hours=2),
            timedelta(hours=20),
            timedelta(days=3),
            timedelta(days=40),
            timedelta(days=150),
        )
    ),
)
# New York's repeated hour: 01:30 EDT and 01:30 EST, an hour apart; and the spring gap.
@example(utc(2026, 11, 1, 5, 30), 60, "America/New_York", "Europe/Berlin", timedelta(days=40))
@example(utc(2026, 11, 1, 5, 0), 90, "America/New_York", "America/New_York", timedelta(hours=2))
@example(utc(2026, 3, 8, 6, 30), 60, "America/New_York", "Asia/Kathmandu", timedelta(days=3))
@example(utc(2026, 4, 4, 15, 30), 60, "Australia/Sydney", "America/Santiago", timedelta(days=40))
def test_every_label_names_its_instant_and_zone(
    client, alice, bob, skill, start, minutes, client_zone, coach_zone, ahead
):
    alice.time_zone, bob.user.time_zone = client_zone, coach_zone
    alice.save(update_fields=["time_zone"])
    bob.user.save(update_fields=["time_zone"])
    now = start - ahead
    Session.objects.all().delete()
    session = Session.objects.create(
        coach=bob, client=alice, skill=skill, duration_minutes=minutes, starts_at=start,
        ends_at=start + timedelta(minutes=minutes), status=Session.Status.SCHEDULED,
    )  # fmt: skip
    session = Session.objects.select_related("coach__user", "client", "skill").get()
    page_instants = {session.starts_at, session.ends_at, room_opens_at(session)}
    page_instants.add(confirmation_closes_at(session))

    with freeze_time(now):
        people = ((alice, client_zone, coach_zone), (bob.user, coach_zone, client_zone))
        for viewer, reader, other in people:
            client.force_login(viewer)
            page = client.get(reverse("sessions:detail", args=[session.pk])).content.decode()
            seen = check(
                _visible(page), reader=reader, other=other, expected=page_instants, now=now
            )
            assert {session.starts_at, session.ends_at} <= seen

            partner = bob.user if viewer == alice else alice
            for template, context in (
                ("booking_confirmation", {"session": session, "other": partner, "url": "/"}),
                ("session_update", {"session": session, "other": partner, "kind": "reminder"}),
            ):
                email = build_email(to=viewer, subject="s", template=template, context=context)
                for text in (email.body, _email_text(email.alternatives[0][0])):
                    times = {session.starts_at, session.ends_at}
                    seen = check(text, reader=reader, other=other, expected=times, now=now)
                    assert seen == times


def _email_text(body: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))
