from datetime import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ledger.services import wallet_balance, wallet_post
from payments.models import Order
from sessions_app.models import PreSessionSurvey, Session
from tests.factories import PASSWORD, CoachFactory, SkillFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def market(db):
    skill = SkillFactory(name="Leadership", slug="leadership")
    coach = CoachFactory(
        user__display_name="Bob Whitaker",
        headline="Leadership coach for first-time managers",
        time_zone="America/New_York",
        skills=[skill],
        hourly_price=12000,
    )
    client = UserFactory(
        display_name="Alice Novak", email="alice@example.com", time_zone="Europe/Berlin"
    )
    return coach, client


def log_in(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_buy_a_single_session_paying_on_the_stripe_checkout_page(
    live_server, new_page, screenshot, market, stripe_standin, stripe_settings
):
    coach, client = market
    stripe_settings.SITE_URL = live_server.url
    stripe_standin.deliver_webhooks_to(f"{live_server.url}/payments/stripe/webhook/")
    page = new_page(time_zone="Europe/Berlin")
    log_in(page, live_server.url, client.email)

    page.goto(f"{live_server.url}/coaches/{coach.pk}/")
    page.click("text=Buy sessions")
    page.click(".side-menu >> text=Leadership")
    page.click(".option:has-text('60 minutes')")
    page.click(".option:has-text('Single session')")
    # One week at a time, and the summary with the Pay button comes into view by itself.
    assert page.locator(".week-nav b").inner_text().startswith("Week of")
    first_slot = page.locator("a.slot-link").last
    slot_label = first_slot.inner_text()
    first_slot.click()
    page.wait_for_selector("#summary")
    page.wait_for_url("**start=**")
    assert "$120.00" in page.locator("#summary").inner_text()
    expect(page.locator("button:has-text('with Stripe')")).to_be_in_viewport()
    screenshot(page, "buy-summary")
    # The URL keeps the choice: opened again, it shows the same summary.
    page.goto(page.url)
    assert slot_label in page.locator("#summary").inner_text()

    page.click("button:has-text('with Stripe')")
    page.wait_for_url(f"{stripe_standin.url}/checkout/**")
    assert "120.00 USD" in page.content()
    screenshot(page, "stripe-standin-checkout")
    page.click("button:has-text('Pay')")

    page.wait_for_url(f"{live_server.url}/orders/**")
    page.wait_for_selector("text=Paid — thank you!")  # polls until the webhook lands
    assert slot_label in page.locator(".big-time").inner_text()
    order = Order.objects.get()
    assert order.status == Order.Status.PAID and order.method == "stripe"
    session = Session.objects.get()
    assert session.status == Session.Status.SCHEDULED
    screenshot(page, "order-paid-survey")

    page.fill("#id_goals", "Run my first team meeting with confidence")
    page.fill("#id_challenges", "I freeze when people disagree")
    page.click("button:has-text('Send to Bob Whitaker')")
    page.wait_for_url(f"{live_server.url}/sessions/{session.pk}/")
    assert "Run my first team meeting" in page.content()
    assert PreSessionSurvey.objects.filter(session=session).exists()


def test_buy_a_package_with_the_wallet_schedule_one_and_answer_the_survey(
    live_server, new_page, screenshot, market
):
    coach, client = market
    wallet_post(user=client, amount=40000, reason="top_up", key="fund", now=timezone.now())
    page = new_page(time_zone="Europe/Berlin", width=390, height=844)
    log_in(page, live_server.url, client.email)

    page.goto(f"{live_server.url}/coaches/{coach.pk}/buy/?skill=leadership")
    page.click(".option:has-text('30 minutes')")
    page.click(".option:has-text('5 sessions')")
    page.wait_for_selector("#summary")
    assert "$300.00" in page.locator("#summary").inner_text()
    screenshot(page, "buy-package-phone")
    page.click("button:has-text('Pay from wallet')")

    page.wait_for_selector("text=5 sessions are ready to schedule")
    assert wallet_balance(user=client) == 10000
    screenshot(page, "order-package-paid-phone")
    page.click("text=Schedule a session")
    page.wait_for_url(f"{live_server.url}/sessions/")
    assert "5 × 30 min Leadership" in page.content()
    screenshot(page, "sessions-phone")
    page.click(".credit-row >> text=Schedule")
    page.locator("button.slot-button").first.click()

    page.wait_for_url(f"{live_server.url}/sessions/*/survey/")
    assert page.locator("#pending-actions .count").inner_text() == "1"
    page.fill("#id_goals", "Give clearer feedback")
    page.fill("#id_challenges", "Time")
    page.click("button[type=submit]:has-text('Send to')")
    page.wait_for_selector("text=Give clearer feedback")
    assert page.locator("#pending-actions").is_hidden()
    session = Session.objects.get()
    assert session.survey.challenges == "Time"
    page.goto(f"{live_server.url}/wallet/")
    screenshot(page, "wallet-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_cancel_on_stripes_page_frees_the_time_for_another_client_at_once(
    live_server, new_page, screenshot, market, stripe_standin, stripe_settings
):
    coach, client = market
    stripe_settings.SITE_URL = live_server.url
    page = new_page(time_zone="Europe/Berlin")
    log_in(page, live_server.url, client.email)
    # Times on the coach's page open the buy flow at that time.
    page.goto(f"{live_server.url}/coaches/{coach.pk}/")
    slot = page.locator("#slots a.slot").first
    label = slot.inner_text()
    slot.click()
    page.wait_for_selector("#summary")
    assert label in page.locator("#summary").inner_text()
    start = page.locator("#summary input[name=start]").input_value()

    page.click("button:has-text('with Stripe')")
    page.wait_for_url(f"{stripe_standin.url}/checkout/**")
    page.click("button:has-text('Cancel')")

    page.wait_for_url(f"{live_server.url}/coaches/{coach.pk}/buy/**")
    assert (
        "You cancelled the payment: nothing was charged" in page.locator(".messages").inner_text()
    )
    screenshot(page, "buy-cancelled")
    assert Order.objects.get().status == Order.Status.CANCELLED

    other = UserFactory(email="carol@example.com", time_zone="Europe/Berlin")
    second = new_page(time_zone="Europe/Berlin")
    log_in(second, live_server.url, other.email)
    second.goto(f"{live_server.url}/coaches/{coach.pk}/")
    shown = second.locator("#slots a.slot time").evaluate_all(
        "times => times.map(time => time.getAttribute('datetime'))"
    )
    freed = datetime.fromisoformat(start.replace("Z", "+00:00"))
    assert freed in [datetime.fromisoformat(value) for value in shown]
