"""`make test`: find PostgreSQL, Redis and Chromium, then run the whole pytest suite.

PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL are set or the services answer
on localhost. Under CI (CI set) a missing service or browser fails the run: nothing is
skipped there. Elsewhere the suite falls back to SQLite and skips only what needs the
missing piece, saying so.

`--clock-at 2029-03-11T06:45Z` runs the suite with the machine's clock moved to that
instant (libfaketime, by a relative offset, so every process the suite starts shares one
clock that keeps running): a test that fixes a date but reads the real clock fails there.
Several instants, comma-separated, run the suite once for each.
"""

import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
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


def install_if_root(package: str, find):
    """Debian's package, installed when missing and we may (CI runs as root)."""
    found = find()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"make test: installing Debian's {package}…", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False)
        found = find()
    return found


def clock_instants(argv: list[str]) -> tuple[list[datetime], list[str]]:
    """The instants of --clock-at (none without it) and the rest of the arguments."""
    instants, rest = [], []
    values = iter(argv)
    for arg in values:
        if arg == "--clock-at" or arg.startswith("--clock-at="):
            value = arg.partition("=")[2] or next(values, "")
            for text in filter(None, value.replace(",", " ").split()):
                try:
                    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
                except ValueError:
                    sys.exit(
                        f"make test: --clock-at {text}: not an ISO instant (2029-03-11T06:45Z)"
                    )
                if instant.tzinfo is None:
                    sys.exit(f"make test: --clock-at {text}: give the zone, e.g. {text}Z")
                instants.append(instant)
        else:
            rest.append(arg)
    return instants, rest


def main() -> int:
    instants, pytest_args = clock_instants(sys.argv[1:])
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

    chromium = install_if_root("chromium", find_chromium)
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
    command = [sys.executable, "-m", "pytest", *pytest_args]
    if not instants:
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode

    faketime = install_if_root("faketime", lambda: shutil.which("faketime"))
    if faketime is None:
        sys.exit("make test: --clock-at needs libfaketime (apt-get install faketime).")
    failed = []
    for instant in instants:
        offset = round((instant - datetime.now(UTC)).total_seconds())
        print(f"make test: the clock moved to {instant.isoformat()} ({offset:+d} s)", flush=True)
        shifted = [faketime, "-f", f"{offset:+d}", *command]
        if subprocess.run(shifted, cwd=ROOT, env=env, check=False).returncode:
            failed.append(instant.isoformat())
    if failed:
        print("make test: failed with the clock at " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
