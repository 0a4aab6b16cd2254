"""Demo data for a local run: skills, a dozen coaches across time zones, a few clients."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from coaching import services as coaching
from coaching.models import Skill
from ledger import services as ledger
from payments import services as payments
from requests_app import services as requests
from sessions_app import booking
from sessions_app import services as lifecycle

# Printed to the person running `make run`; demo accounts exist only in a local database.
DEMO_PASSWORD = "hse-demo-2026"  # noqa: S105  # nosec B105

SKILLS = [
    "Leadership",
    "Public speaking",
    "Career change",
    "Productivity",
    "Communication",
    "Confidence",
    "Interview preparation",
    "Team management",
]

# (days, windows as (start, end) in hours)
WEEKDAYS = (0, 1, 2, 3, 4)
MORNINGS = ((9, 12), (14, 17))
EVENINGS = ((17, 21),)
LONG_DAYS = ((8, 12), (13, 18))


@dataclass(frozen=True)
class DemoCoach:
    name: str
    email: str
    zone: str
    headline: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    hourly: int
    days: tuple[int, ...] = WEEKDAYS
    hours: tuple[tuple[int, int], ...] = MORNINGS


COACHES = [
    DemoCoach(
        "Bob Whitaker",
        "bob@demo.hse",
        "America/New_York",
        "Leadership coach for first-time managers",
        ("Leadership", "Team management"),
        ("en",),
        12000,
    ),
    DemoCoach(
        "Berta Krüger",
        "berta@demo.hse",
        "Europe/Berlin",
        "Career change without the leap in the dark",
        ("Career change", "Confidence"),
        ("de", "en"),
        9500,
    ),
    DemoCoach(
        "Priya Raman",
        "priya@demo.hse",
        "Asia/Kolkata",
        "Interview preparation for tech roles",
        ("Interview preparation", "Communication"),
        ("en", "hi"),
        6000,
        hours=LONG_DAYS,
    ),
    DemoCoach(
        "Lucas Almeida",
        "lucas@demo.hse",
        "America/Sao_Paulo",
        "Speak so people listen",
        ("Public speaking", "Confidence"),
        ("pt", "es", "en"),
        7500,
        days=(0, 1, 2, 3, 4, 5),
    ),
    DemoCoach(
        "Emily Carter",
        "emily@demo.hse",
        "Europe/London",
        "Productivity systems that survive real life",
        ("Productivity",),
        ("en",),
        8000,
    ),
    DemoCoach(
        "Kenji Sato",
        "kenji@demo.hse",
        "Asia/Tokyo",
        "Calm leadership for engineering teams",
        ("Leadership", "Team management"),
        ("ja", "en"),
        11000,
        hours=EVENINGS,
    ),
    DemoCoach(
        "Olivia Brown",
        "olivia@demo.hse",
        "Australia/Sydney",
        "Confidence for introverts",
        ("Confidence", "Communication"),
        ("en",),
        7000,
    ),
    DemoCoach(
        "Marco Rossi",
        "marco@demo.hse",
        "Europe/Madrid",
        "From engineer to manager",
        ("Team management", "Career change"),
        ("es", "it", "en"),
        9000,
        hours=LONG_DAYS,
    ),
    DemoCoach(
        "Grace Kim",
        "grace@demo.hse",
        "America/Los_Angeles",
        "Pitch and present with ease",
        ("Public speaking", "Communication"),
        ("en", "ko"),
        13000,
    ),
    DemoCoach(
        "Daniel Mensah",
        "daniel@demo.hse",
        "Africa/Nairobi",
        "Getting unstuck in your career",
        ("Career change", "Productivity"),
        ("en",),
        5000,
        days=(0, 2, 4, 5),
    ),
    DemoCoach(
        "Anna Nowak",
        "anna@demo.hse",
        "Europe/Warsaw",
        "Interview practice with honest feedback",
        ("Interview preparation", "Confidence"),
        ("pl", "en", "de"),
        6500,
        hours=EVENINGS,
    ),
    DemoCoach(
        "James Miller",
        "james@demo.hse",
        "America/Chicago",
        "Executive presence for new leaders",
        ("Leadership", "Public speaking"),
        ("en",),
        15000,
        days=(1, 2, 3),
    ),
]

CLIENTS = [
    ("Alice Novak", "alice@demo.hse", "Europe/Berlin"),
    ("Carol Jones", "carol@demo.hse", "America/New_York"),
    ("Dev Patel", "dev@demo.hse", "Asia/Kolkata"),
]
STAFF = ("Sam Admin", "admin@demo.hse", "UTC")


def _user(name: str, email: str, zone: str, role: str, **extra) -> User:
    user = User.objects.create_user(
        email=email, password=DEMO_PASSWORD, display_name=name, role=role, time_zone=zone, **extra
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@transaction.atomic
def load_demo_data() -> bool:
    """Fills an empty database; returns False (and changes nothing) when it has users."""
    if User.objects.exists():
        return False
    skills = {name: Skill.objects.create(name=name, slug=slugify(name)) for name in SKILLS}
    for coach in COACHES:
        user = _user(coach.name, coach.email, coach.zone, User.Role.COACH)
        profile = coaching.coach_profile_get_or_create(user=user)
        coaching.coach_profile_update(
            profile=profile,
            headline=coach.headline,
            bio=(
                f"I'm {coach.name.split()[0]}. {coach.headline}. We start from where you are, "
                "agree on one goal per session, and leave every call with a concrete next step."
            ),
            skills=[skills[name] for name in coach.skills],
            languages=list(coach.languages),
            hourly_price=coach.hourly,
            minimum_notice_minutes=12 * 60,
            time_zone=coach.zone,
        )
        for day in coach.days:
            for start, end in coach.hours:
                coaching.availability_window_add(
                    coach=profile, weekday=day, start_minute=start * 60, end_minute=end * 60
                )
    for name, email, zone in CLIENTS:
        _user(name, email, zone, User.Role.CLIENT)
    _user(*STAFF, User.Role.CLIENT, is_staff=True, is_superuser=True)
    _load_bookings_and_requests(skills)
    return True


def _at(now: datetime, days: int, hour: int, zone: str) -> datetime:
    """``hour`` o'clock local time in ``zone``, ``days`` days from now."""
    day = now.astimezone(ZoneInfo(zone)).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _load_bookings_and_requests(skills: dict) -> None:
    """Purchases, a booked session and requests in every state, so the calendar and the
    pending actions are not empty on a first visit."""
    now = timezone.now()
    alice = User.objects.get(email="alice@demo.hse")
    carol = User.objects.get(email="carol@demo.hse")
    bob = User.objects.get(email="bob@demo.hse").coach_profile
    berta = User.objects.get(email="berta@demo.hse").coach_profile
    leadership, career = skills["Leadership"], skills["Career change"]

    purchases = iter(range(100))

    def buy(client, coach, skill, quantity):
        ledger.wallet_post(
            user=client,
            amount=100_000,
            reason="top_up",
            key=f"demo-{client.pk}-{coach.pk}-{next(purchases)}",
            note="demo money",
            now=now,
        )
        return payments.order_start(
            client=client, coach=coach, skill=skill, duration_minutes=60, quantity=quantity,
            method="wallet", now=now,
        )  # fmt: skip

    buy(alice, bob, leadership, 5)
    buy(carol, berta, career, 5)
    first_credit = alice.credits.filter(status="available").first()
    for days in range(2, 9):
        try:
            booking.session_schedule_from_credit(
                credit=first_credit, starts_at=_at(now, days, 10, bob.time_zone), by=alice, now=now
            )
            break
        except booking.BookingError:
            continue  # a weekend: Bob works Monday to Friday

    def propose(by, coach, client, days, hour, skill=None, sent=now):
        return requests.request_propose(
            by=by, coach=coach, client=client, skill=skill, duration_minutes=60 if skill else None,
            starts_at=_at(now, days, hour, coach.time_zone), now=sent,
        )  # fmt: skip

    propose(alice, bob, alice, 4, 15)  # waiting for Bob
    propose(bob.user, bob, alice, 6, 13, skill=leadership)  # waiting for Alice
    propose(carol, berta, carol, 5, 11)  # waiting for Berta
    accepted = propose(alice, bob, alice, 8, 11)
    requests.request_accept(request=accepted, by=bob.user, now=now)
    rejected = propose(bob.user, bob, alice, 9, 14, skill=leadership)
    requests.request_reject(request=rejected, by=alice, now=now)
    cancelled = propose(alice, bob, alice, 10, 16)
    requests.request_cancel(request=cancelled, by=alice, now=now)
    # Sent days ago for a time a few hours from now: nobody answered, so it expired.
    soon = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    requests.request_propose(
        by=carol, coach=berta, client=carol, starts_at=soon, now=soon - timedelta(hours=80)
    )
    requests.requests_expire_due(now=now)
    _load_session_states(alice, bob, leadership, buy, now)


