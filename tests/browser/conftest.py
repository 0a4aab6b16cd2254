"""Browser tests: Playwright for Python driving Debian's Chromium (never a downloaded one)."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from ledger import services as ledger
from sessions_app import booking
from tests.factories import UserFactory
from tests.test_requests import package
from tests.waiting import PATIENCE_MS

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls there
# unless told that this test process knows what it is doing.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A real call between two contexts on one machine: fake camera and microphone, no
    # permission prompt, loopback candidates allowed and not hidden behind mDNS names.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def browser():
    path = os.environ.get("CHROMIUM_PATH") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        pytest.skip("needs Debian's chromium (CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """Opens pages in fresh contexts: new_page(time_zone="Asia/Tokyo", width=390)."""
    contexts = []

    def open_page(*, time_zone: str = "UTC", width: int = 1280, height: int = 900):
        context = browser.new_context(
            timezone_id=time_zone, viewport={"width": width, "height": height}, locale="en-US"
        )
        context.set_default_timeout(PATIENCE_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def booked(people):
    """A session with Bob that started a minute ago, booked from Alice's package."""
    alice, bob = people
    package(alice, bob, bob.skills.first())
    credit = alice.credits.filter(status="available").first()
    now = timezone.now().replace(second=0, microsecond=0)
    start = now - timedelta(minutes=now.minute % 5) - timedelta(minutes=5)
    with transaction.atomic():
        session = booking.session_reserve(
            coach=bob, client=alice, skill=credit.skill, duration_minutes=60, starts_at=start,
            now=start - timedelta(days=1), credit=credit, agreed=True,
        )  # fmt: skip
        ledger.credit_schedule(credit=credit, by=alice, now=now, why="booked for the test")
    return alice, bob, session


@pytest.fixture
def people(db):
    from tests.factories import CoachFactory, SkillFactory

    skill = SkillFactory(name="Leadership", slug="leadership")
    bob = CoachFactory(
        user__display_name="Bob Whitaker", user__time_zone="America/New_York",
        time_zone="America/New_York", skills=[skill],
    )  # fmt: skip
    alice = UserFactory(
        display_name="Alice Novak", email="alice@example.com", time_zone="Europe/Berlin"
    )
    return alice, bob
