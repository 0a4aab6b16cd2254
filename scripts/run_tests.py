"""`make test`: find PostgreSQL, Redis and Chromium, then run the whole pytest suite.

PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set or the services answer
on localhost. Under CI (CI set) a missing service or browser fails the run: nothing is
skipped there. Elsewhere the suite falls back to SQLite and skips only what needs the
missing piece, saying so.
"""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CI = bool(os.environ.get("CI"))


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need(what: str, how: str) -> None:
    if CI:
        sys.exit(f"make test: {what} is required under CI and was not found. {how}")
    print(f"make test: {what} not found; tests that need it are skipped. {how}", file=sys.stderr)


def find_chromium() -> str | None:
    for candidate in (
        os.environ.get("CHROMIUM_PATH"),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def main() -> int:
    env = os.environ.copy()
    if not env.get("DATABASE_URL"):
        if reachable("127.0.0.1", 5432):
            env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/hse"
        else:
            need("PostgreSQL", "Start it or set DATABASE_URL.")
    if not env.get("REDIS_URL"):
        if reachable("127.0.0.1", 6379):
            # Database 1, so the suite's cache.clear() never touches a development cache.
            env["REDIS_URL"] = "redis://127.0.0.1:6379/1"
        else:
            need("Redis", "Start it or set REDIS_URL.")

    chromium = find_chromium()
    if chromium is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("make test: installing Debian's chromium for the browser tests…", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False)
        chromium = find_chromium()
    if chromium is None:
        need("Chromium", "Install Debian's chromium (apt-get install chromium).")
    else:
        env["CHROMIUM_PATH"] = chromium

    env["HSE_TEST_REQUIRE_SERVICES"] = "1" if CI else ""
    print(
        "make test: database={} redis={} chromium={}".format(
            "postgres" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite",
            "yes" if env.get("REDIS_URL") else "no",
            chromium or "no",
        ),
        flush=True,
    )
    command = [sys.executable, "-m", "pytest", *sys.argv[1:]]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
