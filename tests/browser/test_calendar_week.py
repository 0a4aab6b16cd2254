"""The Calendar's week as an hour grid (a list of days on a phone), and the question a coach
is asked before time off lands on booked sessions, at desktop and phone width, checked by
axe-core and photographed."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from coaching.models import TimeOff
from requests_app.models import SessionRequest
from sessions_app.models import Session
from tests.browser.test_accessibility import serious
from tests.browser.test_buying import log_in
from tests.browser.test_calendar_settings import no_sideways_scroll
from tests.factories import CoachFactory, SkillFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def week(db):
    """Alice (Berlin) and Bob (New York), with this week's sessions in many states and two
    requests, at fixed local hours of Alice's week whatever day the suite runs on."""
    skill = SkillFactory(name="Leadership", slug="leadership")
    bob = CoachFactory(
        user__display_name="Bob Whitaker", user__email="bob@example.com",
        user__time_zone="America/New_York", time_zone="America/New_York", skills=[skill],
    )  # fmt: skip
    alice = UserFactory(
        display_name="Alice Novak", email="alice@example.com", time_zone="Europe/Berlin"
    )
    now = timezone.now()
    # The week of a request still waiting for an answer: this week, or the next one late on
    # a Sunday.
    waiting = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    anchor = waiting.astimezone(BERLIN).date()
    monday = anchor - timedelta(days=anchor.weekday())

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(monday + timedelta(days=day), time(hour, minute), BERLIN)

    def session(starts_at, status, minutes=60, **extra):
        Session.objects.create(
            coach=bob, client=alice, skill=skill, duration_minutes=minutes, starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes), status=status, **extra,
        )  # fmt: skip

    def request(starts_at, status, deadline):
        SessionRequest.objects.create(
            coach=bob, client=alice, skill=skill, duration_minutes=60, starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1), status=status, proposed_by=bob.user,
            sent_at=now - timedelta(days=1), created_at=now - timedelta(days=1),
            deadline=deadline,
        )  # fmt: skip

    S, R = Session.Status, SessionRequest.Status
    session(at(0, 10), S.CONFIRMED)
    session(at(1, 14), S.CANCELLED)
    request(at(1, 14), R.EXPIRED, at(1, 6))
    session(at(2, 9, 30), S.REPORTED, minutes=45)
    session(at(3, 16), S.SCHEDULED)
    request(waiting, R.PENDING, now + timedelta(hours=1))
    session(at(5, 19), S.SCHEDULED, minutes=30)
    session(at(6, 7, 30), S.CONFIRMED)
    return alice, bob, anchor


@pytest.mark.parametrize("width", [1280, 390])
def test_the_week_grid_at_desktop_and_phone_width(live_server, new_page, screenshot, week, width):
    page = new_page(width=width, time_zone="Europe/Berlin")
    log_in(page, live_server.url, "alice@example.com")
    page.goto(f"{live_server.url}/sessions/calendar/?date={week[2].isoformat()}")

    if width == 1280:
        grid = page.locator(".hour-grid")
        expect(grid).to_be_visible()
        expect(grid.locator(".grid-event")).to_have_count(8)
        expect(grid).to_contain_text("Request, waiting, answer by")
        expect(page.locator(".week-list")).to_be_hidden()
    else:
        expect(page.locator(".hour-grid")).to_be_hidden()
        days = page.locator(".week-list")
        expect(days).to_be_visible()
        expect(days.locator(".cal-item")).to_have_count(8)
        no_sideways_scroll(page)
    expect(page.locator(".legend")).to_contain_text("Cancelled or expired")
    screenshot(page, f"calendar-week-{width}")
    problems = serious(Axe().run(page))
    assert problems == [], problems

    title = page.locator("#calendar-title").inner_text()
    page.get_by_role("link", name="Next week").click()
    expect(page.locator("#calendar-title")).not_to_have_text(title)
    expect(page.locator(".grid-event, .cal-item")).to_have_count(0)
    page.get_by_role("link", name="Previous week").click()
    expect(page.locator("#calendar-title")).to_have_text(title)
    page.get_by_role("link", name="Today", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/sessions/calendar/?view=week")


@pytest.mark.parametrize("width", [1280, 390])
def test_time_off_over_a_booked_session_asks_first(live_server, new_page, screenshot, week, width):
    alice, bob, _ = week
    starts_at = timezone.now() + timedelta(days=3)
    Session.objects.create(
        coach=bob, client=alice, skill=bob.skills.first(), duration_minutes=60,
        starts_at=starts_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3),
        ends_at=starts_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=4),
        status=Session.Status.SCHEDULED,
    )  # fmt: skip
    day = (starts_at + timedelta(hours=3)).astimezone(ZoneInfo("America/New_York")).date()
    page = new_page(width=width, time_zone="America/New_York")
    log_in(page, live_server.url, "bob@example.com")
    page.goto(f"{live_server.url}/coach/availability/")

    page.get_by_label("First day off").fill(day.isoformat())
    page.get_by_label("Last day off").fill(day.isoformat())
    page.get_by_label("Note (only you see it)").fill("Conference")
    screenshot(page, f"time-off-form-{width}")
    page.get_by_role("button", name="Add time off").click()

    box = page.locator(".confirm-box")
    expect(box).to_contain_text("You have 1 session booked in that time")
    expect(box).to_contain_text("Leadership with Alice Novak")
    expect(box).to_contain_text("this session stays booked")
    assert not TimeOff.objects.exists()
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays at the top of the picture
    screenshot(page, f"time-off-confirm-{width}")
    if width == 390:
        no_sideways_scroll(page)
    assert serious(Axe().run(page)) == []

    page.get_by_role("button", name="Add anyway").click()
    expect(page.locator(".time-off-list")).to_contain_text("Conference")
    assert TimeOff.objects.get().note == "Conference"


@pytest.mark.parametrize("width", [1280, 390])
def test_a_coach_moving_zone_over_a_booked_session_is_asked_first(
    live_server, new_page, screenshot, week, width
):
    alice, bob, _ = week
    # Next Monday 10:00 in New York: in Bob's hours there, not in Berlin's 09:00–12:00.
    today = timezone.now().astimezone(ZoneInfo("America/New_York")).date()
    monday = today + timedelta(days=7 - today.weekday())
    starts_at = datetime.combine(monday, time(10), ZoneInfo("America/New_York"))
    Session.objects.create(
        coach=bob, client=alice, skill=bob.skills.first(), duration_minutes=60,
        starts_at=starts_at, ends_at=starts_at + timedelta(hours=1),
        status=Session.Status.SCHEDULED,
    )  # fmt: skip
    page = new_page(width=width, time_zone="America/New_York")
    log_in(page, live_server.url, "bob@example.com")
    page.goto(f"{live_server.url}/accounts/settings/")

    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Save").click()

    box = page.locator(".confirm-box")
    expect(box).to_contain_text("Change your zone to Europe/Berlin?")
    expect(box).to_contain_text("Leadership with Alice Novak")
    screenshot(page, f"zone-change-confirm-{width}")
    if width == 390:
        no_sideways_scroll(page)
    assert serious(Axe().run(page)) == []
    bob.refresh_from_db()
    assert bob.time_zone == "America/New_York"

    page.get_by_role("button", name="Change anyway").click()
    expect(page.locator(".messages")).to_contain_text("Your settings were saved.")
    bob.refresh_from_db()
    assert bob.time_zone == "Europe/Berlin"
