"""`make run`: migrate, load demo data, then run the web server, a Celery worker and beat
in the foreground. Ctrl-C stops all of them; if one dies, the others are stopped too."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    port = os.environ.get("PORT", "8000")
    if not port.isdigit():
        sys.exit(f"PORT must be a number, not {port!r}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hse.settings")

    manage("migrate", "--no-input", "-v", "0")
    manage("seed_demo")

    commands = {
        "web": [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}"],
        "worker": [PYTHON, "-m", "celery", "-A", "hse", "worker", "-l", "INFO", "-c", "2"],
        "beat": [PYTHON, "-m", "celery", "-A", "hse", "beat", "-l", "INFO"],
    }
    children = {
        name: subprocess.Popen(command, cwd=ROOT, start_new_session=True)
        for name, command in commands.items()
    }
    print(f"\n  HSE is starting on http://127.0.0.1:{port}/  (web, Celery worker and beat)")
    print("  Press Ctrl-C to stop everything.\n", flush=True)

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
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
