"""The pending-actions panel in the browser: a survey, a confirmation with stars and a report,
each done in the panel without leaving the page, and the header's count following."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from ledger import services as ledger
from sessions_app import booking
from sessions_app.models import Report, Session
from tests.browser.test_buying import log_in
from tests.test_requests import package

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def book(alice, bob, *, starts_in: timedelta) -> Session:
    credit = alice.credits.filter(status="available").first()
    now = timezone.now().replace(second=0, microsecond=0)
    start = now + starts_in
    start -= timedelta(minutes=start.minute % 15)
    with transaction.atomic():
        session = booking.session_reserve(
            coach=bob, client=alice, skill=credit.skill, duration_minutes=60, starts_at=start,
            now=start - timedelta(days=1), credit=credit, agreed=True,
        )  # fmt: skip
        ledger.credit_schedule(credit=credit, by=alice, now=now, why="booked for the test")
    return session


def test_survey_confirm_and_report_from_the_panel(live_server, new_page, screenshot, people):
    alice, bob = people
    package(alice, bob, bob.skills.first())
    upcoming = book(alice, bob, starts_in=timedelta(days=2))
    to_confirm = book(alice, bob, starts_in=-timedelta(hours=3))
    to_report = book(alice, bob, starts_in=-timedelta(hours=6))
    page = new_page(time_zone="Europe/Berlin")
    log_in(page, live_server.url, alice.email)
    page.goto(f"{live_server.url}/sessions/")
    page.evaluate("window.__sameDocument = true")
    assert page.locator("#pending-actions .count").inner_text() == "3"

    page.click("#pending-actions")
    panel = page.locator("#pending-panel")
    panel.locator(f"#survey-{upcoming.pk} summary").click()
    panel.locator(f"#survey-{upcoming.pk} textarea[name=goals]").fill("Lead calmly")
    panel.locator(f"#survey-{upcoming.pk} textarea[name=challenges]").fill("Nerves")
    screenshot(page, "panel-survey")
    panel.locator(f"#survey-{upcoming.pk} button[type=submit]").click()
    page.wait_for_selector("#pending-panel >> text=Your coach will read your answers")
    assert page.locator("#pending-actions .count").inner_text() == "2"
    # The list beneath reads the sessions again: the survey is no longer due.
    page.wait_for_selector("#sessions-main >> text=Survey to answer", state="detached")

    confirm = page.locator(f"#confirm-{to_confirm.pk}")
    confirm.locator(f"label[for=rating-{to_confirm.pk}-4]").click()
    screenshot(page, "panel-confirm")
    confirm.locator("button:has-text('Confirm the session')").click()
    page.wait_for_selector("#pending-panel >> text=Your session is confirmed")
    assert page.locator("#pending-actions .count").inner_text() == "1"

    report = page.locator(f"#confirm-{to_report.pk}")
    report.locator("summary:has-text('Report it')").click()
    report.locator("select[name=reason]").select_option("technical")
    report.locator("textarea[name=details]").fill("No sound at all")
    report.locator("button:has-text('Send the report')").click()
    page.wait_for_selector("#pending-panel >> text=Your report was sent")
    page.wait_for_selector("#pending-actions", state="hidden")  # nothing left to count
    screenshot(page, "panel-done")

    assert page.evaluate("window.__sameDocument") is True  # all of it without a page load
    to_confirm.refresh_from_db()
    assert (to_confirm.status, to_confirm.rating) == (Session.Status.CONFIRMED, 4)
    assert Report.objects.get(session=to_report).details == "No sound at all"
    assert upcoming.survey.goals == "Lead calmly"
