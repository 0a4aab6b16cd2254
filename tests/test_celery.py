import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from hse.schedules import OURS, PERIODIC_TASKS, sync_periodic_tasks
from hse.tasks import clear_expired_sessions, ping
from tests.waiting import PATIENCE

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker():
    """A real Celery worker process on a queue of its own, fed through Redis."""
    from hse.celery import app

    app.conf.task_always_eager = False
    queue = f"test-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "hse",
            "worker",
            "-P",
            "solo",
            "-Q",
            queue,
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "hse.settings"},
    )
    try:
        yield queue
    finally:
        process.terminate()
        process.wait(timeout=PATIENCE)
        app.conf.task_always_eager = True


@pytest.mark.redis("a real worker is fed through the Redis broker")
def test_a_task_sent_through_redis_runs_on_a_real_worker(worker):
    assert settings.CELERY_BROKER_URL.startswith("redis://")

    # Earlier eager tasks in this process mark it as "inside a task"; this is the test itself.
    result = ping.apply_async(queue=worker).get(timeout=PATIENCE, disable_sync_subtasks=False)

    assert result["pong"] is True
    assert result["pid"] != os.getpid()  # another process: the worker, not this one


@pytest.mark.django_db
def test_migrate_registers_every_periodic_task_in_the_database():
    names = set(
        PeriodicTask.objects.filter(description__startswith=OURS).values_list("name", flat=True)
    )

    assert names == set(PERIODIC_TASKS)


@pytest.mark.django_db
def test_syncing_twice_changes_nothing_and_keeps_an_admins_own_task():
    from django_celery_beat.models import IntervalSchedule

    every_hour = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name="admin's own", task="hse.ping", interval=every_hour)
    PeriodicTask.objects.create(
        name="retired", task="hse.ping", interval=every_hour, description=f"{OURS}gone"
    )

    sync_periodic_tasks()
    first = sorted(PeriodicTask.objects.values_list("name", "task", "interval_id"))
    sync_periodic_tasks()
    second = sorted(PeriodicTask.objects.values_list("name", "task", "interval_id"))

    assert first == second
    names = {name for name, _, _ in second}
    assert "admin's own" in names
    assert "retired" not in names


@pytest.mark.django_db
def test_clear_expired_sessions_deletes_only_expired_ones():
    now = timezone.now()
    Session.objects.create(session_key="old", session_data="", expire_date=now - timedelta(days=1))
    Session.objects.create(session_key="new", session_data="", expire_date=now + timedelta(days=1))

    clear_expired_sessions()

    assert list(Session.objects.values_list("session_key", flat=True)) == ["new"]
