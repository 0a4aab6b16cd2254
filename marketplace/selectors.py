"""What the pages that bring sessions and requests together read: the pending actions (and
the header's count of them) and the calendar."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import attrgetter, or_

from django.conf import settings
from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.urls import reverse

from accounts.models import User
from hse.cache import get_or_set_versioned
from messaging.selectors import unread_total
from requests_app.models import SessionRequest
from requests_app.selectors import requests_awaiting, requests_awaiting_rows
from sessions_app.models import Session, coach_late_q

REQUEST_CARD_COLUMNS = (  # what a request's card shows and decides with
    "status", "starts_at", "ends_at", "deadline", "duration_minutes", "skill__name",
    "proposed_by__display_name", "client__display_name", "coach__user__display_name",
    "target_session__starts_at", "target_session__ends_at", "credit",
)  # fmt: skip
CALENDAR_COLUMNS = (  # what a calendar item shows of a session or a request
    "starts_at", "ends_at", "skill__name", "coach__user__display_name", "client__display_name",
)  # fmt: skip


@dataclass(frozen=True)
class PendingActions:
    requests: list
    surveys: list
    to_confirm: list
    coach_late: list
    unread_messages: int = 0  # one item: "N unread messages"

    @property
    def count(self) -> int:
        return (
            len(self.requests)
            + len(self.surveys)
            + len(self.to_confirm)
            + len(self.coach_late)
            + (1 if self.unread_messages else 0)
        )


def _waiting_sessions(*, now: datetime) -> dict[str, Q]:
    """What makes a client's session wait for them, by kind (a session is of one kind at a
    time). The one definition behind the pending-actions list and the badge."""
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
    # an ORDER BY over a query this wide (select_related) costs Django's compiler more,
    # hashing each selected column, than sorting a person's rows.
    sessions.sort(key=attrgetter("starts_at", "pk"))
    requests = sorted(
        requests_awaiting(user=user, now=now).only(*REQUEST_CARD_COLUMNS).order_by(),
        key=attrgetter("deadline", "pk"),
    )
    return PendingActions(
        requests=requests,
        unread_messages=unread_total(user=user),
        **{kind: [row for row in sessions if row.waiting_kind == kind] for kind in kinds},
    )


PENDING_COUNT_SECONDS = 30


@dataclass(frozen=True)
class HeaderCounts:
    pending: int  # the pending actions, unread messages being one of them
    unread_messages: int


def header_counts(*, user: User, now: datetime) -> HeaderCounts:
    """The header's badges: how many pending actions, and how many unread messages. Kept in
    the cache: one read per person per half minute, and again after a change to their
    sessions, requests or messages (``forget_pending_counts``, and messaging's own). The
    count also changes as the clock passes a deadline or a start, so it is kept for the
    current half minute only."""
    if not user.is_authenticated:
        return HeaderCounts(pending=0, unread_messages=0)

    def read() -> tuple[int, int]:
        sessions = _sessions_waiting_for(user, _waiting_sessions(now=now))
        requests = requests_awaiting_rows(user=user, now=now)
        waiting = (
            sessions.order_by()
            .values_list("pk")
            .union(requests.order_by().values_list("pk"), all=True)
            .count()
        )
        unread = unread_total(user=user)
        return waiting + (1 if unread else 0), unread

    period = int(now.timestamp()) // PENDING_COUNT_SECONDS
    pending, unread = get_or_set_versioned(
        "pending-count", user.pk, read, timeout=PENDING_COUNT_SECONDS, part=f"{period}:m"
    )
    return HeaderCounts(pending=pending, unread_messages=unread)


def pending_count(*, user: User, now: datetime) -> int:
    """How many pending actions the header's badge shows (``header_counts``)."""
    return header_counts(user=user, now=now).pending


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
