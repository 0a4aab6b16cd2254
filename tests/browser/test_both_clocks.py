"""The session page with both clocks and the note that they change on different dates, at
desktop and phone width."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from hse import clock
from sessions_app.models import Session
from tests.browser.test_buying import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_session_page_shows_both_clocks_and_the_clock_change_note(
    live_server, new_page, screenshot, people
):
    alice, bob = people
    # Ten days after Berlin's next clock change (New York changes on another date, in the
    # same weeks), whatever day the suite runs: the page has a change to tell about.
    now = timezone.now()
    berlin_change = clock.changes(alice.zone, now + timedelta(days=1), now + timedelta(days=400))
    start = (berlin_change[0].at + timedelta(days=10)).replace(hour=14, minute=0)
    session = Session.objects.create(
        coach=bob, client=alice, skill=bob.skills.first(), duration_minutes=60,
        starts_at=start, ends_at=start + timedelta(minutes=60), status=Session.Status.SCHEDULED,
    )  # fmt: skip

    for width in (1280, 390):
        page = new_page(time_zone="Europe/Berlin", width=width)
        log_in(page, live_server.url, alice.email)
        page.goto(f"{live_server.url}/sessions/{session.pk}/")
        expect(page.locator(".other-clock")).to_contain_text("for Bob Whitaker")
        expect(page.locator(".clock-note")).to_contain_text("Between now and then, clocks change")
        screenshot(page, f"session-both-clocks-{width}")
