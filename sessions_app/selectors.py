from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, QuerySet

from accounts.models import User
from payments.models import Credit
from sessions_app.models import Session


def sessions_upcoming(*, user: User, now: datetime) -> QuerySet[Session]:
    return (
        Session.objects.for_user(user)
        .filter(status=Session.Status.SCHEDULED, ends_at__gt=now)
        .select_related("coach__user", "client", "skill", "survey")
        .order_by("starts_at")
    )


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


def credits_to_schedule(*, user: User) -> list[CreditGroup]:
    """The client's unscheduled credits, counted per coach, skill and length."""
    rows = (
        Credit.objects.filter(client=user, status=Credit.Status.AVAILABLE)
        .values("coach_id", "coach__user__display_name", "skill__name", "duration_minutes")
        .annotate(available=Count("id"), first=Min("id"))
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
        )
        for row in rows
    ]


@dataclass(frozen=True)
class PendingActions:
    requests: list
    surveys: list

    @property
    def count(self) -> int:
        return len(self.requests) + len(self.surveys)


def _unanswered_surveys(*, user: User, now: datetime) -> QuerySet[Session]:
    return Session.objects.filter(
        client=user, status=Session.Status.SCHEDULED, starts_at__gt=now, survey__isnull=True
    )


def pending_actions(*, user: User, now: datetime) -> PendingActions:
    """What awaits this person now: requests to answer and surveys to fill in."""
    from requests_app.selectors import requests_awaiting

    if not user.is_authenticated:
        return PendingActions(requests=[], surveys=[])
    surveys = (
        _unanswered_surveys(user=user, now=now)
        .select_related("coach__user", "skill")
        .order_by("starts_at")
    )
    return PendingActions(
        requests=list(requests_awaiting(user=user, now=now)), surveys=list(surveys)
    )


def pending_count(*, user: User, now: datetime) -> int:
    from requests_app.selectors import requests_awaiting

    if not user.is_authenticated:
        return 0
    return (
        _unanswered_surveys(user=user, now=now).count()
        + requests_awaiting(user=user, now=now).count()
    )


@dataclass(frozen=True)
class CalendarItem:
    kind: str  # "session" or "request"
    starts_at: datetime
    ends_at: datetime
    title: str
    subtitle: str
    status: str
    url: str


def calendar_items(
    *, user: User, start: datetime, end: datetime, now: datetime
) -> list[CalendarItem]:
    """Sessions and requests of ``user`` that start in [start, end), in time order."""
    from django.urls import reverse

    from requests_app.models import SessionRequest

    sessions = (
        Session.objects.for_user(user)
        .filter(status=Session.Status.SCHEDULED, starts_at__gte=start, starts_at__lt=end)
        .select_related("coach__user", "client", "skill")
    )
    requests = (
        SessionRequest.objects.for_user(user)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .exclude(status=SessionRequest.Status.ACCEPTED)
        .select_related("coach__user", "client", "skill")
    )

    def other(item) -> str:
        return (
            item.client.display_name
            if item.coach.user_id == user.pk
            else item.coach.user.display_name
        )

    items = [
        CalendarItem(
            kind="session",
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            title=s.skill.name,
            subtitle=f"with {other(s)}",
            status="scheduled",
            url=reverse("sessions:detail", args=[s.pk]),
        )
        for s in sessions
    ]
    items += [
        CalendarItem(
            kind="request",
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            title=("New time: " if r.is_reschedule else "Request: ") + r.skill.name,
            subtitle=f"with {other(r)}",
            status=r.effective_status(now),
            url=reverse("requests:detail", args=[r.pk]),
        )
        for r in requests
    ]
    return sorted(items, key=lambda item: (item.starts_at, item.kind))
