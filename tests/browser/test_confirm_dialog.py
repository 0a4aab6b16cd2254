"""HSE's own confirmation dialog, never the browser's confirm(): each reader is told what
cancelling a session means for them, "Keep it", Escape and Back change nothing, and the
confirm button does what it says."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from ledger import services as ledger
from sessions_app import booking
from sessions_app.models import Session
from tests.browser.test_buying import log_in
from tests.test_requests import package

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANCEL_HOURS = settings.HSE_CLIENT_CANCEL_HOURS


def scheduled(alice, bob, *, starts_in: timedelta) -> Session:
    """A session paid by one of Alice's credits, starting on the hour about ``starts_in``
    from now."""
    package(alice, bob, bob.skills.first())
    credit = alice.credits.filter(status="available").first()
    now = timezone.now()
    start = (now + starts_in).replace(minute=0, second=0, microsecond=0)
    with transaction.atomic():
        session = booking.session_reserve(
            coach=bob, client=alice, skill=credit.skill, duration_minutes=60, starts_at=start,
            now=now, credit=credit, agreed=True,
        )  # fmt: skip
        ledger.credit_schedule(credit=credit, by=alice, now=now, why="booked for the test")
    return session


def open_session(page, base, session, email, native):
    """Logs in and opens the session; any native pop-up is recorded (and must never come)."""
    page.on("dialog", lambda dialog: (native.append(dialog.message), dialog.dismiss()))
    log_in(page, base, email)
    page.goto(f"{base}/sessions/{session.pk}/")


def ask_to_cancel(page):
    page.click("button:has-text('Cancel session')")
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    return dialog


def still_scheduled(page, session, url):
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    assert page.url == url
    session.refresh_from_db()
    assert session.status == "scheduled" and session.credit.status == "scheduled"


def test_a_client_cancelling_early_reads_that_the_credit_comes_back(
    live_server, new_page, screenshot, people
):
    alice, bob = people
    session = scheduled(alice, bob, starts_in=timedelta(hours=CANCEL_HOURS + 48))
    page = new_page(time_zone="Europe/Berlin")
    native = []
    open_session(page, live_server.url, session, alice.email, native)
    url = page.url

    dialog = ask_to_cancel(page)
    assert dialog.locator("#confirm-dialog-title").inner_text() == "Cancel this session?"
    assert dialog.locator("#confirm-dialog-text").inner_text() == (
        f"It starts more than {CANCEL_HOURS} hours from now, so you get your credit back to "
        "book another time. Bob Whitaker is told."
    )
    expect(dialog.locator("#confirm-dialog-yes")).to_have_text("Cancel the session")
    expect(dialog.locator("#confirm-dialog-no")).to_have_text("Keep it")
    expect(dialog.locator("#confirm-dialog-no")).to_be_focused()  # the safe answer
    assert dialog.get_attribute("aria-labelledby") == "confirm-dialog-title"
    assert dialog.get_attribute("aria-describedby") == "confirm-dialog-text"
    screenshot(page, "confirm-dialog-client")

    dialog.locator("#confirm-dialog-no").click()
    still_scheduled(page, session, url)

    ask_to_cancel(page)
    page.keyboard.press("Escape")
    still_scheduled(page, session, url)

    ask_to_cancel(page)
    page.go_back()  # the browser's Back closes the dialog and stays on the page
    still_scheduled(page, session, url)

    ask_to_cancel(page).locator("#confirm-dialog-yes").click()
    page.wait_for_selector("text=The session is cancelled; both of you were told.")
    session.refresh_from_db()
    assert session.status == "cancelled" and session.credit.status == "available"
    assert native == []


def test_a_client_cancelling_late_reads_that_the_credit_is_used(
    live_server, new_page, screenshot, people
):
    alice, bob = people
    session = scheduled(alice, bob, starts_in=timedelta(hours=3))
    page = new_page(time_zone="Europe/Berlin", width=390, height=844)
    native = []
    open_session(page, live_server.url, session, alice.email, native)

    dialog = ask_to_cancel(page)
    assert dialog.locator("#confirm-dialog-text").inner_text() == (
        f"It starts in less than {CANCEL_HOURS} hours, so your credit is used and does not "
        "come back. Bob Whitaker is told."
    )
    screenshot(page, "confirm-dialog-client-late-phone")

    dialog.locator("#confirm-dialog-yes").click()
    page.wait_for_selector("text=The session is cancelled; both of you were told.")
    session.refresh_from_db()
    assert session.status == "cancelled" and session.credit.status == "used"
    assert native == []


@pytest.mark.parametrize("width", [1280, 390])
def test_a_coach_cancelling_reads_that_the_client_gets_the_credit_back(
    live_server, new_page, screenshot, people, width
):
    alice, bob = people
    session = scheduled(alice, bob, starts_in=timedelta(hours=3))  # late for a client only
    page = new_page(time_zone="America/New_York", width=width, height=844)
    native = []
    open_session(page, live_server.url, session, bob.user.email, native)
    url = page.url

    dialog = ask_to_cancel(page)
    # Three hours before: the client gets the credit back, and it goes on the coach's record.
    assert dialog.locator("#confirm-dialog-text").inner_text() == (
        "Alice Novak gets the credit back and is told. It starts in less than 24 hours, so "
        "the cancellation goes on your record."
    )
    screenshot(page, f"confirm-dialog-coach-{width}")
    dialog.locator("#confirm-dialog-no").click()
    still_scheduled(page, session, url)

    ask_to_cancel(page).locator("#confirm-dialog-yes").click()
    page.wait_for_selector("text=The session is cancelled; both of you were told.")
    session.refresh_from_db()
    assert session.status == "cancelled" and session.credit.status == "available"
    assert native == []
