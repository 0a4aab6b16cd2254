"""HSE benchmark (not a test): builds a large PostgreSQL data set, serves the app with
gunicorn, drives a mixed load with 50 paced users and then closed-loop, and times each
sweep over 10,000 due rows. Prints the figures; docs/benchmark.md keeps them.

    .venv/bin/python bench/run.py                  # everything (about 6 minutes on 2 cores)
    .venv/bin/python bench/run.py --skip-build     # reuse the data set

It uses the database hse_bench on the local PostgreSQL (dropped and rebuilt) and Redis
database 3. Load goes only to 127.0.0.1.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import runpy
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "hse_bench"
PORT = 8765
WALLET_FLOOR = 5_000_000  # cents: far more than one run's bookings cost
SECRET = "whsec_bench"  # noqa: S105  # nosec B105
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "hse.settings",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": "redis://127.0.0.1:6379/3",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECRET_KEY": "bench-" + "x" * 50,
    "STRIPE_WEBHOOK_SECRET": SECRET,
    "STRIPE_SECRET_KEY": "sk_test_bench",
    "SITE_URL": f"http://127.0.0.1:{PORT}",
    "LOG_LEVEL": "WARNING",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}
os.environ.update(ENV)
ENDPOINTS = [
    "minimal",
    "catalog",
    "catalog by times",
    "coach page",
    "sessions",
    "calendar",
    "sidebar",
    "booking POST",
    "webhook POST",
]


def setup_django():
    import django

    django.setup()


def rebuild(coaches: int) -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=ENV, check=True
    )
    setup_django()
    from bench import dataset

    took = dataset.build(coaches)["seconds"]
    print(f"data set built in {took:.0f} s: {dataset.counts()}")
    from django.core.cache import cache

    cache.clear()  # what an earlier run's pages kept is about the rows just replaced


# --- Load ------------------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.codes: dict[tuple[str, object], int] = {}

    def add(self, name: str, seconds: float, ok: bool, code=None) -> None:
        self.times.setdefault(name, []).append(seconds)
        if not ok:
            self.errors[name] = self.errors.get(name, 0) + 1
            self.codes[(name, code)] = self.codes.get((name, code), 0) + 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def user_loop(n, deadline, paced, stats, top_ups, coach_ids, session_key) -> None:
    import aiohttp

    base = f"http://127.0.0.1:{PORT}"
    token = f"{n:032d}"  # a CSRF secret: the same in the cookie and in the header
    jar = aiohttp.CookieJar(unsafe=True)
    jar.update_cookies({"sessionid": session_key, "csrftoken": token})
    async with aiohttp.ClientSession(
        cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30)
    ) as http:
        rng = random.Random(n)
        mix = ENDPOINTS
        if paced:
            # Users arrive spread over the first second, as people do, rather than all
            # at the same instant (which would keep them in step, a burst every second).
            await asyncio.sleep(rng.random())
        while time.monotonic() < deadline:
            name = rng.choice(mix)
            coach = rng.choice(coach_ids)
            started = time.monotonic()
            ok = False
            code = None
            try:
                if name == "minimal":
                    r = await http.get(f"{base}/healthz/", allow_redirects=False)
                elif name == "catalog":
                    r = await http.get(f"{base}/?sort=price", allow_redirects=False)
                elif name == "catalog by times":
                    r = await http.get(f"{base}/?when=7days&part=evening", allow_redirects=False)
                elif name == "coach page":
                    r = await http.get(f"{base}/coaches/{coach}/", allow_redirects=False)
                elif name == "sessions":
                    r = await http.get(f"{base}/sessions/", allow_redirects=False)
                elif name == "calendar":
                    r = await http.get(
                        f"{base}/sessions/calendar/?view=month", allow_redirects=False
                    )
                elif name == "sidebar":
                    r = await http.get(
                        f"{base}/sessions/pending/",
                        headers={"HX-Request": "true"},
                        allow_redirects=False,
                    )
                elif name == "booking POST":
                    r = await http.post(
                        f"{base}/coaches/{coach}/buy/checkout/",
                        data={"skill": f"skill-{coach_ids.index(coach) % 8}", "duration": "30",
                              "quantity": "5", "method": "wallet"},
                        headers={"X-CSRFToken": token, "Referer": base}, allow_redirects=False,
                    )  # fmt: skip
                else:
                    pk = next(top_ups)
                    body = json.dumps({
                        "id": f"evt_bench_{pk}", "object": "event", "type": "checkout.session.completed",
                        "data": {"object": {"client_reference_id": f"topup-{pk}", "payment_status": "paid",
                                            "amount_total": 2500, "currency": "usd", "payment_intent": f"pi_{pk}"}},
                    }).encode()  # fmt: skip
                    stamp = int(time.time())
                    digest = hmac.new(
                        SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256
                    ).hexdigest()
                    r = await http.post(f"{base}/payments/stripe/webhook/", data=body,
                                        headers={"Stripe-Signature": f"t={stamp},v1={digest}",
                                                 "Content-Type": "application/json"})  # fmt: skip
                await r.read()
                # A booking answers with a redirect to its paid order (a page again means it
                # was refused); any other redirect would be to the login page, an error here.
                code = (r.status, r.headers.get("Location", "")[:30])
                if name == "booking POST":
                    ok = r.status == 302 and r.headers.get("Location", "").startswith("/orders/")
                else:
                    ok = r.status < 300
            except Exception as error:  # a timeout or a reset is an error to count
                ok, code = False, type(error).__name__
            stats.add(name, time.monotonic() - started, ok, code)
            if paced:
                await asyncio.sleep(1)


def prepare(users: int) -> tuple[list[int], list[int], list[str]]:
    """Coaches to visit, top-ups to complete, and a signed-in session per user (made here
    directly: the login form's rate limit rightly refuses 50 logins a minute from one IP)."""
    setup_django()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import User
    from coaching.models import CoachProfile
    from payments.models import TopUp

    coach_ids = list(CoachProfile.objects.order_by("pk").values_list("pk", flat=True))
    pending = TopUp.objects.filter(status="pending").order_by("pk").values_list("pk", flat=True)
    from django.utils import timezone

    from ledger.services import wallet_adjust, wallet_balance

    keys = []
    now = timezone.now()
    for n in range(users):
        user = User.objects.get(email=f"client{n}@bench.hse")
        # Enough in the wallet that every booking of the run is paid, as most are in life:
        # earlier runs spent it, and a refused payment is a different (cheaper) page.
        if (short := WALLET_FLOOR - wallet_balance(user=user)) > 0:
            wallet_adjust(user=user, amount=short, note="benchmark run", by=user,
                          key=f"bench-{user.pk}-{now.timestamp()}", now=now)  # fmt: skip
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save()
        keys.append(store.session_key)
    return coach_ids, list(pending), keys


async def drive(users, seconds, paced, coach_ids, top_up_ids, keys) -> tuple[Stats, float]:
    top_ups = iter(top_up_ids)
    stats = Stats()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(user_loop(n, deadline, paced, stats, top_ups, coach_ids, keys[n]) for n in range(users))
    )
    return stats, time.monotonic() - started


