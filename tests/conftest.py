import importlib
import os

import freezegun
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections

from tests.factories import CoachFactory, SkillFactory, UserFactory
from tests.stripe_helpers import WEBHOOK_SECRET, StandIn

REQUIRE_SERVICES = bool(os.environ.get("HSE_TEST_REQUIRE_SERVICES"))


def pytest_report_header(config):
    # The clock-shifted runs say where the clock stood.
    from django.utils import timezone

    return f"clock: {timezone.now():%Y-%m-%d %H:%M} UTC"


def pytest_configure(config):
    # pytest times each test with its own clock; a frozen one would garble --durations.
    freezegun.configure(extend_ignore_list=["_pytest.timing"])
    # Hashing passwords properly is the slowest thing a test does; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Queued work (emails) runs in the test's own process, so its effects can be asserted;
    # the tests that need a real worker switch this off for themselves.
    from hse.celery import app

    app.conf.task_always_eager = True


def pytest_sessionstart(session):
    # Under CI the real services are part of the contract: refuse to run on the fallbacks.
    if REQUIRE_SERVICES:
        if not settings.USES_POSTGRES:
            pytest.exit("CI needs PostgreSQL: DATABASE_URL does not point at it", returncode=3)
        if not settings.REDIS_URL:
            pytest.exit("CI needs Redis: REDIS_URL is not set", returncode=3)
        if not os.environ.get("CHROMIUM_PATH"):
            pytest.exit("CI needs Chromium: CHROMIUM_PATH is not set", returncode=3)


def pytest_collection_modifyitems(config, items):
    """``postgres`` and ``redis`` mark what needs the real service; on the fallback such a
    test is skipped with its reason (``@pytest.mark.postgres("why")``). Under CI the
    services are required at start, so nothing is skipped there."""
    services = {
        "postgres": ("PostgreSQL (DATABASE_URL)", settings.USES_POSTGRES),
        "redis": ("Redis (REDIS_URL)", bool(settings.REDIS_URL)),
    }
    for item in items:
        for name, (service, present) in services.items():
            marker = item.get_closest_marker(name)
            if marker is not None and not present:
                why = marker.args[0] if marker.args else marker.kwargs.get("reason", "")
                reason = f"needs {service}" + (f": {why}" if why else "")
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _sqlite_ledger_guard(request, django_db_blocker):
    """SQLite empties tables with DELETE after transactional tests, which the ledger's
    append-only trigger refuses. So on SQLite the DELETE guard is lifted after such a test,
    for the flush, and put back before every test. PostgreSQL truncates and needs nothing."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or "live_server" in request.fixturenames
    if settings.USES_POSTGRES or not uses_db:
        yield
        return
    from django.db import connection

    guard = importlib.import_module("payments.migrations.0003_wallet_append_only")
    create = guard.SQLITE_FORWARD[1].replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1)
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(create)
    yield
    transactional = "live_server" in request.fixturenames or marker.kwargs.get("transaction")
    if transactional:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS payments_wallet_entry_no_delete")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, and at the end its pooled connections closed (settings: DB_POOL_MAX)
    before it is dropped: a connection the pool keeps idle would stop the DROP."""
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            if getattr(connection, "pool", None):
                connection.close_pool()


@pytest.fixture(autouse=True)
def _clean_cache():
    # allauth's rate limits live in the cache; every test starts with none used.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _sign_ins_outlive_moved_clocks(settings):
    """A test signs in at the real time and may then move the clock years on with freezegun.
    A sign-in that lasts two weeks would be over by then wherever the session's expiry is
    read through the faked clock (the database sessions, the in-memory cache; Redis keeps
    real time), so the suite would pass or fail by which cache it runs on."""
    settings.SESSION_COOKIE_AGE = 60 * 60 * 24 * 365 * 50


@pytest.fixture
def alice(db):
    """A client in Berlin."""
    return UserFactory(
        display_name="Alice Client", email="alice@example.com", time_zone="Europe/Berlin"
    )


@pytest.fixture
def carol(db):
    """Another client, in New York."""
    return UserFactory(
        display_name="Carol Client", email="carol@example.com", time_zone="America/New_York"
    )


@pytest.fixture
def bob(db):
    """A listed coach in New York, available weekdays 09:00–12:00 local."""
    return CoachFactory(
        user__display_name="Bob Coach", user__email="bob@example.com", time_zone="America/New_York"
    )


@pytest.fixture
def dora(db):
    """Another listed coach, in Berlin."""
    return CoachFactory(
        user__display_name="Dora Coach", user__email="dora@example.com", time_zone="Europe/Berlin"
    )


@pytest.fixture
def skill(db):
    return SkillFactory(name="Leadership", slug="leadership")


@pytest.fixture
def leadership(bob, skill):
    """Bob coaches Leadership."""
    bob.skills.add(skill)
    return skill


@pytest.fixture(scope="session")
def stripe_standin():
    server = StandIn()
    yield server
    server.stop()


@pytest.fixture
def stripe_settings(settings, stripe_standin):
    """The application pointed at the stand-in, as `make run` does without Stripe keys."""
    settings.STRIPE_SECRET_KEY = "sk_test_suite"
    settings.STRIPE_API_BASE = stripe_standin.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


@pytest.fixture(autouse=True)
def _webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def session(alice, bob, leadership):
    """Alice's 60-minute session with Bob at T (Monday 30 Nov 2026, 09:00 New York),
    paid from her wallet five days before."""
    from ledger.services import wallet_post
    from payments.services import order_start
    from sessions_app.models import Session
    from tests.test_session_lifecycle import BOOKED_AT, T

    wallet_post(user=alice, amount=10000, reason="top_up", key="fund", now=BOOKED_AT)
    order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=1,
        method="wallet", starts_at=T, now=BOOKED_AT,
    )  # fmt: skip
    return Session.objects.get()
