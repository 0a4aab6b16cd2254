from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from accounts.models import User
from tests.factories import PASSWORD, CoachFactory, SkillFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalog_data(db):
    leadership = SkillFactory(name="Leadership", slug="leadership")
    speaking = SkillFactory(name="Public speaking", slug="public-speaking")
    bob = CoachFactory(
        user__display_name="Bob Whitaker",
        headline="Leadership coach for first-time managers",
        time_zone="America/New_York",
        skills=[leadership],
        hourly_price=12000,
        # 13:00-15:00 in New York is the small hours in Tokyo: never an evening there.
        windows=[(d, 13 * 60, 15 * 60) for d in range(5)],
    )
    CoachFactory(
        user__display_name="Dora Weber",
        headline="Speak so people listen",
        time_zone="Europe/Berlin",
        skills=[speaking],
        hourly_price=9000,
    )
    # 09:00-12:00 in Berlin is 17:00-20:00 in Tokyo (16:00-19:00 in summer): evenings there.
    CoachFactory(
        user__display_name="Berta Krüger",
        headline="Career changes without panic",
        time_zone="Europe/Berlin",
        hourly_price=10000,
        windows=[(d, 9 * 60, 12 * 60) for d in range(7)],
    )
    return bob


def shown_slots_match_the_zone(page, zone: str) -> int:
    """Every slot on the page shows its instant's wall time in ``zone``; returns the count."""
    slots = page.locator("#slots time")
    count = slots.count()
    assert count > 0
    for index in range(min(count, 10)):
        element = slots.nth(index)
        instant = datetime.fromisoformat(element.get_attribute("datetime"))
        assert element.inner_text() == instant.astimezone(ZoneInfo(zone)).strftime("%H:%M")
    return count