def warm_coach_pages(coach_ids: list[int], session_key: str) -> None:
    """Each coach page once, as the users see it: signed in as a client, in their zone (the
    page's profile column is kept per kind of viewer and zone)."""
    from urllib.request import Request, urlopen

    for coach in coach_ids:
        page = Request(f"http://127.0.0.1:{PORT}/coaches/{coach}/")
        page.add_header("Cookie", f"sessionid={session_key}")
        with urlopen(page) as answer:  # noqa: S310  # nosec B310
            answer.read()


def report(title: str, stats: Stats, elapsed: float) -> None:
    base = pct(stats.times.get("minimal", [0.001]), 0.95)
    print(f"\n{title}")
    print(
        f"{'endpoint':<14}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'req/s':>8}{'p95/min':>9}"
    )
    total = 0
    for name in ENDPOINTS:
        times = stats.times.get(name, [])
        if not times:
            continue
        total += len(times)
        p95 = pct(times, 0.95)
        print(f"{name:<14}{len(times):>6}{pct(times, .5):>9.1f}{p95:>9.1f}{pct(times, .99):>9.1f}"
              f"{stats.errors.get(name, 0):>8}{len(times) / elapsed:>8.1f}{p95 / base:>9.2f}")  # fmt: skip
    for (name, code), count in sorted(stats.codes.items(), key=str):
        print(f"  error {name}: {code} x{count}")
    print(f"{'all':<14}{total:>6}{'':>27}{sum(stats.errors.values()):>8}{total / elapsed:>8.1f}")


