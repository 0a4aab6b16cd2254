"""A coach answers a client's request for more time from the pending-actions panel: the
question waits there with its answer-by date, and leaves the count once answered."""

import pytest
from django.utils import timezone

from ledger.services import wallet_post
from payments import packages
from payments.services import order_start
from tests.browser.test_buying import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_coach_answers_a_request_for_more_time_from_the_panel(
    live_server, new_page, screenshot, people
):
    alice, bob = people
    now = timezone.now()
    wallet_post(user=alice, amount=50_000, reason="top_up", key="fund", now=now)
    order = order_start(
        client=alice, coach=bob, skill=bob.skills.first(), duration_minutes=60, quantity=5,
        method="wallet", now=now,
    )  # fmt: skip
    extension = packages.extension_ask(order=order, by=alice, now=now)

    for width in (390, 1280):
        page = new_page(time_zone="America/New_York", width=width)
        log_in(page, live_server.url, bob.user.email)
        page.goto(f"{live_server.url}/sessions/")
        assert page.locator("#pending-actions .count").inner_text() == "1"
        page.click("#pending-actions")
        card = page.locator(f"#extension-{extension.pk}")
        assert "Alice Novak asks for 3 more months" in card.inner_text()
        assert "answer by" in card.inner_text()
        screenshot(page, f"panel-extension-{width}")

    card.locator("a:has-text('Answer')").click()
    page.wait_for_selector("text=Please answer by")
    screenshot(page, "extension-answer-1280")
    page.click("button:has-text('Accept')")
    page.wait_for_selector("text=Extended: we told the client.")
    page.wait_for_selector("#pending-actions", state="hidden")  # nothing left to count
    extension.refresh_from_db()
    assert extension.status == "accepted"
