from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, QuerySet
from django.urls import reverse

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
class PendingAction:
    title: str
    detail: str
    url: str
    action: str


def _unanswered_surveys(*, user: User, now: datetime) -> QuerySet[Session]:
    return Session.objects.filter(
        client=user, status=Session.Status.SCHEDULED, starts_at__gt=now, survey__isnull=True
    )


def pending_actions(*, user: User, now: datetime) -> list[PendingAction]:
    """What awaits this person now. Each later capability adds its kinds here."""
    if not user.is_authenticated:
        return []
    surveys = (
        _unanswered_surveys(user=user, now=now)
        .select_related("coach__user", "skill")
        .order_by("starts_at")
    )
    return [
        PendingAction(
            title="Pre-session survey",
            detail=f"{session.skill.name} with {session.coach.user.display_name}",
            url=reverse("sessions:survey", args=[session.pk]),
            action="Answer",
        )
        for session in surveys
    ]


def pending_count(*, user: User, now: datetime) -> int:
    if not user.is_authenticated:
        return 0
    return _unanswered_surveys(user=user, now=now).count()
