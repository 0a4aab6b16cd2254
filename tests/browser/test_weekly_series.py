"""A client sets up a weekly series from a package, with one week taken, requests the free
ones, and the coach accepts the series from the Pending Actions sidebar."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from ledger import services as ledger
from ledger.models import Credit
from requests_app.models import SessionRequest
from sessions_app import booking
from sessions_app.models import Session
from tests.browser.test_buying import log_in
from tests.factories import CoachFactory, SkillFactory, UserFactory
from tests.test_requests import package

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")


@pytest.fixture
def people(db):
    skill = SkillFactory(name="Leadership", slug="leadership")
    bob = CoachFactory(
        user__display_name="Bob Whitaker",
        user__time_zone="America/New_York",
        time_zone="America/New_York",
        skills=[skill],
    )
    alice = UserFactory(
        display_name="Alice Novak", email="alice@example.com", time_zone="Europe/Berlin"
    )
    carol = UserFactory(display_name="Carol Reyes", email="carol@example.com")
    package(alice, bob, skill, count=10)
    package(carol, bob, skill, count=5)
    return alice, bob, carol, skill


def first_tuesday_at_ten_in_new_york() -> datetime:
    """The first Tuesday at least two days ahead, 10:00 on Bob's clock."""
    day = timezone.now().astimezone(NEW_YORK).date() + timedelta(days=2)
    day += timedelta(days=(1 - day.weekday()) % 7)
    return datetime.combine(day, time(10), tzinfo=NEW_YORK)


def test_a_client_sets_up_a_weekly_series_and_the_coach_accepts_it_from_the_sidebar(
    live_server, new_page, screenshot, people
):
    alice, bob, carol, skill = people
    first = first_tuesday_at_ten_in_new_york()
    # Carol already has Bob in the third week.
    third = datetime.combine(first.date() + timedelta(weeks=2), time(10), tzinfo=NEW_YORK)
    carols = Credit.objects.filter(client=carol).first()
    now = timezone.now()
    with transaction.atomic():
        booking.session_reserve(
            coach=bob, client=carol, skill=skill, duration_minutes=60, starts_at=third, now=now,
            credit=carols, by=carol, agreed=True,
        )  # fmt: skip
        ledger.credit_schedule(credit=carols, by=carol, now=now, why="Carol's session")

    page = new_page(time_zone="Europe/Berlin")
    log_in(page, live_server.url, alice.email)
    page.goto(f"{live_server.url}/sessions/")
    page.click(".credit-row a:has-text('Weekly')")
    page.wait_for_selector("h1:has-text('Weekly sessions')")
    on_alices_clock = first.astimezone(BERLIN)
    page.select_option("select[name=weekday_1]", str(on_alices_clock.weekday()))
    page.fill("input[name=time_1]", on_alices_clock.strftime("%H:%M"))
    page.fill("input[name=first_day]", on_alices_clock.date().isoformat())
    page.fill("input[name=count]", "10")
    page.click("button:has-text('Check the times')")
    page.wait_for_selector("#series-plan")

    expect(page.locator("#series-plan")).to_contain_text("1 of 10 cannot be booked")
    expect(page.locator("#occurrence-3")).to_contain_text("Already booked")
    assert page.locator(".series-item").count() == 10
    assert not SessionRequest.objects.exists()  # nothing is sent before the client chooses
    screenshot(page, "series-setup-conflicts")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "series-setup-conflicts-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("button:has-text('Request only the 9 free ones')")
    page.wait_for_selector("text=Your weekly series of 9 sessions was sent")
    request = SessionRequest.objects.get()
    assert request.is_series and request.occurrences.count() == 9
    assert Credit.objects.filter(client=alice, status="held").count() == 9

    coach_page = new_page(time_zone="America/New_York")
    log_in(coach_page, live_server.url, bob.user.email)
    coach_page.goto(f"{live_server.url}/sessions/")
    coach_page.click("#pending-actions")
    coach_page.wait_for_selector("#pending-panel")
    card = coach_page.locator(f"#pending-panel #request-{request.pk}")
    expect(card).to_contain_text("Weekly Leadership sessions")
    expect(card.locator("li")).to_have_count(9)
    screenshot(coach_page, "series-pending-sidebar")
    card.locator("button:has-text('Accept')").click()
    coach_page.wait_for_selector("#pending-panel >> text=Nothing is waiting for you.")

    request.refresh_from_db()
    assert request.status == "accepted"
    booked = Session.objects.filter(client=alice, status="scheduled").order_by("starts_at")
    assert booked.count() == 9
    assert {s.starts_at.astimezone(NEW_YORK).time() for s in booked} == {time(10)}
    assert Credit.objects.filter(client=alice, status="scheduled").count() == 9

    # Alice moves the third booked week and the rest one day later, from the session page.
    third_booked = list(booked)[2]
    page.goto(f"{live_server.url}/sessions/{third_booked.pk}/")
    page.click("a:has-text('Move this and the rest')")
    page.wait_for_selector("h1:has-text('Move this and the rest')")
    moved_to = (third_booked.starts_at + timedelta(days=1)).astimezone(BERLIN)
    page.fill("input[name=start]", moved_to.strftime("%Y-%m-%dT%H:%M"))
    page.click("button:has-text('Check the new times')")
    page.wait_for_selector("#series-plan")
    assert page.locator(".series-item").count() == 7
    screenshot(page, "series-move-rest")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "series-move-rest-390")
