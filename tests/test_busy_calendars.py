"""Coaches' external calendars: served for real by a local HTTP server, read by the sweep,
their events (every occurrence of a recurring one) blocking the coach's times; a slow,
huge or broken calendar is skipped with a message and stops nothing; an address on our own
side of the network is refused, before connecting and after every redirect."""

import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from freezegun import freeze_time

from coaching import calendar_fetch, tasks
from coaching.busy_calendars import (
    SWEEP_BUDGET_SECONDS,
    busy_calendar_add,
    busy_calendar_refresh_now,
    busy_calendar_remove,
    busy_calendars_refresh_due,
    busy_from_ics,
)
from coaching.calendar_fetch import FetchError, address_allowed, fetch
from coaching.models import BusyCalendar, BusyTime
from coaching.selectors import bookable_slots
from coaching.services import CoachingError
from hse.schedules import PERIODIC_TASKS
from requests_app.services import RequestError, request_propose
from tests.test_session_lifecycle import T

pytestmark = pytest.mark.django_db

NOW = T - timedelta(days=7)  # Monday 23 Nov 2026, 14:00 UTC
TEST_HOST = "127.0.0.2"  # the one private address the tests let through

# Tuesdays 10:00-11:00 in New York, every week, from the Tuesday after NOW.
WEEKLY = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VTIMEZONE\r
TZID:America/New_York\r
BEGIN:STANDARD\r
DTSTART:19701101T020000\r
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r
TZOFFSETFROM:-0400\r
TZOFFSETTO:-0500\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700308T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r
TZOFFSETFROM:-0500\r
TZOFFSETTO:-0400\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:weekly-1@test\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=America/New_York:20261124T100000\r
DTEND;TZID=America/New_York:20261124T110000\r
RRULE:FREQ=WEEKLY\r
SUMMARY:Team meeting\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:free-1@test\r
DTSTAMP:20261101T000000Z\r
DTSTART:20261125T140000Z\r
DTEND:20261125T170000Z\r
TRANSP:TRANSPARENT\r
SUMMARY:Marked free: blocks nothing\r
END:VEVENT\r
END:VCALENDAR\r
"""
ETAG = '"weekly-v1"'


class Server:
    """A real HTTP server on TEST_HOST; each path answers as ``routes`` says, and every
    request's path and headers are kept in ``seen``."""

    def __init__(self):
        self.routes, self.seen = {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.seen.append((self.path, dict(self.headers)))
                server.routes.get(self.path, not_found)(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((TEST_HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = TEST_HOST) -> str:
        return f"http://{host}:{self.httpd.server_port}{path}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def not_found(handler):
    handler.send_response(404)
    handler.end_headers()


def calendar_file(body: bytes, etag: str = ETAG):
    def answer(handler):
        if handler.headers.get("If-None-Match") == etag:
            handler.send_response(304)
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/calendar")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("ETag", etag)
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def dripping(handler):
    """Sends a calendar a few bytes at a time, each in time for a socket timeout, never
    done in time for the whole read."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/calendar")
    handler.end_headers()
    try:
        for _ in range(100):
            handler.wfile.write(b"X-PAD:1\r\n")
            handler.wfile.flush()
            time.sleep(0.1)
    except OSError:
        pass  # the reader gave up, as it should


def endless(handler):
    """A calendar far past the size limit, with no Content-Length to warn of it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/calendar")
    handler.end_headers()
    try:
        handler.wfile.write(b"BEGIN:VCALENDAR\r\n")
        for _ in range(1000):
            handler.wfile.write(b"X-PAD:" + b"x" * 1000 + b"\r\n")
    except OSError:
        pass


def broken(handler):
    body = b"<html><body>Sign in to see this calendar</body></html>"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def redirect_to(location: str):
    def answer(handler):
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.end_headers()

    return answer


@pytest.fixture
def server(settings):
    settings.HSE_CALENDAR_FETCH_ALLOW_PRIVATE = {TEST_HOST}
    settings.HSE_CALENDAR_FETCH_TIMEOUTS = (2, 2)
    settings.HSE_CALENDAR_FETCH_MAX_BYTES = 100_000
    running = Server()
    running.routes["/weekly.ics"] = calendar_file(WEEKLY)
    yield running
    running.stop()


def add(coach, url) -> BusyCalendar:
    return busy_calendar_add(coach=coach, url=url, now=NOW)


def tuesdays_at_ten(weeks: int) -> list[datetime]:
    """Tuesdays 10:00 New York (15:00 UTC in winter) from 24 Nov 2026."""
    first = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    return [first + timedelta(weeks=n) for n in range(weeks)]


def test_a_recurring_external_event_blocks_every_occurrence(bob, leadership, server):
    add(bob, server.url("/weekly.ics"))
    before = bookable_slots(
        coach=bob, duration_minutes=60, start=NOW, end=NOW + timedelta(days=28), now=NOW
    )
    assert busy_calendars_refresh_due(now=NOW) == 1

    after = bookable_slots(
        coach=bob, duration_minutes=60, start=NOW, end=NOW + timedelta(days=28), now=NOW
    )
    for ten in tuesdays_at_ten(4):
        assert ten in before
        # Every slot that would overlap 10:00-11:00 is gone; 09:00 (ending at 10:00) and
        # 11:00 stay.
        for minutes in (-45, -30, -15, 0, 15, 30, 45):
            assert ten + timedelta(minutes=minutes) not in after
        assert ten - timedelta(hours=1) in after
        assert ten + timedelta(hours=1) in after
    # The event marked free blocks nothing: Wednesday 09:00-12:00 New York is all open.
    wednesday = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert {wednesday + timedelta(minutes=15 * n) for n in range(9)} <= set(after)
    calendar = BusyCalendar.objects.get()
    assert calendar.error == "" and calendar.fetched_at == NOW and calendar.etag == ETAG
    # Occurrences are stored up to the booking horizon, not forever.
    last = BusyTime.objects.order_by("-starts_at").first()
    assert last.starts_at <= NOW + timedelta(days=180)
    assert BusyTime.objects.count() >= 25


def test_busy_times_block_proposals_too(alice, bob, leadership, server, settings):
    from tests.test_requests import package

    package(alice, bob, leadership)
    add(bob, server.url("/weekly.ics"))
    busy_calendars_refresh_due(now=NOW)
    ten = tuesdays_at_ten(3)[-1]
    with pytest.raises(RequestError, match="overlaps"):
        request_propose(by=alice, coach=bob, client=alice, starts_at=ten, now=NOW)
    request_propose(by=alice, coach=bob, client=alice, starts_at=ten + timedelta(hours=1), now=NOW)


def test_the_coach_page_shows_new_busy_times_at_once(bob, leadership, server):
    """The page's cached copy of the schedule is replaced when the busy times change."""
    add(bob, server.url("/weekly.ics"))
    ten = tuesdays_at_ten(1)[0]

    def offered():
        return bookable_slots(
            coach=bob, duration_minutes=60, start=NOW, end=NOW + timedelta(days=7), now=NOW,
            cached=True,
        )  # fmt: skip

    assert ten in offered()
    busy_calendars_refresh_due(now=NOW)
    assert ten not in offered()
    busy_calendar_remove(coach=bob, calendar=BusyCalendar.objects.get())
    assert ten in offered()


def test_the_sweep_reads_each_calendar_once_and_then_asks_only_for_changes(bob, server):
    add(bob, server.url("/weekly.ics"))
    assert busy_calendars_refresh_due(now=NOW) == 1
    assert busy_calendars_refresh_due(now=NOW) == 0  # nothing due: run twice, read once
    assert busy_calendars_refresh_due(now=NOW + timedelta(minutes=10)) == 0
    stored = BusyTime.objects.count()

    later = NOW + timedelta(minutes=31)
    assert busy_calendars_refresh_due(now=later) == 1
    (_, first_headers), (_, headers) = server.seen
    assert "If-None-Match" not in first_headers
    assert headers.get("If-None-Match") == ETAG  # the server answered 304
    assert BusyTime.objects.count() == stored  # kept as they were
    calendar = BusyCalendar.objects.get()
    assert calendar.fetched_at == later and calendar.error == ""


@pytest.mark.timing
def test_a_slow_huge_or_broken_calendar_is_skipped_with_a_message(bob, dora, server):
    server.routes["/slow.ics"] = dripping
    server.routes["/huge.ics"] = endless
    server.routes["/big.ics"] = calendar_file(b"BEGIN:VCALENDAR\r\n" + b"X" * 200_000)
    server.routes["/broken.ics"] = broken
    failing = {
        add(bob, server.url(path)).pk: message
        for path, message in (
            ("/slow.ics", "timed out"),
            ("/huge.ics", "too large"),
            ("/big.ics", "too large"),
            ("/broken.ics", "not a calendar"),
            ("/missing.ics", "the server answered 404"),
        )
    }
    good = add(dora, server.url("/weekly.ics"))

    started = time.monotonic()
    assert busy_calendars_refresh_due(now=NOW) == 1
    # The slow one gave up at its limit; it held up nothing else for longer.
    assert time.monotonic() - started < 10

    for calendar in BusyCalendar.objects.filter(pk__in=failing):
        assert calendar.error == failing[calendar.pk], calendar.url
        assert calendar.fetched_at is None and calendar.checked_at == NOW
    assert not BusyTime.objects.filter(coach=bob).exists()
    assert BusyTime.objects.filter(calendar=good).exists()


@pytest.mark.timing
def test_a_sweep_past_its_time_budget_leaves_the_rest_to_the_next_run(bob, dora, server):
    server.routes["/slow.ics"] = dripping
    add(bob, server.url("/slow.ics"))
    add(dora, server.url("/weekly.ics"))
    assert busy_calendars_refresh_due(now=NOW, budget_seconds=0.5) == 0  # only the slow one
    assert BusyCalendar.objects.filter(checked_at=None).count() == 1
    assert busy_calendars_refresh_due(now=NOW) == 1  # the next run reads the other


def test_a_failed_read_keeps_the_last_good_busy_times_and_says_why(bob, leadership, server, client):
    calendar = add(bob, server.url("/weekly.ics"))
    busy_calendars_refresh_due(now=NOW)
    stored = BusyTime.objects.count()
    server.routes["/weekly.ics"] = broken
    busy_calendars_refresh_due(now=NOW + timedelta(hours=1))

    calendar.refresh_from_db()
    assert calendar.error == "not a calendar"
    assert calendar.fetched_at == NOW
    assert BusyTime.objects.count() == stored
    client.force_login(bob.user)
    page = client.get(reverse("coaching:availability")).content.decode()
    assert "Could not read this calendar: not a calendar." in page
    assert "still count" in page
    assert server.url("/weekly.ics") not in page  # the secret address is not printed


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.0.0.8", "192.168.1.1", "172.16.0.1", "100.64.0.1", "169.254.169.254",
     "0.0.0.0", "224.0.0.1",  # noqa: S104 "::1", "fd00:ec2::254", "fe80::1", "::ffff:127.0.0.1",
     "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "100.100.100.200", "fec0::1", "feff::1"],
)  # fmt: skip
def test_addresses_on_our_side_of_the_network_are_refused(address):
    assert not address_allowed(address)


def test_public_addresses_pass():
    assert address_allowed("93.184.215.14")
    assert address_allowed("2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def test_metadata_addresses_are_refused_even_when_private_ones_are_allowed():
    for address in ("169.254.169.254", "fd00:ec2::254", "fe80::1", "fec0::1"):
        assert not address_allowed(address, allow_private=True)
    assert address_allowed("10.0.0.8", allow_private=True)


def test_an_address_that_is_or_resolves_to_loopback_is_refused(server):
    # The server answers on 127.0.0.1 too (loopback is all of 127/8 on Linux), but only
    # TEST_HOST is let through: 127.0.0.1 and "localhost" are refused before connecting.
    for url in (server.url("/weekly.ics", host="127.0.0.1"),
                server.url("/weekly.ics", host="localhost")):  # fmt: skip
        with pytest.raises(FetchError, match="not on the public internet"):
            fetch(url)
    assert server.seen == []


def test_a_redirect_to_loopback_or_metadata_is_refused(server):
    server.routes["/to-loopback"] = redirect_to(server.url("/weekly.ics", host="127.0.0.1"))
    server.routes["/to-metadata"] = redirect_to("http://169.254.169.254/latest/meta-data/")
    server.routes["/to-localhost"] = redirect_to(server.url("/weekly.ics", host="localhost"))
    for path in ("/to-loopback", "/to-metadata", "/to-localhost"):
        with pytest.raises(FetchError, match="not on the public internet"):
            fetch(server.url(path))
    assert [path for path, _ in server.seen] == ["/to-loopback", "/to-metadata", "/to-localhost"]


def test_redirects_are_followed_a_few_times_only(server):
    server.routes["/hop1"] = redirect_to("/hop2")
    server.routes["/hop2"] = redirect_to("/hop3")
    server.routes["/hop3"] = redirect_to("/weekly.ics")
    assert fetch(server.url("/hop1")).body == WEEKLY
    server.routes["/hop0"] = redirect_to("/hop1")
    with pytest.raises(FetchError, match="too many redirects"):
        fetch(server.url("/hop0"))


def test_only_http_and_https(server, settings):
    for url in ("file:///etc/passwd", "ftp://example.com/x.ics", "gopher://example.com/",
                "http://user:pass@example.com/x.ics", "http:///x.ics"):  # fmt: skip
        with pytest.raises(FetchError):
            fetch(url)


def test_the_connection_goes_to_the_address_that_was_checked(server, monkeypatch):
    """DNS rebinding: a name that answers with an allowed address first and a metadata
    address next is looked up once; the connection goes to the first, checked answer."""
    lookups = []
    real = calendar_fetch.socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host != "calendar.test":
            return real(host, port, *args, **kwargs)  # a numeric address: no lookup
        lookups.append(host)
        answer = TEST_HOST if len(lookups) == 1 else "169.254.169.254"
        return real(answer, port, *args, **kwargs)

    monkeypatch.setattr(calendar_fetch.socket, "getaddrinfo", rebinding)
    assert fetch(server.url("/weekly.ics", host="calendar.test")).body == WEEKLY
    assert lookups == ["calendar.test"]
    ((_, headers),) = server.seen
    assert headers["Host"].startswith("calendar.test:")  # the request still names the host


def test_adding_calendars_is_checked_and_limited(bob, settings):
    for bad in ("not a url", "javascript:alert(1)", "file:///etc/passwd",
                "https://exa\nmple.com/x.ics", "https://example.com/" + "x" * 3000):  # fmt: skip
        with pytest.raises(CoachingError):
            add(bob, bad)
    webcal = add(bob, "webcal://p01-caldav.icloud.com/published/2/secret")
    assert webcal.url == "https://p01-caldav.icloud.com/published/2/secret"
    assert webcal.short_url == "p01-caldav.icloud.com/…"
    google = add(
        bob, "https://calendar.google.com/calendar/ical/bob%40x.com/private-5ecret/basic.ics"
    )
    assert google.short_url == "calendar.google.com/…/basic.ics"
    with pytest.raises(CoachingError, match="already"):
        add(bob, "https://p01-caldav.icloud.com/published/2/secret")
    for n in range(settings.HSE_BUSY_CALENDARS_PER_COACH - 2):
        add(bob, f"https://calendar.example.com/{n}.ics")
    with pytest.raises(CoachingError, match="up to 5"):
        add(bob, "https://calendar.example.com/6.ics")


def test_the_coach_adds_and_removes_a_calendar_from_the_availability_page(
    bob, dora, client, server, django_capture_on_commit_callbacks
):
    client.force_login(bob.user)
    url = reverse("coaching:busy_calendar_add")
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(url, {"url": server.url("/weekly.ics")}, follow=True)
    assert b"Calendar added" in answer.content
    calendar = BusyCalendar.objects.get(coach=bob)
    # Read at once by the worker (the eager test worker): its busy times are there.
    assert BusyTime.objects.filter(calendar=calendar).exists()
    answer = client.post(url, {"url": "ftp://x"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and b"Paste the calendar" in answer.content
    # Dora cannot remove Bob's calendar; Bob can, and its busy times go with it.
    client.force_login(dora.user)
    remove = reverse("coaching:busy_calendar_remove", args=[calendar.pk])
    assert client.post(remove).status_code == 404
    client.force_login(bob.user)
    assert client.post(remove).status_code == 302
    assert not BusyTime.objects.exists()


def test_busy_times_cost_no_extra_queries(bob, leadership, django_assert_num_queries):
    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            bookable_slots(
                coach=bob, duration_minutes=60, start=NOW, end=NOW + timedelta(days=28), now=NOW
            )
        return len(queries)

    without = count()
    calendar = BusyCalendar.objects.create(coach=bob, url="https://x.example/a.ics", created_at=NOW)
    BusyTime.objects.bulk_create(
        BusyTime(calendar=calendar, coach=bob, starts_at=NOW + timedelta(hours=h),
                 ends_at=NOW + timedelta(hours=h, minutes=30))
        for h in range(0, 24 * 28, 5)
    )  # fmt: skip
    assert count() == without


def test_all_day_and_floating_events_are_read_in_the_coachs_zone(bob):
    body = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:a@test\r
DTSTAMP:20261101T000000Z\r
DTSTART;VALUE=DATE:20261126\r
DTEND;VALUE=DATE:20261127\r
SUMMARY:Thanksgiving\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:b@test\r
DTSTAMP:20261101T000000Z\r
DTSTART:20261130T090000\r
DTEND:20261130T093000\r
SUMMARY:Floating time\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:c@test\r
DTSTAMP:20261101T000000Z\r
DTSTART:20261201T150000Z\r
DTEND:20261201T160000Z\r
STATUS:CANCELLED\r
END:VEVENT\r
END:VCALENDAR\r
"""
    stretches = busy_from_ics(
        body, zone=bob.zone, start=NOW, end=NOW + timedelta(days=30)
    )  # fmt: skip
    assert stretches == [
        (datetime(2026, 11, 26, 5, 0, tzinfo=UTC), datetime(2026, 11, 27, 5, 0, tzinfo=UTC)),
        (datetime(2026, 11, 30, 14, 0, tzinfo=UTC), datetime(2026, 11, 30, 14, 30, tzinfo=UTC)),
    ]


def test_a_calendar_removed_while_it_was_read_stores_nothing(bob, server):
    calendar = add(bob, server.url("/weekly.ics"))
    BusyCalendar.objects.filter(pk=calendar.pk).delete()
    assert busy_calendar_refresh_now(calendar_id=calendar.pk, now=NOW) is False
    assert not BusyTime.objects.exists()


def test_admins_see_the_calendars_without_their_secret_addresses(bob, server, client):
    from tests.factories import UserFactory

    calendar = add(bob, server.url("/me/private-5ecret/basic.ics"))
    server.routes["/me/private-5ecret/basic.ics"] = calendar_file(WEEKLY)
    busy_calendars_refresh_due(now=NOW)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (
        reverse("admin:coaching_busycalendar_changelist"),
        reverse("admin:coaching_busycalendar_change", args=[calendar.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert b"basic.ics" in page.content and b"5ecret" not in page.content


def hostile(rule: str, first: str = "20261123T000000Z") -> bytes:
    """A 200-byte calendar whose one event repeats by ``rule`` from ``first``."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:storm@test\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:{first}\r\n"
        f"DURATION:PT1S\r\nRRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_a_calendar_that_repeats_too_often_is_skipped_quickly_and_stops_nothing(
    bob, dora, server, client
):
    storms = {
        "/minutely.ics": hostile("FREQ=MINUTELY"),
        "/secondly.ics": hostile("FREQ=SECONDLY"),
        "/since-1600.ics": hostile("FREQ=MINUTELY", first="16000101T000000Z"),
        "/hourly-since-1600.ics": hostile("FREQ=HOURLY", first="16000101T000000Z"),
        "/every-minute-by-parts.ics": hostile("FREQ=DAILY;BYMINUTE=0,1,2,3,4,5"),
    }
    for path, body in storms.items():
        server.routes[path] = calendar_file(body)
    refused = [add(bob, server.url(path)).pk for path in list(storms)[:4]]
    refused.append(add(dora, server.url("/every-minute-by-parts.ics")).pk)
    good = add(dora, server.url("/weekly.ics"))

    started = time.monotonic()
    assert busy_calendars_refresh_due(now=NOW) == 1
    assert time.monotonic() - started < 5

    for calendar in BusyCalendar.objects.filter(pk__in=refused):
        assert calendar.error == "it repeats too often", calendar.url
    assert not BusyTime.objects.filter(calendar_id__in=refused).exists()
    assert BusyTime.objects.filter(calendar=good).count() >= 25
    client.force_login(bob.user)
    page = client.get(reverse("coaching:availability")).content.decode()
    assert "Could not read this calendar: it repeats too often." in page


def test_rules_that_are_cheap_to_expand_are_still_read(bob):
    # Hourly for a few years, daily since 1900, a few minutes' worth ended by COUNT.
    for rule, first, count in (
        ("FREQ=HOURLY;INTERVAL=6", "20240101T000000Z", 28),
        ("FREQ=DAILY", "19000101T090000Z", 7),
        ("FREQ=MINUTELY;INTERVAL=30;COUNT=3", "20261124T150000Z", 3),
    ):
        stretches = busy_from_ics(
            hostile(rule, first).replace(b"PT1S", b"PT10M"), zone=bob.zone, start=NOW,
            end=NOW + timedelta(days=7),
        )  # fmt: skip
        assert len(stretches) == count, rule


def test_a_weekly_event_keeps_blocking_past_the_first_horizon_when_unchanged(bob, server):
    add(bob, server.url("/weekly.ics"))
    with freeze_time(NOW):
        assert busy_calendars_refresh_due(now=NOW) == 1
    first_horizon = NOW + timedelta(days=django_settings.HSE_BOOKING_HORIZON_DAYS)
    assert BusyTime.objects.order_by("-starts_at").first().starts_at < first_horizon

    # Within the day the server is asked only for changes (it answers 304)...
    soon = NOW + timedelta(minutes=31)
    with freeze_time(soon):
        assert busy_calendars_refresh_due(now=soon) == 1
    assert server.seen[-1][1].get("If-None-Match") == ETAG
    # ...later the copy is read in full and expanded up to the new horizon, although the
    # server would still answer 304 to the same question.
    later = first_horizon + timedelta(days=3)
    with freeze_time(later):
        assert busy_calendars_refresh_due(now=later) == 1
    assert "If-None-Match" not in server.seen[-1][1]
    # The week after the first horizon: Tuesday 10:00-11:00 New York (EDT by then).
    week_after = BusyTime.objects.filter(
        starts_at__gt=first_horizon + timedelta(weeks=1),
        starts_at__lte=first_horizon + timedelta(weeks=2),
    )
    ((starts, ends),) = week_after.values_list("starts_at", "ends_at")
    assert (starts.weekday(), starts.hour, ends - starts) == (1, 14, timedelta(hours=1))
    assert BusyCalendar.objects.get().expanded_at == later


def test_a_zone_change_reads_the_calendar_again_in_the_new_zone(bob, server):
    all_day = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:day@test\r
DTSTAMP:20261101T000000Z\r
DTSTART;VALUE=DATE:20261126\r
DTEND;VALUE=DATE:20261127\r
END:VEVENT\r
END:VCALENDAR\r
"""
    server.routes["/day.ics"] = calendar_file(all_day)
    add(bob, server.url("/day.ics"))
    busy_calendars_refresh_due(now=NOW)
    assert BusyTime.objects.get().starts_at == datetime(2026, 11, 26, 5, tzinfo=UTC)
    bob.time_zone = "Europe/Berlin"
    bob.save(update_fields=["time_zone"])
    busy_calendars_refresh_due(now=NOW + timedelta(minutes=31))
    assert "If-None-Match" not in server.seen[-1][1]
    assert BusyTime.objects.get().starts_at == datetime(2026, 11, 25, 23, tzinfo=UTC)


def test_a_public_host_is_read_only_on_the_usual_web_ports(server, monkeypatch):
    """Another port on a public address (mail, a database) is refused before connecting;
    the test server's private address, let through by the setting, may use any port."""
    real = calendar_fetch.socket.getaddrinfo

    def public(host, port, *args, **kwargs):
        if host == "calendar.test":
            return real("93.184.215.14", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(calendar_fetch.socket, "getaddrinfo", public)
    for port in (25, 22, 5432, 6379, 11211):
        with pytest.raises(FetchError, match="only the usual web ports"):
            fetch(f"http://calendar.test:{port}/basic.ics")
    assert fetch(server.url("/weekly.ics")).body == WEEKLY  # a high port, allowed address


@pytest.mark.timing
def test_a_name_server_that_never_answers_is_given_up_within_the_time_limit(
    server, settings, monkeypatch
):
    settings.HSE_CALENDAR_FETCH_TIMEOUTS = (1, 1)
    real = calendar_fetch.socket.getaddrinfo
    stuck = threading.Event()

    def never_answers(host, port, *args, **kwargs):
        if host == "calendar.test":
            stuck.wait(10)  # as a lookup with no answer: getaddrinfo takes no timeout
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(calendar_fetch.socket, "getaddrinfo", never_answers)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch("https://calendar.test/basic.ics")
    assert time.monotonic() - started < 2
    stuck.set()


def test_the_sweep_tasks_have_time_limits_under_the_beat_interval():
    every = next(s for s in PERIODIC_TASKS.values() if s.task == "coaching.refresh_busy_calendars")
    sweep = tasks.refresh_busy_calendars
    assert 0 < sweep.soft_time_limit < sweep.time_limit < every.seconds
    assert sweep.soft_time_limit > SWEEP_BUDGET_SECONDS
    one = tasks.refresh_busy_calendar
    assert 0 < one.soft_time_limit < one.time_limit
