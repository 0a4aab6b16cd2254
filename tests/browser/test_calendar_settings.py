"""The private calendar address in account settings and a coach's other calendars on the
Availability page, at desktop and phone width."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coaching.busy_calendars import busy_calendar_add, busy_calendars_refresh_due
from tests.browser.test_buying import log_in
from tests.factories import CoachFactory, UserFactory
from tests.test_busy_calendars import TEST_HOST, WEEKLY, Server, broken, calendar_file

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


@pytest.mark.parametrize("width", [1280, 390])
def test_a_client_makes_and_renews_their_calendar_address(live_server, new_page, screenshot, width):
    UserFactory(display_name="Alice Novak", email="alice@example.com", time_zone="Europe/Berlin")
    page = new_page(width=width, time_zone="Europe/Berlin")
    log_in(page, live_server.url, "alice@example.com")
    page.goto(f"{live_server.url}/accounts/settings/")
    page.get_by_role("button", name="Create my calendar address").click()

    expect(page.locator(".messages")).to_contain_text("private calendar address is ready")
    address = page.locator("#feed-url").input_value()
    assert address.startswith(f"{live_server.url}/calendar/feed/") and address.endswith(".ics")
    assert page.request.get(address).status == 200
    screenshot(page, f"settings-calendar-{width}")
    no_sideways_scroll(page)

    page.get_by_role("button", name="Make a new address").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Make a new address").click()
    expect(page.locator(".messages")).to_contain_text("the old one no longer works")
    assert page.locator("#feed-url").input_value() != address
    assert page.request.get(address).status == 404


@pytest.mark.parametrize("width", [1280, 390])
def test_a_coach_sees_which_of_their_calendars_are_read(
    live_server, new_page, screenshot, settings, width
):
    settings.HSE_CALENDAR_FETCH_ALLOW_PRIVATE = {TEST_HOST}
    server = Server()
    try:
        server.routes["/me/work.ics"] = calendar_file(WEEKLY)
        server.routes["/me/family.ics"] = broken
        bob = CoachFactory(
            user__display_name="Bob Whitaker", user__email="bob@example.com",
            time_zone="America/New_York",
        )  # fmt: skip
        now = timezone.now()
        busy_calendar_add(coach=bob, url=server.url("/me/work.ics"), now=now)
        busy_calendar_add(coach=bob, url=server.url("/me/family.ics"), now=now)
        busy_calendars_refresh_due(now=now)

        page = new_page(width=width, time_zone="America/New_York")
        log_in(page, live_server.url, "bob@example.com")
        page.goto(f"{live_server.url}/coach/availability/")
        section = page.locator("#busy-calendars")
        expect(section).to_contain_text("Could not read this calendar: not a calendar.")
        expect(section).to_contain_text("Read ")
        # Adding a bad address says why, in the section, without leaving the page.
        page.get_by_label("Calendar address (iCal)").fill("ftp://calendar.example.com/x")
        section.get_by_role("button", name="Add calendar").click()
        expect(page.locator("#busy-calendars")).to_contain_text("Paste the calendar")
        screenshot(page, f"availability-busy-calendars-{width}")
        box = page.locator("#busy-calendars").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
        assert server.url("/me/work.ics") not in page.content()
    finally:
        server.stop()
