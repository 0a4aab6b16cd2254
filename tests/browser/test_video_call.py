import pytest

from sessions_app.models import Session
from tests.browser.test_buying import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLAYING = """() => {
  const video = document.querySelector('#remote-video');
  if (!video || !video.videoWidth) return false;
  const frames = video.getVideoPlaybackQuality().totalVideoFrames;
  return new Promise(resolve => setTimeout(
    () => resolve(video.getVideoPlaybackQuality().totalVideoFrames > frames), 700));
}"""


def remote_video_plays(page) -> None:
    # Right after a click on "Join the call" the next page may not be there yet.
    page.wait_for_function("document.querySelector('#call')?.dataset.state === 'connected'")
    page.wait_for_function(PLAYING, polling=1000)
    assert page.evaluate("document.querySelector('#remote-video').videoWidth") > 0


def test_coach_and_client_hold_a_call_leave_rejoin_and_end(
    live_server, new_page, screenshot, booked
):
    alice, bob, session = booked
    coach = new_page(time_zone="America/New_York")
    log_in(coach, live_server.url, bob.user.email)
    coach.goto(f"{live_server.url}/sessions/{session.pk}/room/")
    coach.click("button:has-text('Start session')")
    coach.wait_for_selector("#call")

    client = new_page(time_zone="Europe/Berlin")
    log_in(client, live_server.url, alice.email)
    client.goto(f"{live_server.url}/sessions/{session.pk}/room/")
    # The lobby's check: the camera's picture, the devices to choose, a level that moves.
    client.click("#device-test")
    client.wait_for_selector("#device-check[data-state=ok]")
    assert client.locator("#device-camera option").count() >= 1
    assert client.evaluate("document.querySelector('#device-video').srcObject !== null")
    screenshot(client, "lobby-device-check")
    client.click("button:has-text('Join the call')")
    client.wait_for_selector("#call")

    remote_video_plays(client)
    remote_video_plays(coach)
    screenshot(client, "call-client")
    screenshot(coach, "call-coach")

    client.click("#toggle-mic")
    assert (
        client.evaluate(
            "document.querySelector('#local-video').srcObject.getAudioTracks()[0].enabled"
        )
        is False
    )
    assert client.locator("#toggle-mic").inner_text() == "Unmute"

    # A camera turned off shows the person's name on the other side, not a black frame.
    client.click("#toggle-camera")
    coach.wait_for_selector("#remote-off:not([hidden])")
    assert "Alice Novak turned the camera off" in coach.locator("#remote-off").inner_text()
    assert coach.locator("#remote-muted").is_visible()  # muted above
    screenshot(coach, "call-camera-off")
    client.click("#toggle-camera")
    coach.wait_for_selector("#remote-off", state="hidden")

    # Leave: the coach is told at once that Alice left (not "reconnecting"); Rejoin is one
    # click, and the call comes back.
    client.click("form[data-leave] button")
    client.wait_for_url(f"{live_server.url}/sessions/{session.pk}/left/")
    coach.wait_for_selector("text=Alice Novak left the call")
    assert client.locator("text=Report the session").is_visible()
    client.click("button:has-text('Rejoin the call')")
    client.wait_for_selector("#call")
    remote_video_plays(client)

    # A refresh reconnects too.
    coach.reload()
    remote_video_plays(coach)
    remote_video_plays(client)

    coach.click("button:has-text('End session')")
    coach.click("#confirm-dialog button:has-text('End the session')")
    client.wait_for_url(f"{live_server.url}/sessions/{session.pk}/confirm/")
    assert Session.objects.get(pk=session.pk).status == "ended"
    kinds = list(session.attendance.order_by("at").values_list("kind", flat=True))
    assert kinds.count("join") >= 3 and "leave" in kinds and "end" in kinds


def test_a_refused_camera_says_so_and_keeps_report_available(
    live_server, browser, screenshot, booked
):
    alice, bob, session = booked
    from django.utils import timezone

    from sessions_app import services

    services.session_start(session=session, by=bob.user, now=timezone.now())
    context = browser.new_context(
        timezone_id="Europe/Berlin", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => "
        "Promise.reject(new DOMException('denied', 'NotAllowedError'));"
    )
    log_in(page, live_server.url, alice.email)
    page.goto(f"{live_server.url}/sessions/{session.pk}/room/?call=1")

    page.wait_for_selector("#call-problem:not([hidden])")
    assert "camera or microphone is blocked" in page.locator("#call-problem-text").inner_text()
    assert page.locator("#call-problem a:has-text('Report a problem')").is_visible()
    screenshot(page, "call-camera-refused")
    context.close()