def _load_session_states(alice, bob, leadership, buy, now) -> None:
    """Alice's sessions with Bob in every state: one about to start (its room is open at
    once), one ended and awaiting her confirmation, one reported, one confirmed and rated."""
    buy(alice, bob, leadership, 5)

    def book(start):
        credit = alice.credits.filter(status="available").first()
        session = booking.session_reserve(
            coach=bob, client=alice, skill=leadership, duration_minutes=60, starts_at=start,
            now=start - timedelta(days=2), credit=credit, agreed=True,
        )  # fmt: skip
        ledger.credit_schedule(credit=credit, by=alice, now=start - timedelta(days=2), why="demo")
        return session

    grid = now.replace(second=0, microsecond=0)
    grid -= timedelta(minutes=grid.minute % 5)
    book(grid + timedelta(minutes=10))  # starts in 10 minutes or less: the room is open

    ended = book(grid - timedelta(hours=2))
    lifecycle.session_start(session=ended, by=bob.user, now=ended.starts_at + timedelta(minutes=1))
    lifecycle.session_end(session=ended, by=bob.user, now=ended.ends_at - timedelta(minutes=2))

    reported = book(grid - timedelta(days=1, hours=3))
    lifecycle.session_enter_lobby(
        session=reported, by=alice, now=reported.starts_at - timedelta(minutes=3)
    )
    lifecycle.session_report(
        session=reported, by=alice, now=reported.starts_at + timedelta(minutes=9),
        reason="no_show", details="I waited 10 minutes in the lobby and Bob never started.",
    )  # fmt: skip

    confirmed = book(grid - timedelta(days=3, hours=1))
    lifecycle.session_start(session=confirmed, by=bob.user, now=confirmed.starts_at)
    lifecycle.session_end(session=confirmed, by=bob.user, now=confirmed.ends_at)
    lifecycle.session_confirm(
        session=confirmed, by=alice, now=confirmed.ends_at + timedelta(minutes=5), rating=5,
        comment="Clear, warm and practical. I left with a plan for my first one-to-ones.",
    )  # fmt: skip


def demo_logins() -> list[tuple[str, str, str]]:
    """(role, email, password) for each demo account that exists."""
    wanted = [("client", email) for _, email, _ in CLIENTS[:2]]
    wanted += [("coach", COACHES[0].email), ("coach", COACHES[1].email), ("admin", STAFF[1])]
    present = set(
        User.objects.filter(email__in=[e for _, e in wanted]).values_list("email", flat=True)
    )
    return [(role, email, DEMO_PASSWORD) for role, email in wanted if email in present]
