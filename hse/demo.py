"""Demo data for a local run: skills, a dozen coaches across time zones, a few clients."""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils.text import slugify

from accounts.models import User
from coaching import services as coaching
from coaching.models import Skill

DEMO_PASSWORD = "hse-demo-2026"  # noqa: S105 - printed to the person running `make run`

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
    return True


def demo_logins() -> list[tuple[str, str, str]]:
    """(role, email, password) for each demo account that exists."""
    wanted = [("client", email) for _, email, _ in CLIENTS[:2]]
    wanted += [("coach", COACHES[0].email), ("coach", COACHES[1].email), ("admin", STAFF[1])]
    present = set(
        User.objects.filter(email__in=[e for _, e in wanted]).values_list("email", flat=True)
    )
    return [(role, email, DEMO_PASSWORD) for role, email in wanted if email in present]
