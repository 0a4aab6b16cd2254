from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import attrgetter, or_

from django.db.models import Case, CharField, Count, Min, Q, QuerySet, Value, When
from django.urls import reverse

from accounts.models import User
from hse.cache import get_or_set_versioned, new_versions_now_and_on_commit
from payments.models import Credit
from sessions_app.models import Session, coach_late_q

# The columns lists read (``only``): the users' other columns cost Django's compiler more
# than the rows cost the database. A relation missing here is an error on the page and a
# column missing a query per row, which the pages' fixed-query tests catch.
UPCOMING_COLUMNS = (  # a row of the Sessions page or the dashboard, and its phase
    "status", "starts_at", "ends_at", "ended_at", "duration_minutes", "skill__name",
    "coach__user__display_name", "client__display_name", "survey__id",
)  # fmt: skip
REQUEST_CARD_COLUMNS = (  # what a request's card shows and decides with
    "status", "starts_at", "ends_at", "deadline", "duration_minutes", "skill__name",
    "proposed_by__display_name", "client__display_name", "coach__user__display_name",
    "target_session", "credit",
)  # fmt: skip
CALENDAR_COLUMNS = (  # what a calendar item shows of a session or a request
    "starts_at", "ends_at", "skill__name", "coach__user__display_name", "client__display_name",
)  # fmt: skip


def sessions_upcoming(*, user: User, now: datetime) -> list[Session]:
    """Scheduled and running sessions the clock has not ended yet, with their phase."""
    from sessions_app.lifecycle import auto_end_at, phase

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
    from sessions_app.lifecycle import auto_end_at, phase

    over = (
        Session.objects.for_user(user)
        .exclude(status__in=(Session.Status.HELD, Session.Status.EXPIRED))
        .filter(starts_at__lt=now)
        .select_related("coach__user", "client", "skill")
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
            schedule_url=reverse("sessions:schedule", args=[row["first"]]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class PendingActions:
    requests: list
    surveys: list
    to_confirm: list
    coach_late: list

    @property
    def count(self) -> int:
        return len(self.requests) + len(self.surveys) + len(self.to_confirm) + len(self.coach_late)


def _waiting_sessions(*, now: datetime) -> dict[str, Q]:
    """What makes a client's session wait for them, by kind (a session is of one kind at a
    time). The one definition behind the pending-actions list and the badge."""
    from datetime import timedelta

    from django.conf import settings

    auto_end = now - timedelta(minutes=settings.HSE_AUTO_END_MINUTES_AFTER)
    auto_confirm = now - timedelta(hours=settings.HSE_AUTO_CONFIRM_HOURS)
    return {
        "surveys": Q(status=Session.Status.SCHEDULED, starts_at__gt=now, survey__isnull=True),
        # Over and neither confirmed nor reported. The clock decides (a running session
        # past its auto-end counts), not only the sweep.
        "to_confirm": Q(status=Session.Status.ENDED, ended_at__gt=auto_confirm)
        | Q(
            status__in=(Session.Status.SCHEDULED, Session.Status.IN_PROGRESS),
            ends_at__lte=auto_end,
            ends_at__gt=auto_confirm,
        ),
        "coach_late": coach_late_q(now),
    }


def _sessions_waiting_for(user: User, kinds: dict[str, Q]) -> QuerySet[Session]:
    return Session.objects.filter(client=user).filter(reduce(or_, kinds.values()))


def pending_actions(*, user: User, now: datetime) -> PendingActions:
    """What awaits this person now: requests to answer, surveys to fill in, sessions to
    confirm or report, and late coaches to report. Two queries: requests, sessions."""
    from requests_app.selectors import requests_awaiting

    if not user.is_authenticated:
        return PendingActions(requests=[], surveys=[], to_confirm=[], coach_late=[])
    kinds = _waiting_sessions(now=now)
    sessions = list(
        _sessions_waiting_for(user, kinds)
        .annotate(
            waiting_kind=Case(
                *(When(condition, then=Value(kind)) for kind, condition in kinds.items()),
                output_field=CharField(),
            )
        )
        .select_related("coach__user", "skill")
        .only("starts_at", "coach__user__display_name", "skill__name")  # what the list shows
        .order_by()
    )
    # Both lists are one person's open items, read whole, so they are put in order here:
    # an ORDER BY over a query this wide (select_related) costs Django's compiler about a
    # millisecond, hashing each selected column, more than sorting a person's rows.
    sessions.sort(key=attrgetter("starts_at", "pk"))
    requests = sorted(
        requests_awaiting(user=user, now=now).only(*REQUEST_CARD_COLUMNS).order_by(),
        key=attrgetter("deadline", "pk"),
    )
    return PendingActions(
        requests=requests,
        **{kind: [row for row in sessions if row.waiting_kind == kind] for kind in kinds},
    )


PENDING_COUNT_SECONDS = 30


def pending_count(*, user: User, now: datetime) -> int:
    """How many pending actions the header's badge shows. Kept in the cache: one query per
    person per half minute, and again after a change to their sessions or requests
    (``forget_pending_counts``). The count also changes as the clock passes a deadline or a
    start, so it is kept for the current half minute only."""
    from requests_app.selectors import requests_awaiting_rows

    if not user.is_authenticated:
        return 0

    def read() -> int:
        sessions = _sessions_waiting_for(user, _waiting_sessions(now=now))
        requests = requests_awaiting_rows(user=user, now=now)
        return (
            sessions.order_by()
            .values_list("pk")
            .union(requests.order_by().values_list("pk"), all=True)
            .count()
        )

    period = int(now.timestamp()) // PENDING_COUNT_SECONDS
    return get_or_set_versioned(
        "pending-count", user.pk, read, timeout=PENDING_COUNT_SECONDS, part=str(period)
    )


def forget_pending_counts(*user_ids: int) -> None:
    """Someone's sessions or requests changed: their badge is counted again."""
    new_versions_now_and_on_commit("pending-count", user_ids)


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
    from requests_app.models import SessionRequest

    sessions = (
        Session.objects.for_user(user)
        .filter(status=Session.Status.SCHEDULED, starts_at__gte=start, starts_at__lt=end)
        .select_related("coach__user", "client", "skill")
        .only(*CALENDAR_COLUMNS)
        .order_by()  # both lists are put in order together below
    )
    requests = (
        SessionRequest.objects.for_user(user)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .exclude(status=SessionRequest.Status.ACCEPTED)
        .select_related("coach__user", "client", "skill")
        .only(*CALENDAR_COLUMNS, "status", "deadline", "target_session")
        .order_by()
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


@dataclass(frozen=True)
class MonthEarnings:
    month: datetime
    sessions: int
    gross: int
    net: int


def coach_earnings(*, coach, zone, months: int = 12) -> list[MonthEarnings]:
    """Per month (in ``zone``), newest first: confirmed sessions, what clients paid, and the
    coach's share after the platform fee. Refunded sessions earn nothing."""
    from django.conf import settings

    rows = (
        Session.objects.filter(coach=coach, status=Session.Status.CONFIRMED, credit__isnull=False)
        .values_list("starts_at", "credit__price_paid")
        .order_by("-starts_at")
    )
    keep = 100 - settings.HSE_PLATFORM_FEE_PERCENT
    by_month: dict = {}
    for starts_at, paid in rows:
        local = starts_at.astimezone(zone)
        key = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        count, gross = by_month.get(key, (0, 0))
        by_month[key] = (count + 1, gross + paid)
    return [
        MonthEarnings(month=key, sessions=count, gross=gross, net=gross * keep // 100)
        for key, (count, gross) in sorted(by_month.items(), reverse=True)[:months]
    ]
