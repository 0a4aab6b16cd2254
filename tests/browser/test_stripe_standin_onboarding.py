"""The stand-in's hosted Connect onboarding page in a real browser: readable at desktop and
phone width, both buttons reached and pressed with the keyboard alone."""

import stripe
from axe_playwright_python.sync_playwright import Axe


def onboarding_link(stripe_standin) -> tuple[stripe.StripeClient, str, str]:
    api = stripe.StripeClient(
        "sk_test_suite", base_addresses={"api": stripe_standin.url}, max_network_retries=0
    )
    account = api.v1.accounts.create(
        {
            "type": "express",
            "email": "bob.whitaker@example.com",
            "country": "US",
            "capabilities": {"transfers": {"requested": True}},
        }
    )
    link = api.v1.account_links.create(
        {
            "account": account.id,
            # The platform's pages are not part of this test: addresses on the stand-in,
            # which answers them 404, are enough to see where the browser is sent.
            "refresh_url": f"{stripe_standin.url}/platform/refresh",
            "return_url": f"{stripe_standin.url}/platform/return",
            "type": "account_onboarding",
        }
    )
    return api, account.id, link.url


def open_onboarding(new_page, url: str, *, width: int):
    page = new_page(width=width)
    page.goto(url)
    return page


def tab_to(page, label: str) -> None:
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == label:
            return
    raise AssertionError(f"{label!r} was not reached with Tab")


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        rule["id"]
        for rule in results.response["violations"]
        if rule["impact"] in ("serious", "critical")
    ]


def test_onboarding_page_completes_with_the_keyboard(new_page, screenshot, stripe_standin):
    api, account_id, url = onboarding_link(stripe_standin)
    page = open_onboarding(new_page, url, width=1280)

    assert page.get_by_role("heading", name="Set up payouts").is_visible()
    assert page.get_by_text("bob.whitaker@example.com").is_visible()
    assert page.get_by_text("TEST MODE").is_visible()
    assert serious_violations(page) == []
    screenshot(page, "stripe-standin-onboarding-1280")

    tab_to(page, "Complete onboarding")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{stripe_standin.url}/platform/return")

    account = api.v1.accounts.retrieve(account_id)
    assert account.capabilities.transfers == "active" and account.payouts_enabled
    # The link is used: opening it again goes to the platform's refresh page.
    page.goto(url)
    page.wait_for_url(f"{stripe_standin.url}/platform/refresh")


def test_onboarding_page_on_a_phone_can_be_left_for_later(new_page, screenshot, stripe_standin):
    api, account_id, url = onboarding_link(stripe_standin)
    page = open_onboarding(new_page, url, width=390)

    assert page.get_by_role("button", name="Leave for later").is_visible()
    assert serious_violations(page) == []
    screenshot(page, "stripe-standin-onboarding-390")

    tab_to(page, "Leave for later")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{stripe_standin.url}/platform/return")

    account = api.v1.accounts.retrieve(account_id)
    assert account.details_submitted is False
    assert account.capabilities.transfers == "inactive"
