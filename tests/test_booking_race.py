"""Fifty clients pay for one slot from their wallets at the same instant, over HTTP, against
gunicorn with several worker processes on PostgreSQL, three rounds: each round ends in
exactly one booking, and every other client is told at once that the time was taken (a
redirect back to the choices, which says so: test_buy_flow shows the page); nobody gets a
5xx. The answer times are a
benchmark figure, printed, not asserted."""

import http.client
import math
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from ledger.services import wallet_post
from sessions_app.models import Session
from tests.factories import CoachFactory, SkillFactory, UserFactory
from tests.stripe_helpers import free_port
from tests.waiting import PATIENCE, wait_for

ROOT = Path(__file__).resolve().parent.parent
CLIENTS, ROUNDS = 50, 3
pytestmark = [
    pytest.mark.postgres("real worker processes share the database"),
    pytest.mark.django_db(transaction=True),
]


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _signed_in(user) -> str:
    """A session cookie of ``user``, as a login would leave it."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


class Browser:
    """One client's cookies, and a CSRF token from the buy page, as a browser holds them."""

    def __init__(self, port: int, user):
        self.port = port
        self.cookies = {settings.SESSION_COOKIE_NAME: _signed_in(user)}

    def request(self, method: str, path: str, body: str = ""):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PATIENCE)
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "Host": "127.0.0.1",
        }
        if method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get(settings.CSRF_COOKIE_NAME, "")
            headers["Referer"] = f"http://127.0.0.1:{self.port}/"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        self.last_body = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        connection.close()
        return response.status, response.headers.get("Location", "")


@pytest.fixture
def gunicorn():
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "",
        "WEB_CONCURRENCY": "3",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "hse.wsgi"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(port), "gunicorn to answer", every=0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=PATIENCE)


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz/")
        return connection.getresponse().status == 200
    except OSError:
        return False


def test_fifty_clients_paying_for_one_slot_at_once_leave_one_booking_and_49_quick_answers(
    gunicorn, capsys
):
    skill = SkillFactory(name="Leadership", slug="leadership")
    coach = CoachFactory(
        skills=[skill], windows=[(day, 0, 1440) for day in range(7)], minimum_notice_minutes=0
    )
    users = [UserFactory() for _ in range(CLIENTS)]
    now = timezone.now()
    for user in users:
        wallet_post(user=user, amount=100_000, reason="top_up", key=f"race-{user.pk}", now=now)
    browsers = [Browser(gunicorn, user) for user in users]
    buy = f"/coaches/{coach.pk}/buy/"
    for browser in browsers:  # each has the page open, as a real client would
        assert browser.request("GET", buy)[0] == 200
    first = (now + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)

    figures = []
    for round_ in range(ROUNDS):
        start = first + timedelta(hours=round_)
        form = urlencode(
            {
                "skill": "leadership", "duration": "60", "quantity": "1", "method": "wallet",
                "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )  # fmt: skip
        barrier = threading.Barrier(CLIENTS)
        answers, sizes, losers = [], [], []

        def pay(browser, form=form, barrier=barrier, answers=answers, sizes=sizes, losers=losers):
            barrier.wait()
            began = time.monotonic()
            status, location = browser.request("POST", f"/coaches/{coach.pk}/buy/checkout/", form)
            answers.append((status, location, time.monotonic() - began))
            sizes.append(len(browser.last_body))
            if location.startswith(buy):
                losers.append((browser, location))

        threads = [threading.Thread(target=pay, args=(browser,)) for browser in browsers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        statuses = sorted({status for status, _, _ in answers})
        booked = [location for _, location, _ in answers if location.startswith("/orders/")]
        taken = [location for _, location, _ in answers if location.startswith(buy)]
        assert statuses == [302], answers
        assert len(booked) == 1 and len(taken) == CLIENTS - 1, answers
        assert Session.objects.filter(starts_at=start, status="scheduled").count() == 1
        assert max(sizes) < 1000  # a redirect, not the buy page again
        # A loser follows the redirect and reads why (taken, or no longer free), with the
        # fresh times to pick from.
        loser, back_to = losers[0]
        assert loser.request("GET", back_to)[0] == 200 and b"Please pick another" in loser.last_body
        times = sorted(seconds for _, _, seconds in answers)
        p95 = times[math.ceil(len(times) * 0.95) - 1]
        figures.append((times[len(times) // 2], p95, times[-1]))

    with capsys.disabled():
        for number, (median, p95, slowest) in enumerate(figures, 1):
            print(
                f"\nbooking race, round {number}: {CLIENTS} clients, answers in "
                f"p50 {median * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {slowest * 1000:.0f} ms"
            )
