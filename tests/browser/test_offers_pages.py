"""Issue 22's pages in the browser, at a desktop and a phone width: the coach page with a
trial and package discounts, the buy flow's saving, and a package's validity on its order
page (with asking for more time)."""

import pytest
from django.db import transaction
from django.utils import timezone

from coaching.services import coach_offers_update
from ledger import services as ledger
from payments.services import order_start
from tests.browser.test_buying import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def offering(people):
    alice, bob = people
    coach_offers_update(
        profile=bob, trial_offered=True, trial_price=0, discounts={5: 5, 10: 10, 20: 15}
    )
    now = timezone.now()
    with transaction.atomic():
        ledger.wallet_post(user=alice, amount=200_000, reason="top_up", key="fund", now=now)
        order = order_start(
            client=alice, coach=bob, skill=bob.skills.first(), duration_minutes=60,
            quantity=10, method="wallet", now=now,
        )  # fmt: skip
    return alice, bob, order


@pytest.mark.parametrize("width", [1280, 390])
def test_the_coach_page_buy_flow_and_package_page_show_the_offers(
    live_server, new_page, screenshot, offering, width
):
    alice, bob, order = offering
    page = new_page(time_zone="Europe/Berlin", width=width)
    log_in(page, live_server.url, alice.email)

    page.goto(f"{live_server.url}/coaches/{bob.pk}/")
    offers = page.get_by_label("Offers")
    assert "Trial session: 30 min, free, once per client" in offers.inner_text()
    assert "10 sessions: 10 % off" in offers.inner_text()
    assert page.get_by_role("link", name="Book a free trial").is_visible()
    screenshot(page, f"coach-page-offers-{width}")

    page.goto(f"{live_server.url}/coaches/{bob.pk}/buy/?skill=leadership&duration=60&quantity=10")
    summary = page.locator("#summary")
    assert "10 % off: you save $100.00" in summary.inner_text()
    assert "Schedule them within 6 months" in summary.inner_text()
    screenshot(page, f"buy-package-discount-{width}")

    page.goto(f"{live_server.url}/orders/{order.pk}/")
    card = page.locator("#package")
    assert "Schedule them by" in card.inner_text()
    page.get_by_role("button", name="Ask for 3 more months").click()
    page.wait_for_selector("text=waiting for the answer")
    screenshot(page, f"package-validity-{width}")
