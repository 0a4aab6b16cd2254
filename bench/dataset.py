"""Builds the benchmark's data set in its own PostgreSQL database: 200 coaches (or as many
as bench/run.py --coaches says), 5,000
clients, 100,000 sessions, 500,000 ledger entries, 20,000 open requests (and 20,000
pending top-ups for webhook deliveries). Run through bench/run.py."""

import itertools
import random
import time
from datetime import UTC, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from coaching.models import AvailabilityWindow, CoachProfile, Skill
from coaching.search import document
from ledger.models import WalletEntry
from payments.models import TopUp
from requests_app.models import SessionRequest
from sessions_app.models import Session

COACHES, CLIENTS, SESSIONS, ENTRIES, REQUESTS, TOP_UPS = 200, 5000, 100_000, 500_000, 20_000, 20_000
PASSWORD = "bench-pass-2026"  # noqa: S105  # nosec B105 - a throwaway benchmark database
BATCH = 10_000


def build(coach_count: int = COACHES) -> dict:
    started = time.monotonic()
    rng = random.Random(7)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    hashed = make_password(PASSWORD)
    skills = [Skill.objects.create(name=f"Skill {n}", slug=f"skill-{n}") for n in range(8)]

    coach_users = User.objects.bulk_create(
        User(email=f"coach{n}@bench.hse", display_name=f"Coach {n:03d}", role="coach",
             time_zone=rng.choice(["America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC"]),
             password=hashed)
        for n in range(coach_count)
    )  # fmt: skip
    coaches = CoachProfile.objects.bulk_create(
        CoachProfile(user=user, headline=f"Headline {n}", bio="Bio", languages=["en"],
                     search_document=document(user.display_name, f"Headline {n}", "Bio"),
                     hourly_price=rng.randrange(5000, 20000, 500), currency="USD",
                     minimum_notice_minutes=0, time_zone=user.time_zone, is_listed=True)
        for n, user in enumerate(coach_users)
    )  # fmt: skip
    CoachProfile.skills.through.objects.bulk_create(
        CoachProfile.skills.through(coachprofile_id=coach.pk, skill_id=skills[n % 8].pk)
        for n, coach in enumerate(coaches)
    )
    AvailabilityWindow.objects.bulk_create(
        AvailabilityWindow(coach=coach, weekday=day, start_minute=start, end_minute=start + 180)
        for coach in coaches
        for day in range(5)
        for start in (8 * 60, 14 * 60)
    )
    clients = User.objects.bulk_create(
        (User(email=f"client{n}@bench.hse", display_name=f"Client {n:04d}", role="client",
              time_zone="Europe/Berlin", password=hashed) for n in range(CLIENTS)),
        batch_size=BATCH,
    )  # fmt: skip

    # Every session and request gets a 30-minute slot of its own, so nothing overlaps
    # for anyone (the exclusion constraints hold); half lie in the past.
    slots = (now - timedelta(days=3 * 365) + timedelta(minutes=30 * n) for n in itertools.count())

    def session_rows():
        for n in range(SESSIONS):
            start = next(slots)
            past = start < now
            yield Session(
                coach=coaches[n % coach_count], client=clients[n % CLIENTS], skill=skills[n % 8],
                duration_minutes=30, starts_at=start, ends_at=start + timedelta(minutes=30),
                status="confirmed" if past else "scheduled",
            )  # fmt: skip

    _in_batches(Session, session_rows())
    future = (now + timedelta(days=4, minutes=30 * n) for n in itertools.count())

    def request_rows():
        for n in range(REQUESTS):
            start = next(future)
            client = clients[(n * 7) % CLIENTS]
            yield SessionRequest(
                coach=coaches[n % coach_count], client=client, skill=skills[n % 8], duration_minutes=30,
                starts_at=start, ends_at=start + timedelta(minutes=30), proposed_by=client,
                sent_at=now, deadline=start - timedelta(hours=24), created_at=now,
            )  # fmt: skip

    _in_batches(SessionRequest, request_rows())

    per_client = ENTRIES // CLIENTS

    def entry_rows():
        for client in clients:
            balance = 0
            for k in range(per_client):
                amount = 1_000_000 if k == 0 else rng.choice([5000, -2000, -1000, 3000])
                balance += amount
                yield WalletEntry(user=client, amount=amount, currency="USD", balance_after=balance,
                                  reason="top_up" if amount > 0 else "payment",
                                  idempotency_key=f"bench-{client.pk}-{k}", created_at=now)  # fmt: skip

    _in_batches(WalletEntry, entry_rows())
    _in_batches(
        TopUp,
        (TopUp(user=clients[n % CLIENTS], amount=2500, currency="USD") for n in range(TOP_UPS)),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"seconds": time.monotonic() - started}


def _in_batches(model, rows) -> None:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            with transaction.atomic():
                model.objects.bulk_create(batch)
            batch = []
    if batch:
        model.objects.bulk_create(batch)


def counts() -> dict:
    return {
        "coaches": CoachProfile.objects.count(),
        "clients": User.objects.filter(role="client").count(),
        "sessions": Session.objects.count(),
        "ledger entries": WalletEntry.objects.count(),
        "open requests": SessionRequest.objects.filter(status="pending").count(),
    }


EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
