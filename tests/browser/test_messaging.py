"""Messages in the browser: Alice writes to Bob from his coach page; on his own screen the
message arrives on his Messages page and in his header without a reload (by polling: the
live server here serves no WebSockets); he answers; she sees the answer and "Seen"."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from messaging.models import Conversation
from tests.browser.test_accessibility import serious
from tests.browser.test_buying import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_messages_bob_and_each_sees_the_other_without_reloading(
    live_server, new_page, screenshot, people
):
    alice, bob = people
    base = live_server.url
    bobs = new_page(time_zone="America/New_York")
    log_in(bobs, base, bob.user.email)
    bobs.goto(f"{base}/messages/")
    expect(bobs.locator("#conversations")).to_contain_text("No conversations yet")
    expect(bobs.locator("#unread-count")).to_be_hidden()
    bobs.evaluate("window.__samePage = true")  # to prove below that it never reloaded

    alices = new_page(time_zone="Europe/Berlin")
    log_in(alices, base, alice.email)
    alices.goto(f"{base}/coaches/{bob.pk}/")
    alices.click("text=Message Bob Whitaker")
    expect(alices.locator("h1")).to_have_text("Message Bob Whitaker")
    assert serious(Axe().run(alices)) == []
    alices.fill("textarea[name=body]", "Hi Bob! Do you coach first-time managers?\n"
                "My plan: https://example.com/plan <b>not bold</b>")  # fmt: skip
    alices.click("button:has-text('Send')")
    conversation = Conversation.objects.get()
    alices.wait_for_url(f"{base}/messages/{conversation.pk}/")
    thread = alices.locator("#chat-thread")
    expect(thread).to_contain_text("first-time managers")
    expect(thread.locator(".chat-own .chat-bubble")).to_contain_text("<b>not bold</b>")

    # Bob's Messages page and header follow by themselves.
    row = bobs.locator(f"#conversation-{conversation.pk}")
    expect(row).to_contain_text("Alice Novak")
    expect(row.locator(".unread-badge")).to_contain_text("1")
    expect(bobs.locator("#unread-count")).to_be_visible()
    expect(bobs.locator("#unread-count")).to_contain_text("1")
    expect(bobs.locator("#pending-actions .count")).to_have_text("1")
    assert bobs.evaluate("window.__samePage") is True
    screenshot(bobs, "messages-list-1280")

    row.click()
    theirs = bobs.locator("#chat-thread .chat-theirs")
    expect(theirs).to_contain_text("first-time managers")
    link = theirs.locator("a[href='https://example.com/plan']")
    expect(link).to_have_attribute("rel", "nofollow")
    expect(bobs.locator("#unread-count")).to_be_hidden()  # read on opening
    bobs.fill("#chat-body", "Yes, I do.\nShall we talk on Monday?")
    bobs.press("#chat-body", "Control+Enter")
    expect(bobs.locator("#chat-thread .chat-own")).to_contain_text("Shall we talk on Monday?")
    expect(bobs.locator("#chat-body")).to_have_value("")
    expect(bobs.locator("#chat-body")).to_be_focused()  # ready for the next line

    # Alice sees his answer arrive, and that he read hers.
    alices.evaluate("window.__samePage = true")
    expect(alices.locator("#chat-thread .chat-theirs")).to_contain_text("Yes, I do.")
    expect(alices.locator("#chat-thread .chat-seen")).to_have_text("Seen")
    assert alices.evaluate("window.__samePage") is True
    screenshot(alices, "messages-thread-1280")
    assert serious(Axe().run(alices)) == []

    # The same pages on a phone.
    phone = new_page(time_zone="Europe/Berlin", width=390, height=844)
    log_in(phone, base, alice.email)
    phone.goto(f"{base}/messages/")
    expect(phone.locator(f"#conversation-{conversation.pk}")).to_contain_text("Bob Whitaker")
    screenshot(phone, "messages-list-390")
    phone.goto(f"{base}/messages/{conversation.pk}/")
    expect(phone.locator("#chat-thread")).to_contain_text("Shall we talk on Monday?")
    screenshot(phone, "messages-thread-390")
    assert serious(Axe().run(phone)) == []


def test_the_pair_chats_in_the_rooms_panel_beside_the_lobby(
    live_server, new_page, screenshot, booked
):
    alice, bob, session = booked
    base = live_server.url
    alices = new_page(time_zone="Europe/Berlin")
    log_in(alices, base, alice.email)
    alices.goto(f"{base}/sessions/{session.pk}/room/")
    panel = alices.locator(".chat-panel")
    expect(panel.locator("h2")).to_have_text("Messages with Bob Whitaker")
    panel.locator("textarea[name=body]").fill("I'm in the lobby, no rush.")
    panel.locator("button:has-text('Send')").click()
    # The first line opens the conversation; the panel becomes its thread, in place.
    expect(panel.locator("#chat-thread .chat-own")).to_contain_text("no rush")
    expect(panel.locator("#chat-body")).to_have_value("")

    bobs = new_page(time_zone="America/New_York")
    log_in(bobs, base, bob.user.email)
    bobs.goto(f"{base}/sessions/{session.pk}/room/")
    expect(bobs.locator(".chat-panel #chat-thread")).to_contain_text("no rush")
    bobs.locator("#chat-body").fill("Starting in a minute!")
    bobs.locator(".chat-panel button:has-text('Send')").click()

    expect(panel.locator("#chat-thread .chat-theirs")).to_contain_text("Starting in a minute!")
    expect(panel.locator(".chat-seen")).to_have_text("Seen")
    screenshot(alices, "messages-room-1280")
    assert serious(Axe().run(alices)) == []
    phone = new_page(time_zone="Europe/Berlin", width=390, height=844)
    log_in(phone, base, alice.email)
    phone.goto(f"{base}/sessions/{session.pk}/room/")
    expect(phone.locator(".chat-panel #chat-thread")).to_contain_text("Starting in a minute!")
    screenshot(phone, "messages-room-390")
