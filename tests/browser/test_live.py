"""Pages served over ASGI (uvicorn, as in production) get their events over one WebSocket:
the call connects with its signalling pushed, and the lobby and the room move on without
polling. (Every other browser test runs against Django's WSGI live server, where no socket
connects, so the same pages are tested on their polling fallback there.)"""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.browser.test_video_call import remote_video_plays
from tests.stripe_helpers import free_port
from tests.test_booking_race import ROOT, _answers, _database_url, _signed_in
from tests.waiting import PATIENCE, wait_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres("the ASGI server is another process on the test database"),
    pytest.mark.django_db(transaction=True),
]


class Server:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def asgi_server():
    port = free_port()
    env = {**os.environ, "DATABASE_URL": _database_url(), "ALLOWED_HOSTS": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "marketplace.asgi:application", "--port", str(port),
         "--host", "127.0.0.1", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(port), "uvicorn to answer", every=0.2)
        yield Server(port)
    finally:
        process.terminate()
        process.wait(timeout=PATIENCE)


def sign_in(page, base: str, user) -> None:
    """The server is another process whose password hashers are not the suite's fast ones:
    the browser gets a session as a login would leave it."""
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": _signed_in(user), "url": base}]
    )


def signal_polls(page) -> list[str]:
    polls = []
    page.on(
        "request",
        lambda request: (
            polls.append(request.url)
            if "/signals/?after=" in request.url and request.method == "GET"
            else None
        ),
    )
    return polls


def test_the_call_connects_with_its_events_pushed_over_the_socket(
    asgi_server, new_page, screenshot, booked
):
    alice, bob, session = booked
    client = new_page(time_zone="Europe/Berlin")
    sign_in(client, asgi_server.url, alice)
    client.goto(f"{asgi_server.url}/sessions/{session.pk}/room/")
    client.wait_for_function("window.hseLive === true")
    lobby_polls = []
    client.on("request", lambda r: lobby_polls.append(r.url) if "/room/" in r.url else None)

    coach = new_page(time_zone="America/New_York")
    sign_in(coach, asgi_server.url, bob.user)
    coach.goto(f"{asgi_server.url}/sessions/{session.pk}/room/")
    coach.wait_for_function("window.hseLive === true")
    coach.click("button:has-text('Start session')")
    coach.wait_for_selector("#call")

    # The lobby is told at once: one read of its state, not a poll every two seconds.
    client.wait_for_selector("text=Bob Whitaker has started the session")
    assert len(lobby_polls) <= 2, lobby_polls
    client_polls, coach_polls = signal_polls(client), signal_polls(coach)
    client.click("button:has-text('Join the call')")
    client.wait_for_selector("#call")
    client.wait_for_function("window.hseLive === true")
    remote_video_plays(client)
    remote_video_plays(coach)
    assert client.evaluate("window.hseLive") and coach.evaluate("window.hseLive")
    # Each side read the signals once when its socket connected, and never polled them.
    assert len(client_polls) <= 1 and len(coach_polls) <= 1, (client_polls, coach_polls)
    screenshot(client, "call-over-socket")

    coach.click("button:has-text('End session')")
    coach.click("#confirm-dialog-yes")
    client.wait_for_url(f"{asgi_server.url}/sessions/{session.pk}/confirm/")


def test_with_websockets_blocked_the_call_falls_back_to_polling(
    asgi_server, browser, new_page, booked
):
    alice, bob, session = booked
    pages = []
    for person, zone in ((bob.user, "America/New_York"), (alice, "Europe/Berlin")):
        page = new_page(time_zone=zone)
        page.add_init_script("window.WebSocket = undefined;")  # as a proxy that blocks them
        sign_in(page, asgi_server.url, person)
        pages.append(page)
    coach, client = pages
    coach.goto(f"{asgi_server.url}/sessions/{session.pk}/room/")
    coach.click("button:has-text('Start session')")
    coach.wait_for_selector("#call")
    client.goto(f"{asgi_server.url}/sessions/{session.pk}/room/")
    client.wait_for_selector("text=Bob Whitaker has started the session")
    polls = signal_polls(client)
    client.click("button:has-text('Join the call')")
    client.wait_for_selector("#call")
    remote_video_plays(client)
    remote_video_plays(coach)
    assert client.evaluate("window.hseLive") is False and len(polls) > 1


