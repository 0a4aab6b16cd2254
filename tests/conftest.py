import os

import pytest
from django.conf import settings
from django.core.cache import cache

from tests.factories import CoachFactory, SkillFactory, UserFactory

REQUIRE_SERVICES = bool(os.environ.get("HSE_TEST_REQUIRE_SERVICES"))


def pytest_configure(config):
    # Hashing passwords properly is the slowest thing a test does; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_sessionstart(session):
    # Under CI the real services are part of the contract: refuse to run on the fallbacks.
    if REQUIRE_SERVICES:
        if not settings.USES_POSTGRES:
            pytest.exit("CI needs PostgreSQL: DATABASE_URL does not point at it", returncode=3)
        if not settings.REDIS_URL:
            pytest.exit("CI needs Redis: REDIS_URL is not set", returncode=3)
        if not os.environ.get("CHROMIUM_PATH"):
            pytest.exit("CI needs Chromium: CHROMIUM_PATH is not set", returncode=3)


@pytest.fixture(autouse=True)
def _clean_cache():
    # allauth's rate limits live in the cache; every test starts with none used.
    cache.clear()
    yield
    cache.clear()


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
