"""`make run`: migrate, load demo data, then run the web server, a Celery worker and beat
in the foreground. Ctrl-C stops all of them; if one dies, the others are stopped too.
`--reset-demo` (`make demo`) replaces everything in the database with fresh demo data."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def manage(*args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return done.stdout


def wait_for_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def main() -> int:
    port = os.environ.get("PORT", "8000")
    if not port.isdigit():
        sys.exit(f"PORT must be a number, not {port!r}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hse.settings")
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")

    print("Preparing the database…", flush=True)
    manage("migrate", "--no-input", "-v", "0")
    demo = manage("seed_demo", *(["--reset"] if "--reset-demo" in sys.argv else [])).strip()

    commands = {}
    if not os.environ.get("STRIPE_SECRET_KEY"):
        # No Stripe keys: payments go to the local stand-in, in test mode.
        standin_port = os.environ.get("STRIPE_STANDIN_PORT", "8420")
        os.environ.update(
            STRIPE_SECRET_KEY="sk_test_local_standin",
            STRIPE_PUBLISHABLE_KEY="pk_test_local_standin",
            STRIPE_WEBHOOK_SECRET="whsec_local_standin",
            STRIPE_API_BASE=f"http://127.0.0.1:{standin_port}",
        )
        commands["stripe"] = [
            PYTHON, "-m", "stripe_standin", "--port", standin_port,
            "--webhook-url", f"http://127.0.0.1:{port}/payments/stripe/webhook/",
            "--webhook-secret", os.environ["STRIPE_WEBHOOK_SECRET"],
        ]  # fmt: skip
    commands |= {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [PYTHON, "-m", "celery", "-A", "hse", "worker", "-l", "INFO", "-c", "2"],
        "beat": [PYTHON, "-m", "celery", "-A", "hse", "beat", "-l", "INFO"],
    }
    children = {
        name: subprocess.Popen(command, cwd=ROOT, start_new_session=True)
        for name, command in commands.items()
    }

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    exit_code = 0
    try:
        if wait_for_port(int(port), 60):
            bar = "=" * 72
            print(f"\n{bar}\n  HSE is running on http://127.0.0.1:{port}/", flush=True)
            print("  (web server, Celery worker and beat, on SQLite in var/)")
            if "stripe" in children:
                print("  Payments are in TEST MODE on the local Stripe stand-in: no real money.")
            print("\n  " + demo.replace("\n", "\n  "))
            print(f"\n  Press Ctrl-C to stop everything.\n{bar}\n", flush=True)
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"\n{name} stopped (exit code {child.returncode}); stopping the rest.")
                    exit_code = child.returncode or 1
                    raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