# --- Sweeps ----------------------------------------------------------------------------------


def time_sweeps(rows: int = 10_000) -> None:
    setup_django()
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from coaching.models import CoachProfile
    from payments import sweeps as payments_sweeps
    from payments.models import Order
    from requests_app.models import SessionRequest
    from requests_app.services import requests_expire_due
    from sessions_app import sweeps
    from sessions_app.models import Session

    now = timezone.now()
    coaches = list(CoachProfile.objects.order_by("pk"))
    clients = list(User.objects.filter(role="client").order_by("pk"))
    skill = coaches[0].skills.first()

    def micro_sessions(first_start, length, status, **extra):
        """``rows`` sessions of ``length`` that overlap nobody: one coach, one client each."""
        per_coach = -(-rows // len(coaches))
        sessions = []
        for n in range(rows):
            coach, slot = coaches[n % len(coaches)], n // len(coaches)
            start = first_start + slot * length
            sessions.append(Session(coach=coach, client=clients[n % len(clients)], skill=skill,
                                    duration_minutes=30, starts_at=start, ends_at=start + length,
                                    status=status, **extra))  # fmt: skip
        with transaction.atomic():
            Session.objects.bulk_create(sessions, batch_size=5000)
        return per_coach

    from hse.models import QueuedEmail, QueuedNotice

    QueuedEmail.objects.all().delete()  # an earlier run's, about rows deleted just below
    QueuedNotice.objects.all().delete()
    # The sweeps' rows go where the data set has no sessions, so nothing overlaps; they are
    # deleted again at the end, so that the next run's pages see the data set as built.
    near_now = Session.objects.filter(
        starts_at__gte=now - timedelta(days=1), starts_at__lt=now + timedelta(days=1)
    )
    near_now.delete()
    results = []

    def timed(name, sweep):
        started = time.monotonic()
        done = sweep()
        results.append((name, done, time.monotonic() - started))

    Order.objects.bulk_create(
        [Order(client=clients[n % len(clients)], coach=coaches[n % len(coaches)], skill=skill,
               duration_minutes=30, quantity=5, unit_price=1000, total_price=5000, currency="USD",
               method="wallet", expires_at=now - timedelta(minutes=1)) for n in range(rows)],
        batch_size=5000,
    )  # fmt: skip
    timed("hold expiry", lambda: payments_sweeps.holds_expire_due(now=now))
    # Fresh requests whose deadline passed a minute ago, each at a time of its own.
    client_ids = [client.pk for client in clients]
    first = now + timedelta(days=800)
    SessionRequest.objects.bulk_create(
        [
            SessionRequest(
                coach=coaches[n % len(coaches)], client_id=client_ids[n % len(client_ids)],
                skill=skill, duration_minutes=30, starts_at=first + timedelta(minutes=30 * n),
                ends_at=first + timedelta(minutes=30 * n + 30), proposed_by_id=client_ids[n % len(client_ids)],
                sent_at=now - timedelta(days=3), deadline=now - timedelta(minutes=1), created_at=now,
            )
            for n in range(rows)
        ],
        batch_size=5000,
    )  # fmt: skip
    timed("request expiry", lambda: requests_expire_due(now=now))
    # Sessions that ran an hour ago (one second each, so 10,000 fit without overlaps).
    micro_sessions(now - timedelta(hours=2), timedelta(seconds=1), "in_progress")
    timed("auto-end", lambda: sweeps.sessions_auto_end_due(now=now))
    Session.objects.filter(status="ended").update(ended_at=now - timedelta(hours=73))
    timed("auto-confirm", lambda: sweeps.sessions_auto_confirm_due(now=now))
    micro_sessions(now - timedelta(minutes=10), timedelta(seconds=1), "scheduled")
    timed("coach-late", lambda: sweeps.coach_late_notify_due(now=now))
    micro_sessions(now + timedelta(minutes=2), timedelta(seconds=1), "scheduled")
    timed("reminders", lambda: sweeps.reminders_send_due(now=now))
    # What the worker then does with the emails the sweeps wrote to the outbox (the tasks
    # the sweeps queued are dropped: the same work is done here, in one process, timed).
    from hse.celery import app
    from hse.tasks import flush_emails

    app.control.purge()
    timed("worker: emails", flush_emails)
    near_now.delete()
    SessionRequest.objects.filter(starts_at__gte=first).delete()
    print(f"\nsweeps over {rows:,} due rows each")
    for name, done, seconds in results:
        print(f"  {name:<16}{done:>7} rows  {seconds:6.2f} s")
    print("  (worker: the emails the sweeps' notices stand for, written out and sent)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--coaches", type=int, default=200)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--closed-seconds", type=int, default=30)
    # Workers as in production (gunicorn.conf.py: sync, one per core) unless given here.
    parser.add_argument("--workers", type=int)
    parser.add_argument("--worker-class")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sweeps-only", action="store_true")
    parser.add_argument("--no-sweeps", action="store_true")
    args = parser.parse_args()
    if args.sweeps_only:
        time_sweeps()
        return 0
    if not args.skip_build:
        rebuild(args.coaches)
    extra = []
    if args.workers:
        extra += ["-w", str(args.workers)]
    if args.worker_class:
        extra += ["-k", args.worker_class, "--threads", str(args.threads)]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "hse.wsgi:application", "-b", f"127.0.0.1:{PORT}",
         "--log-level", "warning", *extra],
        cwd=ROOT, env={**ENV, "GUNICORN_ACCESS_LOG": os.environ.get("GUNICORN_ACCESS_LOG", "")},
    )  # fmt: skip
    try:
        time.sleep(3)
        workers = args.workers or runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"]
        print(f"\nmachine: {os.cpu_count()} cores; gunicorn {workers} {args.worker_class or 'sync'} workers; "
              f"PostgreSQL {DB}; {args.users} users")  # fmt: skip
        coach_ids, top_ups, keys = prepare(args.users)
        third = len(top_ups) // 3
        # Warm-up, not counted: each gunicorn process compiles its templates, fills its
        # URL resolver and opens its connections on its first requests. Each coach page is
        # shown once first, as on a site that has been up a while: a page's schedule and
        # profile are kept ten minutes, and at six coach pages a second over 200 coaches a
        # running site finds nine in ten in the cache, which a minute after a start it
        # does not. (The users all live in one zone, so one of them shows the pages.)
        warm_coach_pages(coach_ids, keys[0])
        asyncio.run(drive(args.users, 15, True, coach_ids, top_ups[2 * third :], keys))
        half = third
        stats, elapsed = asyncio.run(
            drive(args.users, args.seconds, True, coach_ids, top_ups[:half], keys)
        )
        report(f"paced: {args.users} users, 1 s pause, {args.seconds} s", stats, elapsed)
        stats, elapsed = asyncio.run(
            drive(
                args.users, args.closed_seconds, False, coach_ids, top_ups[half : 2 * third], keys
            )
        )
        report(
            f"closed loop: {args.users} users, no pause, {args.closed_seconds} s", stats, elapsed
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
    if not args.no_sweeps:
        time_sweeps()
    return 0


if __name__ == "__main__":
    sys.exit(main())
