"""Security checks: CSRF on every unsafe request (htmx too), session rotation at login,
cookie flags in production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def test_unsafe_requests_without_a_csrf_token_are_refused_htmx_or_not(alice, bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob.user)
    url = reverse("coaching:window_add")
    data = {"weekday": 5, "start_minute": 600, "end_minute": 660}

    plain = client.post(url, data)
    htmx = client.post(url, data, headers={"HX-Request": "true"})

    assert plain.status_code == htmx.status_code == 403
    assert not bob.availability_windows.filter(weekday=5).exists()

    page = client.get(reverse("coaching:availability"))
    token = page.cookies["csrftoken"].value
    ok = client.post(url, data, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert ok.status_code == 200
    assert bob.availability_windows.filter(weekday=5).exists()


def test_the_base_page_puts_the_csrf_header_on_body_for_htmx(client, alice):
    client.force_login(alice)
    body = client.get("/").content.decode()
    assert '<body hx-headers=\'{"x-csrftoken": "' in body


def test_the_stripe_webhook_is_the_only_csrf_exemption_and_needs_a_signature():
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("payments:stripe_webhook"), b"{}", content_type="application/json"
    )
    assert response.status_code == 400  # not 403: exempt from CSRF, refused for the signature


def test_the_session_key_changes_at_login(alice):
    client = Client()
    client.get(reverse("account_login"))
    client.session["probe"] = 1
    before = client.session.session_key

    client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})

    assert client.session.session_key != before
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_production_cookies_are_secure_httponly_and_samesite():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_SAMESITE, s.SECURE_HSTS_SECONDS > 0, "
        "s.SECURE_SSL_REDIRECT)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hse.settings",
        "HSE_ENV": "production",
        "SECRET_KEY": "k" * 60,
        "ALLOWED_HOSTS": "hse.example.com",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "Lax", "True", "Lax", "True", "True"]


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("marketplace:coach_detail", {"duration": "²"}),
        ("payments:wallet", {"topup": "²"}),
        ("requests:propose", {"session": "²"}),
    ],
)
def test_digits_that_are_not_numbers_are_not_a_500(client, alice, bob, name, params):
    client.force_login(alice)
    args = [bob.pk] if name == "marketplace:coach_detail" else []
    assert client.get(reverse(name, args=args), params).status_code == 200
