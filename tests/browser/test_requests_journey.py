from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from requests_app.models import SessionRequest
from requests_app.services import request_propose
from sessions_app.models import Session
from tests.browser.test_buying import log_in
from tests.factories import CoachFactory, SkillFactory, UserFactory
from tests.test_requests import package

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
    package(alice, bob, skill)
    return alice, bob


def local_input(days: int, hour: int, zone: str) -> tuple[str, object]:
    day = timezone.now().astimezone(ZoneInfo(zone)).date() + timedelta(days=days)
    return f"{day.isoformat()}T{hour:02d}:00", day


def test_propose_adjust_in_the_sidebar_accept_from_the_calendar(
    live_server, new_page, screenshot, people
):
    alice, bob = people
    client_page = new_page(time_zone="Europe/Berlin")
    log_in(client_page, live_server.url, alice.email)

    client_page.goto(f"{live_server.url}/requests/new/")
    first_time, _ = local_input(5, 15, "Europe/Berlin")
    client_page.fill("input[name=start]", first_time)
    screenshot(client_page, "request-propose")
    client_page.click("button:has-text('Send proposal')")
    client_page.wait_for_selector("text=Your proposal was sent.")
    assert "Waiting for an answer" in client_page.content()
    request = SessionRequest.objects.get()
    assert request.credit.status == "held"

    coach_page = new_page(time_zone="America/New_York")
    log_in(coach_page, live_server.url, bob.user.email)
    assert coach_page.locator("#pending-actions .count").inner_text() == "1"
    coach_page.goto(f"{live_server.url}/sessions/")
    coach_page.click("#pending-actions")
    coach_page.wait_for_selector("#pending-panel")
    screenshot(coach_page, "pending-sidebar")
    new_time, new_day = local_input(6, 10, "America/New_York")
    coach_page.click("#pending-panel summary:has-text('Adjust')")
    coach_page.fill(f"#adjust-start-{request.pk}", new_time)
    coach_page.click("#pending-panel button:has-text('Send new time')")
    coach_page.wait_for_selector("#pending-panel >> text=Your new time was sent.")
    assert coach_page.locator("#pending-panel >> text=Nothing is waiting for you.").is_visible()
    assert coach_page.locator("#pending-actions").is_hidden()  # the count, swapped out of band
    screenshot(coach_page, "pending-sidebar-after-adjust")
    request.refresh_from_db()
    assert request.proposed_by_id == bob.user_id and request.proposals.count() == 2

    client_page.goto(f"{live_server.url}/sessions/calendar/?date={new_day.isoformat()}")
    screenshot(client_page, "calendar-week")
    client_page.click(".cal-request")
    client_page.wait_for_url(f"{live_server.url}/requests/{request.pk}/")
    client_page.click("button:has-text('Accept')")
    client_page.wait_for_selector("text=Accepted. The session is in your calendar.")
    session = Session.objects.get(status="scheduled")
    assert session.starts_at == request.starts_at and session.credit_id == request.credit_id
    client_page.goto(f"{live_server.url}/sessions/calendar/?view=month&date={new_day.isoformat()}")
    assert client_page.locator(".cal-session").count() >= 1
    screenshot(client_page, "calendar-month")


def test_reject_goes_through_the_confirmation_dialog(live_server, new_page, screenshot, people):
    alice, bob = people
    start = (timezone.now() + timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    request = request_propose(
        by=alice, coach=bob, client=alice, starts_at=start, now=timezone.now()
    )
    page = new_page(time_zone="America/New_York", width=390, height=844)
    log_in(page, live_server.url, bob.user.email)
    native = []  # the browser's own pop-up must never come
    page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
    page.click("#pending-actions")
    page.wait_for_selector("#pending-panel")
    dialog = page.locator("#confirm-dialog")

    page.click("#pending-panel a:has-text('Reject')")
    expect(dialog).to_be_visible()
    assert dialog.locator("#confirm-dialog-title").inner_text() == "Reject this request?"
    assert dialog.locator("#confirm-dialog-text").inner_text() == (
        "Alice Novak will be told. The credit held for it is free again."
    )
    expect(dialog.locator("#confirm-dialog-no")).to_be_focused()
    screenshot(page, "reject-dialog-phone")
    dialog.locator("button:has-text('Keep it')").click()  # changed my mind
    expect(dialog).to_be_hidden()
    page.click("#pending-panel a:has-text('Reject')")
    page.keyboard.press("Escape")  # closes the dialog, not the panel under it
    expect(dialog).to_be_hidden()
    expect(page.locator("#pending-panel")).to_be_visible()
    request.refresh_from_db()
    assert request.status == "pending"  # nothing happened
    screenshot(page, "pending-sidebar-phone")

    page.click("#pending-panel a:has-text('Reject')")
    dialog.locator("button:has-text('Reject the request')").click()
    page.wait_for_selector("#pending-panel >> text=Request rejected.")
    request.refresh_from_db()
    assert request.status == "rejected"
    assert request.credit.status == "available"
    assert native == []
