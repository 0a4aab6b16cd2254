"""Settings come from the environment and a malformed value stops start-up, naming it."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hse.env import EnvError, env_bool, env_int, env_list, env_timezone, env_url

ROOT = Path(__file__).resolve().parent.parent


def start_django(**env) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "HSE_ENV", "SECRET_KEY"}
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "hse.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_django(code: str, **env) -> subprocess.CompletedProcess:
    """Runs ``code`` after Django's set-up in a new process, with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "hse.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be one of"),
        ({"DATABASE_URL": "mysql://root@db/hse"}, "DATABASE_URL must be a URL starting with"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must be a URL starting with"),
        (
            {"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "twenty-five"},
            "EMAIL_PORT must be a whole number",
        ),
        (
            {"ALLOWED_HOSTS": "a.example.com,,b.example.com"},
            "ALLOWED_HOSTS must be a comma-separated",
        ),
        ({"ACCOUNT_EMAIL_VERIFICATION": "sometimes"}, "ACCOUNT_EMAIL_VERIFICATION must be one of"),
        ({"HSE_ENV": "production"}, "SECRET_KEY must be set when HSE_ENV=production"),
        ({"DEFAULT_USER_TIME_ZONE": "Europe/Nowhere"}, "DEFAULT_USER_TIME_ZONE must be an IANA"),
    ],
)
def test_a_malformed_setting_stops_start_up_naming_the_variable(env, named):
    result = start_django(**env)

    assert result.returncode != 0
    assert named in result.stderr
    assert "started" not in result.stdout


def test_the_embedded_default_starts_with_nothing_set():
    result = start_django()

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_production_defaults_make_verification_mandatory_and_cookies_secure():
    code = (
        "from django.conf import settings as s;"
        "print(s.ACCOUNT_EMAIL_VERIFICATION, s.SESSION_COOKIE_SECURE,"
        " s.CSRF_COOKIE_SECURE, s.DEBUG)"
    )
    result = run_django(
        code, HSE_ENV="production", SECRET_KEY="x" * 50, ALLOWED_HOSTS="hse.example.com"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mandatory", "True", "True", "False"]


def test_readers_parse_good_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", " 42 ")
    monkeypatch.setenv("X_LIST", "a.example.com, b.example.com")
    monkeypatch.setenv("X_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("X_ZONE", "Asia/Kolkata")

    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 0) == 42
    assert env_list("X_LIST", []) == ["a.example.com", "b.example.com"]
    assert env_url("X_URL", None, ("redis",)) == "redis://127.0.0.1:6379/0"
    assert env_timezone("X_ZONE", "UTC") == "Asia/Kolkata"
    assert env_bool("X_UNSET", True) is True


def test_a_number_below_its_minimum_is_refused(monkeypatch):
    monkeypatch.setenv("X_INT", "-5")

    with pytest.raises(EnvError, match="X_INT must be at least 0, not -5"):
        env_int("X_INT", 1, minimum=0)


@pytest.mark.django_db
@pytest.mark.postgres("prepared statements are PostgreSQL's")
def test_postgresql_plans_a_query_that_runs_again_and_again_only_once():
    from django.db import connection

    from coaching.models import Skill

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            return cursor.fetchone()[0]

    before = prepared()
    for slug in ("a", "b", "c", "d", "e", "f"):  # the same query, new parameters
        list(Skill.objects.filter(slug=slug))

    assert prepared() == before + 1


def test_prepared_statements_can_be_turned_off_for_a_pooler():
    code = "from django.conf import settings as s; print(s.DATABASES['default'].get('OPTIONS'))"
    result = run_django(
        code, DATABASE_URL="postgres://postgres@127.0.0.1:5432/hse", DB_PREPARED_STATEMENTS="false"
    )

    assert result.returncode == 0, result.stderr
    assert "prepare_threshold" not in result.stdout


def test_postgresql_connections_come_from_a_bounded_pool_unless_turned_off():
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d.get('OPTIONS', {}).get('pool'))"
    )
    url = "postgres://postgres@127.0.0.1:5432/hse"
    pooled = run_django(code, DATABASE_URL=url, DB_POOL_MAX="7")
    assert pooled.returncode == 0, pooled.stderr
    # The pool keeps the connections: Django must close (return) each after its request.
    assert pooled.stdout.split(None, 1) == ["0", "{'min_size': 1, 'max_size': 7, 'timeout': 10}\n"]

    persistent = run_django(code, DATABASE_URL=url, DB_POOL_MAX="0", DB_CONN_MAX_AGE="30")
    assert persistent.stdout.split() == ["30", "None"]


def test_the_channel_layer_is_redis_pub_sub_apart_per_redis_database():
    code = "from django.conf import settings as s; print(s.CHANNEL_LAYERS['default'])"
    one = run_django(code, REDIS_URL="redis://127.0.0.1:6379/3")
    other = run_django(code, REDIS_URL="redis://127.0.0.1:6379")
    assert "RedisPubSubChannelLayer" in one.stdout, one.stderr
    # Redis's pub/sub channels ignore the database number: the prefix keeps two sites apart.
    assert "'prefix': 'hse-live-3'" in one.stdout and "'prefix': 'hse-live-0'" in other.stdout


@pytest.mark.timing
@pytest.mark.postgres("Django's connection pool is PostgreSQL's")
def test_a_request_that_finds_no_free_connection_answers_503_not_500():
    code = """
import threading
from django.db import connection
from django.test import Client
connection.ensure_connection()  # the pool's one connection, held by this thread
answers = []
def visit():
    answers.append(Client(raise_request_exception=False).get('/'))
thread = threading.Thread(target=visit)
thread.start(); thread.join()
print(answers[0].status_code, answers[0].headers.get('Retry-After'))
"""
    # The server's own database "postgres": the request never gets as far as a table, and
    # the site's database may not exist on a machine that only ran the tests.
    server = urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres").geturl()
    result = run_django(
        code, DATABASE_URL=server, DB_POOL_MAX="1", DB_POOL_TIMEOUT="1", DEBUG="false",
        ALLOWED_HOSTS="testserver",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["503", "5"]
