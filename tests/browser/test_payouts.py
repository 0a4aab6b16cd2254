"""A coach sets up Stripe payouts on the stand-in's hosted onboarding, asks for a payout and
sees it paid on the Earnings page; an admin pays a PayPal payout by hand with a reference."""

import pytest
from django.db import transaction
from django.utils import timezone

from payouts import services
from payouts.models import Payout
from tests.browser.test_buying import log_in
from tests.factories import CoachFactory, SkillFactory, UserFactory
from tests.test_payouts import earn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def coaches(db):
    skill = SkillFactory(name="Leadership", slug="leadership")
    bob = CoachFactory(
        user__display_name="Bob Whitaker", user__email="bob@example.com", skills=[skill]
    )
    dora = CoachFactory(
        user__display_name="Dora Lindqvist", user__email="dora@example.com", skills=[skill]
    )
    alice = UserFactory(display_name="Alice Novak", email="alice@example.com")
    with transaction.atomic():  # the ledger's callers hold their own transaction
        earn(alice, bob, skill, used=4)
        earn(alice, dora, skill, used=2)
    return bob, dora


def test_a_coach_sets_up_stripe_payouts_and_is_paid(
    live_server, new_page, screenshot, coaches, stripe_standin, stripe_settings
):
    bob, _ = coaches
    stripe_settings.SITE_URL = live_server.url
    stripe_standin.deliver_webhooks_to(f"{live_server.url}/payments/stripe/webhook/")
    page = new_page(time_zone="America/New_York")
    log_in(page, live_server.url, bob.user.email)

    page.goto(f"{live_server.url}/earnings/payouts/")
    assert page.get_by_test_id("available").inner_text() == "$340.00"
    screenshot(page, "payouts-setup")
    page.click("button:has-text('Set up payouts')")
    page.wait_for_url(f"{stripe_standin.url}/connect/onboarding/**")
    screenshot(page, "stripe-standin-onboarding")
    page.click("button:has-text('Complete onboarding')")
    page.wait_for_url(f"{live_server.url}/earnings/payouts/")
    page.wait_for_selector("text=Stripe payouts are set up.")
    assert page.get_by_test_id("method").inner_text() == "Stripe"

    page.fill("#id_amount", "2999999")
    page.click("button:has-text('Request payout')")
    page.wait_for_selector("text=The largest payout is $3,000.00")
    page.fill("#id_amount", "200")
    page.click("button:has-text('Request payout')")
    page.wait_for_selector("text=Payout of $200.00 requested; Stripe is sending it.")
    payout = Payout.objects.get(coach=bob)
    assert payout.status == "sent" and payout.stripe_transfer_id.startswith("tr_")
    assert page.get_by_test_id("available").inner_text() == "$140.00"
    screenshot(page, "payouts-page")

    page.click("text=Earnings statement")
    page.wait_for_url(f"{live_server.url}/earnings/")
    row = page.locator("tr.entry-payout")
    assert f"#{payout.pk} to Stripe" in row.inner_text()
    assert "Paid" in row.inner_text() and "-$200.00" in row.inner_text()
    assert page.get_by_test_id("closing").inner_text() == "$140.00"
    screenshot(page, "earnings-statement")

    phone = new_page(time_zone="America/New_York", width=390, height=844)
    log_in(phone, live_server.url, bob.user.email)
    phone.goto(f"{live_server.url}/earnings/")
    screenshot(phone, "earnings-statement-phone")
    phone.goto(f"{live_server.url}/earnings/payouts/")
    screenshot(phone, "payouts-page-phone")


def test_an_admin_pays_a_paypal_payout_by_hand_with_a_reference(
    live_server, new_page, screenshot, coaches
):
    _, dora = coaches
    services.manual_method_set(coach=dora, method="paypal", details="dora@paypal.example")
    payout = services.payout_request(coach=dora, amount=10_000, by=dora.user, now=timezone.now())
    sam = UserFactory(display_name="Sam Staff", email="sam@example.com", is_staff=True,
                      is_superuser=True)  # fmt: skip
    page = new_page()
    log_in(page, live_server.url, sam.email)

    page.goto(f"{live_server.url}/admin/payouts/payout/?status__exact=requested")
    page.check(f"input[name=_selected_action][value='{payout.pk}']")
    page.select_option("select[name=action]", "mark_paid_by_hand")
    page.click("button[name=index]")
    page.wait_for_selector("text=Record payouts paid by hand")
    assert "dora@paypal.example" in page.content()
    page.fill(f"#reference-{payout.pk}", "PAYPAL-5TY81")
    screenshot(page, "admin-payout-by-hand")
    page.click("input[value='Record as paid']")
    page.wait_for_selector("text=1 payout(s) recorded as paid by hand.")

    payout.refresh_from_db()
    assert (payout.status, payout.reference) == ("paid_by_hand", "PAYPAL-5TY81")
