from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from django.db.models import Avg, Count, Min, Q, QuerySet
from django.urls import reverse

from accounts.models import User
from hse import live
from hse.cache import new_versions_now_and_on_commit
from ledger.models import Credit
from sessions_app.lifecycle import auto_end_at, coach_came_q, phase
from sessions_app.models import Session

# The columns lists read (``only``): the users' other columns cost Django's compiler more
# than the rows cost the database. A relation missing here is an error on the page and a
# column missing a query per row, which the pages' fixed-query tests catch.
UPCOMING_COLUMNS = (  # a row of the Sessions page or the dashboard, and its phase
    "status", "starts_at", "ends_at", "ended_at", "duration_minutes", "skill__name",
    "coach__user__display_name", "client__display_name", "survey__id", "late_minutes",
    "report_after",
)  # fmt: skip


def sessions_upcoming(*, user: User, now: datetime) -> list[Session]:
    """Scheduled and running sessions the clock has not ended yet, with their phase."""
    rows = (
        Session.objects.for_user(user)
        .filter(status__in=(Session.Status.SCHEDULED, Session.Status.IN_PROGRESS))
        .select_related("coach__user", "client", "skill", "survey")
        .only(*UPCOMING_COLUMNS)
        .order_by()  # put in order below: see pending_actions
    )
    upcoming = []
    for session in sorted(rows, key=attrgetter("starts_at", "pk")):
        if now < auto_end_at(session):
            session.phase = phase(session, now)
            # Where its row leads, named here: a template's {% if %} and {% url %} per row
            # cost more than the rest of the row.
            session.url = reverse(
                "sessions:room" if session.phase.room_open else "sessions:detail", args=[session.pk]
            )
            # Asked here: a template asking for a missing survey pays for an exception and a
            # dir() of the session, row after row.
            session.survey_due = session.client_id == user.pk and not hasattr(session, "survey")
            upcoming.append(session)
    return upcoming


def sessions_past(*, user: User, now: datetime, limit: int = 100) -> list[Session]:
    """Sessions that are over, newest first, with the state the clock says they are in."""
    over = (
        Session.objects.for_user(user)
        .exclude(status__in=(Session.Status.HELD, Session.Status.EXPIRED))
        .filter(starts_at__lt=now)
        .select_related("coach__user", "client", "skill")
        .annotate(coach_came=coach_came_q())
        .order_by("-starts_at")[:limit]
    )
    past = []
    for session in over:
        session.phase = phase(session, now)
        if session.phase.status not in (Session.Status.SCHEDULED, Session.Status.IN_PROGRESS) or (
            now >= auto_end_at(session)
        ):
            past.append(session)
    return past


def session_for_user_or_none(*, user: User, session_id: int) -> Session | None:
    return (
        Session.objects.for_user(user)
        .select_related("coach__user", "client", "skill", "survey")
        .filter(pk=session_id)
        .first()
    )


@dataclass(frozen=True)
class CreditGroup:
    coach_name: str
    coach_id: int
    skill_name: str
    duration_minutes: int
    available: int
    next_credit_id: int
    schedule_url: str
    expires_at: datetime | None = None  # the earliest expiry among them (package validity)


def credits_to_schedule(*, user: User) -> list[CreditGroup]:
    """The client's unscheduled credits, counted per coach, skill and length."""
    rows = (
        Credit.objects.filter(client=user, status=Credit.Status.AVAILABLE)
        .values("coach_id", "coach__user__display_name", "skill__name", "duration_minutes")
        .annotate(available=Count("id"), first=Min("id"), expires=Min("expires_at"))
        .order_by("coach__user__display_name", "skill__name", "duration_minutes")
    )
    return [
        CreditGroup(
            coach_name=row["coach__user__display_name"],
            coach_id=row["coach_id"],
            skill_name=row["skill__name"],
            duration_minutes=row["duration_minutes"],
            available=row["available"],
            next_credit_id=row["first"],
            schedule_url=reverse("sessions:schedule", args=[row["first"]]),
            expires_at=row["expires"],
        )
        for row in rows
    ]


def forget_pending_counts(*user_ids: int) -> None:
    """Someone's sessions or requests changed: their badge is counted again, and their open
    pages are told."""
    new_versions_now_and_on_commit("pending-count", user_ids)
    live.push_many([(live.user_group(user_id), {"type": "pending"}) for user_id in user_ids])


def sessions_busy(people: Q, during: Q, ignore) -> QuerySet[Session]:
    """The busy-time source of sessions and checkout holds (``coaching.selectors``).
    ``ignore``: a session's id, or several (a weekly series moving together)."""
    sessions = Session.objects.occupying_until().filter(people, during)
    if isinstance(ignore, list | tuple | set | frozenset):
        return sessions.exclude(pk__in=ignore)
    return sessions.exclude(pk=ignore) if ignore is not None else sessions


def coach_reviews(*, coach, limit: int = 5) -> dict:
    """{"average": 4.5 or None, "count": n, "latest": [review dicts]} over the coach's rated,
    confirmed sessions, the latest commented ones."""
    rated = Session.objects.filter(
        coach=coach, status=Session.Status.CONFIRMED, rating__isnull=False
    )
    latest = (
        rated.exclude(rating_comment="")
        .order_by("-closed_at")
        .values_list(
            "rating", "rating_comment", "closed_at", "client__display_name", "coach_reply"
        )[:limit]
    )
    return {
        **rated.aggregate(average=Avg("rating"), count=Count("id")),
        "latest": [
            {
                "rating": stars,
                "rating_comment": comment,
                "closed_at": closed,
                "client": {"display_name": name},
                "coach_reply": reply,
            }
            for stars, comment, closed, name, reply in latest
        ],
    }
