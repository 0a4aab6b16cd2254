import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    ("login", "/accounts/login/", "Log in"),
    ("signup", "/accounts/signup/", "Create your account"),
    ("password-reset", "/accounts/password/reset/", "Forgot your password?"),
]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_account_pages_fit_the_screen_in_our_words(live_server, new_page, screenshot, width):
    page = new_page(width=width)

    for name, path, heading in PAGES:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("h1")).to_have_text(heading)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        text = page.locator("main").inner_text()
        assert "Sign In" not in text and "Remember Me" not in text
        screenshot(page, f"account-{name}-{width}")


def test_alice_logs_in_through_the_form_after_a_wrong_password(live_server, new_page, screenshot):
    UserFactory(display_name="Alice Novak", email="alice@example.com")
    page = new_page(width=390, height=844)
    page.goto(f"{live_server.url}/accounts/login/")

    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".errorlist.nonfield")).to_contain_text("are not correct")
    screenshot(page, "account-login-error-390")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Remember me").check()
    page.get_by_role("button", name="Log in").click()

    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator(".messages")).to_contain_text("You’re logged in as Alice Novak.")


def test_a_forgotten_password_is_replaced_through_the_emailed_link(
    live_server, new_page, screenshot
):
    UserFactory(display_name="Alice Novak", email="alice@example.com")
    page = new_page(width=1280)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()

    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.locator("h1")).to_have_text("Check your email")
    screenshot(page, "account-password-reset-done-1280")

    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", mail.outbox[-1].body)
    page.goto(link.group(0))
    expect(page.locator("h1")).to_have_text("Choose a new password")
    page.get_by_label("New password", exact=True).fill("a-brand-new-passphrase-7")
    page.get_by_label("Confirm new password").fill("a-brand-new-passphrase-7")
    screenshot(page, "account-password-reset-from-key-1280")
    page.get_by_role("button", name="Save new password").click()
    expect(page.locator("h1")).to_have_text("Your password is changed")

    page.get_by_role("main").get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_label("Password").fill("a-brand-new-passphrase-7")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


def test_the_pages_behind_the_login_fit_a_phone(live_server, new_page, screenshot):
    UserFactory(display_name="Alice Novak", email="alice@example.com")
    page = new_page(width=390, height=844)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    for name, path, heading in [
        ("password-change", "/accounts/password/change/", "Change your password"),
        ("email", "/accounts/email/", "Email addresses"),
        ("logout", "/accounts/logout/", "Log out"),
    ]:
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("h1")).to_have_text(heading)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        screenshot(page, f"account-{name}-390")

    page.get_by_role("main").get_by_role("button", name="Log out").click()
    expect(page.locator(".messages")).to_contain_text("You’re logged out.")
