from datetime import datetime

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from accounts.models import User
from ledger.models import Credit
from requests_app.models import SeriesOccurrence, SessionRequest


def request_for_user_or_none(*, user: User, request_id: int) -> SessionRequest | None:
    return (
        SessionRequest.objects.for_user(user)
        .select_related(
            "coach__user", "client", "skill", "proposed_by", "target_session", "session", "order"
        )
        .prefetch_related("occurrences__session")
        .filter(pk=request_id)
        .first()
    )


def requests_awaiting_rows(*, user: User, now: datetime) -> QuerySet[SessionRequest]:
    """Open requests whose latest proposal was sent to ``user``: the bare rows (to count)."""
    return SessionRequest.objects.for_user(user).open_at(now).exclude(proposed_by=user)


def requests_awaiting(*, user: User, now: datetime) -> QuerySet[SessionRequest]:
    """Open requests whose latest proposal was sent to ``user``, ready to list."""
    return (
        requests_awaiting_rows(user=user, now=now)
        .select_related("coach__user", "client", "skill", "proposed_by", "target_session")
        .prefetch_related("occurrences__session")
        .annotate(client_has_free_credit=_client_has_free_credit())
        .order_by("deadline")
    )


def _client_has_free_credit() -> Exists:
    """Whether the request's client holds a free credit that fits it (so accepting it needs
    no payment), as a subquery: one query for a whole list of requests."""
    return Exists(
        Credit.objects.filter(
            client=OuterRef("client"),
            coach=OuterRef("coach"),
            skill=OuterRef("skill"),
            duration_minutes=OuterRef("duration_minutes"),
            status=Credit.Status.AVAILABLE,
        )
    )


def credit_kinds(*, client: User) -> list[tuple[str, str]]:
    """The client's free credits, one choice per coach, skill and length."""
    rows = (
        Credit.objects.filter(client=client, status=Credit.Status.AVAILABLE)
        .values(
            "coach_id", "coach__user__display_name", "skill_id", "skill__name", "duration_minutes"
        )
        .annotate(count=Count("id"))
        .order_by("coach__user__display_name", "skill__name", "duration_minutes")
    )
    return [
        (
            f"{row['coach_id']}:{row['skill_id']}:{row['duration_minutes']}",
            f"{row['coach__user__display_name']} · {row['skill__name']} · "
            f"{row['duration_minutes']} min ({row['count']} left)",
        )
        for row in rows
    ]


def requests_busy(people: Q, during: Q, ignore: int | None) -> QuerySet[SessionRequest]:
    """The busy-time source of open requests (``coaching.selectors``): an open proposal
    holds its time for both people until its deadline."""
    requests = SessionRequest.objects.open_until().filter(people, during)
    return requests.exclude(pk=ignore) if ignore is not None else requests


def series_busy(people: Q, during: Q, ignore: int | None) -> QuerySet[SeriesOccurrence]:
    """The busy-time source of open weekly series: each time holds like an open request,
    until the series' deadline (``ignore``: a series request's id)."""
    times = SeriesOccurrence.objects.filter(
        people, during, request__status=SessionRequest.Status.PENDING
    ).annotate(frees_at=F("request__deadline"))
    return times.exclude(request_id=ignore) if ignore is not None else times


def series_occurrences(*, request: SessionRequest) -> list[SeriesOccurrence]:
    return list(request.occurrences.select_related("session").order_by("position"))
