import pytest
from playwright.sync_api import expect

from ledger.services import wallet_balance
from sessions_app.models import Report, Session
from tests.browser.test_buying import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_lobby_start_end_and_the_client_lands_on_confirm_by_itself(
    live_server, new_page, screenshot, booked
):
    alice, bob, session = booked
    client_page = new_page(time_zone="Europe/Berlin")
    log_in(client_page, live_server.url, alice.email)
    client_page.goto(f"{live_server.url}/sessions/{session.pk}/room/")
    client_page.wait_for_selector("text=Waiting for Bob Whitaker to start")
    screenshot(client_page, "lobby-waiting")

    coach_page = new_page(time_zone="America/New_York")
    log_in(coach_page, live_server.url, bob.user.email)
    coach_page.goto(f"{live_server.url}/sessions/{session.pk}/room/")
    coach_page.click("button:has-text('Start session')")
    coach_page.wait_for_selector("button:has-text('End session')")

    client_page.wait_for_selector("text=Bob Whitaker has started the session")  # polled
    screenshot(client_page, "lobby-started")
    client_page.click("button:has-text('Join the call')")
    client_page.wait_for_selector(".call")
    screenshot(client_page, "room-call")

    coach_page.click("button:has-text('End session')")
    dialog = coach_page.locator("#confirm-dialog")
    expect(dialog.locator("#confirm-dialog-text")).to_have_text(
        "The call ends for both of you, and Alice Novak is asked to confirm the session."
    )
    screenshot(coach_page, "room-end-dialog")
    dialog.locator("button:has-text('End the session')").click()
    coach_page.wait_for_url(f"{live_server.url}/sessions/{session.pk}/")

    client_page.wait_for_url(f"{live_server.url}/sessions/{session.pk}/confirm/")
    screenshot(client_page, "confirm")
    client_page.locator("label[for=rating-page-5]").click()
    client_page.fill("#id_comment", "Exactly what I needed")
    client_page.click("button:has-text('Confirm the session')")
    client_page.wait_for_selector("text=Thank you! Your session is confirmed.")
    session.refresh_from_db()
    assert (session.status, session.rating) == ("confirmed", 5)
    kinds = set(session.attendance.values_list("kind", flat=True))
    assert {"lobby", "start", "join", "end"} <= kinds


def test_a_reported_session_is_refunded_to_the_wallet_from_the_admin(
    live_server, new_page, screenshot, booked
):
    alice, _bob, session = booked
    page = new_page(time_zone="Europe/Berlin")
    log_in(page, live_server.url, alice.email)
    page.goto(f"{live_server.url}/sessions/{session.pk}/room/")
    page.wait_for_selector(".report-bar")  # five minutes late, never started
    screenshot(page, "lobby-report-available")
    page.click(".report-bar a:has-text('Report')")
    page.select_option("#id_reason", "no_show")
    page.fill("#id_details", "I waited in the lobby; the coach never started.")
    page.click("button:has-text('Send the report')")
    page.wait_for_selector("text=Your report was sent.")
    report = Report.objects.get()

    sam = UserFactory(
        email="sam@example.com", display_name="Sam Staff", is_staff=True, is_superuser=True
    )
    admin = new_page(time_zone="UTC")
    admin.goto(f"{live_server.url}/admin/login/")
    admin.fill("#id_username", sam.email)
    admin.fill("#id_password", "correct-horse-battery-staple")
    admin.click("input[type=submit]")
    admin.goto(f"{live_server.url}/admin/sessions_app/report/")
    screenshot(admin, "admin-reports")
    admin.click(f"a[href*='/admin/sessions_app/report/{report.pk}/change/']")
    admin.wait_for_selector("text=Attendance evidence")
    assert admin.locator("td:has-text('Entered the lobby')").count() >= 1
    screenshot(admin, "admin-report")
    admin.click("input[name=_refund_wallet]")
    admin.wait_for_selector("text=Decided: Refund to wallet")

    report.refresh_from_db()
    assert report.state == "refunded" and report.decided_by == sam
    assert wallet_balance(user=alice) == session.credit.price_paid
    assert Session.objects.get(pk=session.pk).status == "refunded"
