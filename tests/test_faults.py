"""Faults: Redis going away, beat stopped for hours, a worker killed in the middle of a sweep."""

import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from payments.models import Order
from requests_app.models import SessionRequest
from sessions_app import sweeps
from sessions_app.models import Session, SessionEvent
from tests.factories import PASSWORD, CoachFactory, SkillFactory, UserFactory
from tests.stripe_helpers import free_port
from tests.test_requests import package
from tests.test_session_lifecycle import T, at
from tests.waiting import PATIENCE, real_clock_env, wait_for

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


class OwnRedis:
    """A private redis-server on a free port, so stopping it disturbs nobody else. It runs on
    the real clock even in the clock-shifted run (it hangs on a faked one)."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, env=real_clock_env(),
        )  # fmt: skip
        wait_for(self._answers, "redis-server to answer", every=0.1)

    def _answers(self) -> bool:
        ping = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"],
            capture_output=True, check=False, env=real_clock_env(), timeout=PATIENCE,
        )  # fmt: skip
        return ping.stdout.strip() == b"PONG"

    def stop(self):
        self.process.kill()
        self.process.wait(timeout=PATIENCE)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server program")
def test_pages_still_serve_when_redis_stops_and_the_cache_returns_with_it(alice, bob):
    redis = OwnRedis()
    redis.start()
    cache = {
        "default": {
            "BACKEND": "hse.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{redis.port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.5},
        }
    }
    try:
        with override_settings(CACHES=cache):
            from django.core.cache import caches

            caches["default"].set("probe", 1)
            assert caches["default"].get("probe") == 1
            redis.stop()

            client = Client()
            started = time.monotonic()
            assert client.get("/").status_code == 200
            assert client.get(reverse("marketplace:coach_detail", args=[bob.pk])).status_code == 200
            # Logging in uses allauth's rate limits, which live in the cache.
            login = client.post(
                reverse("account_login"), {"login": alice.email, "password": PASSWORD}
            )
            assert login.status_code == 302
            assert client.get(reverse("sessions:list")).status_code == 200
            assert time.monotonic() - started < 10  # failing fast, not hanging
            assert caches["default"].get("probe", "missing") == "missing"

            redis.start()
            caches["default"].set("probe", 2)
            assert caches["default"].get("probe") == 2
    finally:
        if redis.process and redis.process.poll() is None:
            redis.stop()


def test_beat_stopped_for_six_hours_catches_up_every_overdue_timer_once(
    alice, bob, leadership, session, django_capture_on_commit_callbacks
):
    """Six hours without beat: a hold, a request, a late coach, a session to auto-end and
    reminders all fall due; one round of every sweep handles each once, the next nothing."""
    from payments.services import order_start
    from payments.sweeps import holds_expire_due
    from requests_app.services import request_propose, requests_expire_due

    held = order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=1,
        method="stripe", starts_at=T + timedelta(days=1), now=T - timedelta(hours=5),
    )  # fmt: skip
    package(alice, bob, leadership)
    request = request_propose(
        by=alice, coach=bob, client=alice, starts_at=T + timedelta(hours=26),
        now=T - timedelta(hours=2),
    )  # fmt: skip
    back = at(60 + 15 + 6 * 60)  # beat comes back six hours after the session should have ended

    def all_sweeps():
        return (
            holds_expire_due(now=back),
            requests_expire_due(now=back),
            sweeps.coach_late_notify_due(now=back),
            sweeps.sessions_auto_end_due(now=back),
            sweeps.sessions_auto_confirm_due(now=back),
            sweeps.reminders_send_due(now=back),
        )

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = all_sweeps()
    events, mails = SessionEvent.objects.count(), len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        second = all_sweeps()

    assert first[0] == 1 and first[3] == 1  # the hold and the session to auto-end
    assert Order.objects.get(pk=held.pk).status == "expired"
    assert Session.objects.get(pk=session.pk).status == "ended"
    assert SessionRequest.objects.get(pk=request.pk).status in ("pending", "expired")
    assert first[2] == 0  # the session is over: no late-coach notice after the fact
    assert second == (0, 0, 0, 0, 0, 0)
    assert (SessionEvent.objects.count(), len(mail.outbox)) == (events, mails)


def _database_url() -> str:
    """The test database, for a process of our own to work on."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _worker(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "hse", "worker", "-P", "solo", "-l", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env,
    )  # fmt: skip


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server program")
@pytest.mark.postgres("a worker process shares PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_sweep_leaves_no_double_effects_once_another_takes_over(tmp_path):
    """The auto-end sweep is killed (SIGKILL) after some of its batches committed and in the
    middle of another. The task was acknowledged late, so the broker gives it to the next
    worker, which ends the rest: every session ends once, with one event, one attendance row
    and one email (the emails wait in the outbox, written in the sweep's transactions).
    The sweep runs in small batches, so the kill lands mid-sweep however slow the machine."""
    from celery import Celery

    from hse.models import QueuedEmail
    from sessions_app.models import Attendance

    count, batch = 3000, 100
    now = timezone.now()
    coach, client, skill = CoachFactory(), UserFactory(), SkillFactory()
    Session.objects.bulk_create(
        Session(coach=coach, client=client, skill=skill,
                duration_minutes=30, starts_at=now - timedelta(hours=3) + timedelta(seconds=n),
                ends_at=now - timedelta(hours=3) + timedelta(seconds=n + 1),
                status=Session.Status.IN_PROGRESS)
        for n in range(count)
    )  # fmt: skip
    broker = OwnRedis()
    broker.start()
    broker_url = f"redis://127.0.0.1:{broker.port}/0"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hse.settings",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "CELERY_VISIBILITY_TIMEOUT": "2",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path),
    }
    ended = SessionEvent.objects.filter(to_status="ended")
    unsent = QueuedEmail.objects.filter(sent_at=None)
    workers = []
    try:
        workers.append(_worker(env))
        producer = Celery("producer", broker=broker_url, set_as_current=False)
        producer.send_task("sessions.auto_end", kwargs={"batch": batch}, queue="hse")
        wait_for(ended.count, "the first batch to commit")
        workers[0].kill()
        workers[0].wait(timeout=PATIENCE)
        # Counted once the worker is dead: batches it committed before the kill count too.
        assert 0 < ended.count() < count, "the sweep finished before it could be killed"

        workers.append(_worker(env))
        wait_for(lambda: ended.count() == count, "the second worker to finish the sweep")

        def emails_sent():
            return sum(
                path.read_text().count("Subject: [HSE] Your session ended")
                for path in tmp_path.iterdir()
            )

        # The kill may fall between a batch's commit and the hand-over of its emails to
        # the broker: beat's next flush of the outbox sends what was not handed over.
        producer.send_task("hse.flush_emails", queue="hse")
        wait_for(
            lambda: emails_sent() >= count and not unsent.exists(),
            "every email to be sent and marked sent",
        )
        # Longer than the visibility timeout: a task handed back by the broker would run
        # again by now. Nothing else may come of it.
        time.sleep(3)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(timeout=PATIENCE)
        broker.stop()

    assert Session.objects.filter(status="ended").count() == count
    assert ended.count() == count
    assert Attendance.objects.filter(kind="auto_end").count() == count
    assert emails_sent() == count
    assert not unsent.exists()