def test_messages_the_late_notice_and_the_room_chat_arrive_over_the_socket(
    asgi_server, new_page, screenshot, booked
):
    from playwright.sync_api import expect

    alice, bob, session = booked
    base = asgi_server.url
    bobs = new_page(time_zone="America/New_York")
    sign_in(bobs, base, bob.user)
    bobs.goto(f"{base}/messages/")
    bobs.wait_for_function("window.hseLive === true")
    over_http = []  # what the pages ask of the messages over HTTP, once they are live
    bobs.on("request", lambda r: "/messages/" in r.url and over_http.append(f"{r.method} {r.url}"))

    alices = new_page(time_zone="Europe/Berlin")
    sign_in(alices, base, alice)
    alices.goto(f"{base}/coaches/{bob.pk}/")
    alices.click("text=Message Bob Whitaker")
    alices.fill("textarea[name=body]", "Hello Bob, see you in the room.")
    alices.click("button:has-text('Send')")
    # Bob's list and header are told over his socket.
    expect(bobs.locator("#conversations")).to_contain_text("see you in the room")
    expect(bobs.locator("#unread-count")).to_contain_text("1")
    expect(bobs.locator("#pending-actions .count")).to_have_text("1")  # the unread line
    assert bobs.evaluate("window.hseLive") is True

    # In the lobby: the coach is running late, the client agrees to wait, and Report moves.
    bobs.goto(f"{base}/sessions/{session.pk}/room/")
    alices.goto(f"{base}/sessions/{session.pk}/room/")
    alices.wait_for_function("window.hseLive === true")
    bobs.wait_for_function("window.hseLive === true")
    alices.on(
        "request", lambda r: "/messages/" in r.url and over_http.append(f"{r.method} {r.url}")
    )
    asked_before_the_room = len(over_http)
    expect(alices.locator(".report-bar")).to_be_visible()  # five minutes past the start
    bobs.click('button:has-text("I\'m 10 minutes late")')
    expect(alices.locator(".late-notice")).to_contain_text("running about 10 minutes late")
    screenshot(alices, "lobby-late-notice")
    alices.click('button:has-text("I\'ll wait")')
    expect(alices.locator(".late-notice")).to_contain_text("You agreed to wait")
    expect(alices.locator(".report-bar")).to_be_hidden()
    # The notice is a line of their chat too, beside the lobby; and the chat goes both ways.
    expect(bobs.locator(".chat-panel #chat-thread")).to_contain_text("10 minutes late")
    alices.locator("#chat-body").fill("No problem, I'll wait.")
    typing = bobs.locator(".chat-panel .chat-typing")
    expect(typing).to_be_visible()
    expect(typing).to_contain_text("is typing")
    alices.locator(".chat-panel button:has-text('Send')").click()
    expect(bobs.locator(".chat-panel #chat-thread")).to_contain_text("No problem, I'll wait.")
    expect(typing).to_be_hidden()
    # Bob's open thread read the line it added: Alice sees it seen, without asking again.
    expect(alices.locator(".chat-panel .chat-seen")).to_have_text("Seen")
    bobs.locator("#chat-body").fill("Thank you!")
    bobs.locator(".chat-panel button:has-text('Send')").click()
    expect(alices.locator(".chat-panel #chat-thread")).to_contain_text("Thank you!")
    screenshot(bobs, "lobby-chat-coach")
    # A line the rules refuse comes back with its reason and stays in the box.
    alices.locator("#chat-body").fill("bell\x07")
    alices.locator(".chat-panel button:has-text('Send')").click()
    expect(alices.locator(".chat-panel .errorlist")).to_contain_text("control characters")
    expect(alices.locator("#chat-body")).to_have_value("bell\x07")
    screenshot(alices, "lobby-chat-refused-1280")
    # Sending, showing and reading went over the sockets, and the unread count came with
    # its event: none of them over HTTP in the room.
    in_room = over_http[asked_before_the_room:]
    assert [ask for ask in in_room if ask.startswith("POST") or "/unread/" in ask] == []

    phone = new_page(time_zone="Europe/Berlin", width=390, height=844)
    sign_in(phone, base, alice)
    phone.goto(f"{base}/sessions/{session.pk}/room/")
    phone.wait_for_function("window.hseLive === true")
    phone.locator("#chat-body").fill("From my phone \x1b")
    phone.locator(".chat-panel button:has-text('Send')").click()
    expect(phone.locator(".chat-panel .errorlist")).to_contain_text("control characters")
    screenshot(phone, "lobby-chat-refused-390")
