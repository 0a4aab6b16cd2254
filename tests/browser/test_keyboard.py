"""The buy flow and the room with the keyboard alone: Tab to move, Enter or Space to press.
No click, no fill: what a person who cannot use a mouse does."""

import pytest
from django.utils import timezone

from ledger.services import wallet_post
from payments.models import Order
from sessions_app.models import Session
from tests.browser.test_buying import market  # noqa: F401  (the fixture)
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED_TEXT = """([selector, text]) => {
  const element = document.activeElement;
  return !!element && element.matches(selector) && element.textContent.includes(text);
}"""


def tab_to(page, selector: str, text: str = "", *, most: int = 200) -> None:
    """Presses Tab until the focused element matches ``selector`` and holds ``text``."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED_TEXT, [selector, text]):
            return
    raise AssertionError(f"Tab never reached {selector} {text!r}")


def keyboard_log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    tab_to(page, "input[name=login]")
    page.keyboard.type(email)
    tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


def test_buy_a_single_session_with_the_keyboard_alone(live_server, new_page, market):  # noqa: F811
    coach, client = market
    wallet_post(user=client, amount=50000, reason="top_up", key="fund", now=timezone.now())
    page = new_page(time_zone="Europe/Berlin")
    keyboard_log_in(page, live_server.url, client.email)

    page.goto(f"{live_server.url}/coaches/{coach.pk}/")
    tab_to(page, "a", "Buy sessions")
    page.keyboard.press("Enter")
    page.wait_for_url("**/buy/**")
    for choice in ("Leadership", "60 minutes", "Single session"):
        tab_to(page, "a", choice)
        page.keyboard.press("Enter")
        page.wait_for_selector(f"a[aria-current=true]:has-text('{choice}')")
    tab_to(page, "a.slot-link")
    page.keyboard.press("Enter")
    page.wait_for_selector("#summary")
    # The focus stays where the person is: on the summary, a few Tabs from Pay.
    assert page.evaluate("document.activeElement.closest('#summary') !== null")
    tab_to(page, "button", "Pay from wallet", most=6)
    page.keyboard.press("Enter")

    page.wait_for_url(f"{live_server.url}/orders/**")
    order = Order.objects.get()
    assert order.status == Order.Status.PAID and order.method == "wallet"
    assert Session.objects.get().status == Session.Status.SCHEDULED


def test_the_room_with_the_keyboard_alone(live_server, new_page, booked):
    alice, bob, session = booked
    coach = new_page(time_zone="America/New_York")
    keyboard_log_in(coach, live_server.url, bob.user.email)
    coach.goto(f"{live_server.url}/sessions/{session.pk}/room/")
    tab_to(coach, "button", "Start session")
    coach.keyboard.press("Enter")
    coach.wait_for_selector("#call")

    client = new_page(time_zone="Europe/Berlin")
    keyboard_log_in(client, live_server.url, alice.email)
    client.goto(f"{live_server.url}/sessions/{session.pk}/room/")
    tab_to(client, "button", "Join the call")
    client.keyboard.press("Enter")
    client.wait_for_selector("#call")
    client.wait_for_function("document.querySelector('#call').dataset.state === 'connected'")

    tab_to(client, "#toggle-mic")
    client.keyboard.press("Space")
    assert client.locator("#toggle-mic").get_attribute("aria-pressed") == "true"
    tab_to(client, "#toggle-camera")
    client.keyboard.press("Enter")
    assert client.locator("#toggle-camera").get_attribute("aria-pressed") == "true"
    tab_to(client, "form[data-leave] button")
    client.keyboard.press("Enter")
    client.wait_for_url(f"{live_server.url}/sessions/{session.pk}/left/")
    tab_to(client, "button", "Rejoin the call")
    client.keyboard.press("Enter")
    client.wait_for_selector("#call")
    kinds = list(session.attendance.values_list("kind", flat=True))
    assert "leave" in kinds and kinds.count("join") >= 2
