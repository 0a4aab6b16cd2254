"""Copies the browser tests' screenshots that the README's tour shows into docs/tour/.

Run `make test` first (it writes artifacts/screenshots/), then `python scripts/update_tour.py`.
"""

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOUR = [
    "catalog-filtered",
    "coach-page",
    "buy-summary",
    "stripe-standin-checkout",
    "order-paid-survey",
    "pending-sidebar",
    "calendar-month",
    "lobby-waiting",
    "lobby-device-check",
    "room-call",
    "call-camera-off",
    "confirm",
    "confirm-dialog-client-late-phone",
    "admin-report",
    "account-login-1280",
]


def main() -> int:
    source = ROOT / "artifacts" / "screenshots"
    target = ROOT / "docs" / "tour"
    target.mkdir(parents=True, exist_ok=True)
    missing = [name for name in TOUR if not (source / f"{name}.png").exists()]
    if missing:
        print(f"missing screenshots (run make test first): {', '.join(missing)}", file=sys.stderr)
        return 1
    for name in TOUR:
        shutil.copyfile(source / f"{name}.png", target / f"{name}.png")
    print(f"copied {len(TOUR)} screenshots to {target.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