def test_a_client_signs_up_filters_the_catalog_and_sees_slots_in_their_zone(
    live_server, new_page, screenshot, catalog_data
):
    page = new_page(time_zone="Asia/Tokyo")

    page.goto(f"{live_server.url}/accounts/signup/")
    assert page.locator("#id_time_zone").input_value() == "Asia/Tokyo"  # from the browser
    page.fill("#id_display_name", "Tomo Client")
    page.fill("#id_email", "tomo@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.check("input[name=role][value=client]")
    screenshot(page, "signup")
    page.click("button[type=submit]")

    page.wait_for_url(f"{live_server.url}/")
    tomo = User.objects.get(email="tomo@example.com")
    assert (tomo.role, tomo.time_zone) == ("client", "Asia/Tokyo")
    assert page.locator(".profile-name").inner_text() == "Tomo Client"
    assert page.locator(".coach-card").count() == 3
    screenshot(page, "catalog")

    page.click(".skill-chips >> text=Leadership")
    page.wait_for_url("**skill=leadership**")
    assert page.locator(".coach-card h3").all_inner_texts() == ["Bob Whitaker"]

    page.click(".skill-chips >> text=All skills")
    page.fill("#id_q", "speak")
    page.press("#id_q", "Enter")  # htmx swaps the results in place and pushes the URL
    page.wait_for_url("**q=speak**")
    assert page.locator(".coach-card h3").all_inner_texts() == ["Dora Weber"]

    # A name typed without its umlaut finds it.
    page.fill("#id_q", "krueger")
    page.press("#id_q", "Enter")
    page.wait_for_url("**q=krueger**")
    assert page.locator(".coach-card h3").all_inner_texts() == ["Berta Krüger"]

    page.select_option("#id_sort", "-price")
    page.wait_for_url("**sort=-price**")
    page.fill("#id_q", "")
    page.press("#id_q", "Enter")
    page.wait_for_function("document.querySelectorAll('.coach-card').length === 3")
    assert page.locator(".coach-card h3").all_inner_texts() == [
        "Bob Whitaker",
        "Berta Krüger",
        "Dora Weber",
    ]
    assert "q=krueger" not in page.url

    # Evenings in the viewer's zone (Tokyo): Bob's hours fall in Tokyo's night.
    page.check("input[name=part][value=evening]")
    page.wait_for_url("**part=evening**")
    page.wait_for_function("document.querySelectorAll('.coach-card').length === 2")
    assert page.locator(".coach-card h3").all_inner_texts() == ["Berta Krüger", "Dora Weber"]
    assert "sort=-price" in page.url
    screenshot(page, "catalog-filtered")
    # The URL is the page: opened afresh it shows the same coaches.
    page.goto(page.url)
    assert page.locator(".coach-card h3").all_inner_texts() == ["Berta Krüger", "Dora Weber"]
    page.uncheck("input[name=part][value=evening]")
    page.wait_for_function("document.querySelectorAll('.coach-card').length === 3")

    page.click("text=Bob Whitaker")
    page.wait_for_selector("#slots")
    # The zone heads the times; each day names its abbreviation.
    assert page.locator(".zone-note").inner_text() == "Times in Asia/Tokyo."
    assert page.locator(".slot-day h3").first.inner_text().endswith(" JST")
    sixty = shown_slots_match_the_zone(page, "Asia/Tokyo")
    screenshot(page, "coach-page")

    page.click(".tabs >> text=30 min")
    page.wait_for_url("**duration=30**")
    page.wait_for_function(f"document.querySelectorAll('#slots time').length > {sixty}")
    shown_slots_match_the_zone(page, "Asia/Tokyo")


def test_an_anonymous_visitor_sees_slots_in_the_browsers_zone_on_a_phone(
    live_server, new_page, screenshot, catalog_data
):
    page = new_page(time_zone="America/Los_Angeles", width=390, height=844)

    page.goto(f"{live_server.url}/coaches/{catalog_data.pk}/")
    # The first answer uses UTC; the page learns the zone from the browser and reloads once.
    page.wait_for_function("document.body.dataset.zoneSource === 'browser'")
    note = page.locator(".zone-note").inner_text()
    assert "America/Los Angeles" in note
    shown_slots_match_the_zone(page, "America/Los_Angeles")
    screenshot(page, "coach-page-phone")


def test_a_coach_adds_and_removes_hours_without_a_page_load(
    live_server, new_page, screenshot, catalog_data
):
    coach = catalog_data.user
    page = new_page(time_zone="America/New_York")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", coach.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/coach/availability/")
    page.evaluate("window.__sameDocument = true")
    page.select_option("#id_weekday", "5")
    page.select_option("#id_start_minute", str(10 * 60))
    page.select_option("#id_end_minute", str(13 * 60))
    page.click("#windows button:has-text('Add')")
    page.wait_for_selector("#windows .window-pill:has-text('10:00–13:00')")
    assert page.evaluate("window.__sameDocument") is True
    assert coach.coach_profile.availability_windows.filter(weekday=5).count() == 1

    # An overlapping window is refused in place with the reason.
    page.select_option("#id_weekday", "5")
    page.select_option("#id_start_minute", str(12 * 60))
    page.select_option("#id_end_minute", str(14 * 60))
    page.click("#windows button:has-text('Add')")
    page.wait_for_selector("#windows .errorlist:has-text('overlaps your Saturday 10:00–13:00')")
    screenshot(page, "availability-error")

    page.click("#windows button[aria-label='Remove Saturday 10:00–13:00']")
    page.wait_for_selector("#windows .window-pill:has-text('10:00–13:00')", state="detached")
    assert page.evaluate("window.__sameDocument") is True
    assert coach.coach_profile.availability_windows.filter(weekday=5).count() == 0
    screenshot(page, "availability")


def test_pages_fit_a_phone_screen(live_server, new_page, screenshot, catalog_data):
    client = UserFactory(email="phone@example.com", time_zone="Europe/Berlin")
    page = new_page(time_zone="Europe/Berlin", width=390, height=844)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", client.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    for name, path in [("catalog-phone", "/"), ("settings-phone", "/accounts/settings/")]:
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        screenshot(page, name)
