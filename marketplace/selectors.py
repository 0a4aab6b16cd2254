"""What the pages that bring sessions and requests together read: the pending actions (and
the header's count of them) and the calendar."""

from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import attrgetter, or_

from django.db.models import Case, CharField, Q, QuerySet, Value, When
from django.urls import reverse

from accounts.models import User
from coaching.selectors import Booked
from hse.cache import get_or_set_versioned
from messaging.selectors import unread_total
from payments.packages import extensions_waiting_for, extensions_waiting_rows
from requests_app.models import SessionRequest
from requests_app.selectors import requests_awaiting, requests_awaiting_rows
from sessions_app.lifecycle import (
    coach_came_q,
    confirmation_closes_at,
    confirmation_open_q,
    effective_status,
)
from sessions_app.models import Session, coach_late_q

REQUEST_CARD_COLUMNS = (  # what a request's card shows and decides with
    "status", "starts_at", "ends_at", "deadline", "duration_minutes", "skill__name",
    "proposed_by__display_name", "client__display_name", "coach__user__display_name",
    "target_session__starts_at", "target_session__ends_at", "target_session__duration_minutes",
    "credit", "is_series",
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
    extensions: tuple = ()  # a coach's packages whose client asks for more time

    @property
    def count(self) -> int:
        return (
            len(self.requests)
            + len(self.extensions)
            + len(self.surveys)
            + len(self.to_confirm)
            + len(self.coach_late)
            + (1 if self.unread_messages else 0)
        )


def _waiting_sessions(*, now: datetime) -> dict[str, Q]:
    """What makes a client's session wait for them, by kind (a session is of one kind at a
    time). The one definition behind the pending-actions list and the badge."""
    return {
        "surveys": Q(status=Session.Status.SCHEDULED, starts_at__gt=now, survey__isnull=True),
        # Over and neither confirmed nor reported, until its confirmation closes. The clock
        # decides (a running session past its auto-end counts), not only the sweep.
        "to_confirm": confirmation_open_q(now),
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
        # What the list shows, and when a session's confirmation closes.
        .only(
            "status",
            "starts_at",
            "ends_at",
            "ended_at",
            "coach__user__display_name",
            "skill__name",
        )
        .order_by()
    )
    # Both lists are one person's open items, read whole, so they are put in order here:
    # an ORDER BY over a query this wide (select_related) costs Django's compiler more,
    # hashing each selected column, than sorting a person's rows.
    sessions.sort(key=attrgetter("starts_at", "pk"))
    for session in sessions:
        if session.waiting_kind == "to_confirm":
            session.confirm_by = confirmation_closes_at(session)
    requests = sorted(
        requests_awaiting(user=user, now=now).only(*REQUEST_CARD_COLUMNS).order_by(),
        key=attrgetter("deadline", "pk"),
    )
    return PendingActions(
        requests=requests,
        unread_messages=unread_total(user=user),
        extensions=tuple(extensions_waiting_for(coach_user=user)),
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
            .union(
                requests.order_by().values_list("pk"),
                extensions_waiting_rows(coach_user=user).values_list("pk"),
                all=True,
            )
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


# How the calendar tells states apart: a tone (its colour) and the words beside it, so the
# colour is never the only sign. Sessions by their effective status, requests by theirs.
SESSION_TONES = {
    Session.Status.HELD: ("held", "Held for checkout"),
    Session.Status.SCHEDULED: ("scheduled", "Scheduled"),
    Session.Status.IN_PROGRESS: ("live", "In progress"),
    Session.Status.ENDED: ("ended", "Ended, to confirm"),
    Session.Status.CONFIRMED: ("done", "Confirmed"),
    Session.Status.REPORTED: ("reported", "Reported"),
    Session.Status.REFUNDED: ("reported", "Refunded"),
    Session.Status.REPORT_DECLINED: ("done", "Report declined"),
    Session.Status.EXPIRED: ("closed", "Hold expired"),
    Session.Status.CANCELLED: ("closed", "Cancelled"),
}
REQUEST_TONES = {
    SessionRequest.Status.PENDING: ("request", "Request, waiting"),
    SessionRequest.Status.REJECTED: ("request-closed", "Request rejected"),
    SessionRequest.Status.CANCELLED: ("request-closed", "Request cancelled"),
    SessionRequest.Status.EXPIRED: ("request-closed", "Request expired"),
}
CALENDAR_LEGEND = [  # each tone once, in the order a week goes
    ("scheduled", "Scheduled"),
    ("live", "In progress"),
    ("ended", "Ended, to confirm"),
    ("done", "Confirmed"),
    ("reported", "Reported or refunded"),
    ("closed", "Cancelled or expired"),
    ("request", "Request waiting for an answer"),
    ("request-closed", "Request closed"),
]


@dataclass(frozen=True)
class CalendarItem:
    kind: str  # "session" or "request"
    starts_at: datetime
    ends_at: datetime
    title: str
    subtitle: str
    status: str
    tone: str  # the colour's name (CALENDAR_LEGEND)
    status_label: str  # the state in words, shown beside the colour
    url: str
    deadline: datetime | None = None  # an open request's answer-by time

    @property
    def is_closed(self) -> bool:
        return self.tone in ("closed", "request-closed")


# A calendar page may be a month of a busy coach's history: bounded so that a page stays a
# page (the view says so when it is cut).
CALENDAR_MAX_ITEMS = 500


def calendar_items(
    *, user: User, start: datetime, end: datetime, now: datetime
) -> list[CalendarItem]:
    """Every session of ``user`` in any state and every request not accepted (an accepted
    one is its session) that starts in [start, end), in time order: two queries."""
    sessions = (
        Session.objects.for_user(user)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .select_related("coach__user", "client", "skill")
        .only(*CALENDAR_COLUMNS, "status", "ended_at")
        .annotate(coach_came=coach_came_q())
        .order_by("starts_at")[:CALENDAR_MAX_ITEMS]
    )
    requests = (
        SessionRequest.objects.for_user(user)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .exclude(status=SessionRequest.Status.ACCEPTED)
        .select_related("coach__user", "client", "skill")
        .only(*CALENDAR_COLUMNS, "status", "deadline", "target_session")
        .order_by("starts_at")[:CALENDAR_MAX_ITEMS]
    )

    def other(item) -> str:
        return (
            item.client.display_name
            if item.coach.user_id == user.pk
            else item.coach.user.display_name
        )

    items = []
    for s in sessions:
        status = effective_status(s, now)
        tone, label = SESSION_TONES.get(status, ("closed", status))
        items.append(
            CalendarItem(
                kind="session",
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                title=s.skill.name,
                subtitle=f"with {other(s)}",
                status=status,
                tone=tone,
                status_label=label,
                url=reverse("sessions:detail", args=[s.pk]),
            )
        )
    for r in requests:
        status = r.effective_status(now)
        tone, label = REQUEST_TONES.get(status, ("request-closed", status))
        items.append(
            CalendarItem(
                kind="request",
                starts_at=r.starts_at,
                ends_at=r.ends_at,
                title=("New time: " if r.is_reschedule else "Request: ") + r.skill.name,
                subtitle=f"with {other(r)}",
                status=status,
                tone=tone,
                status_label=label,
                url=reverse("requests:detail", args=[r.pk]),
                deadline=r.deadline if status == SessionRequest.Status.PENDING else None,
            )
        )
    return sorted(items, key=lambda item: (item.starts_at, item.kind, item.url))


def sessions_booked(*, coach, start: datetime, end: datetime) -> list[Booked]:
    """The coach's sessions still booked (scheduled or running) overlapping [start, end):
    what the coach's pages list before time off or a new zone lands on them."""
    sessions = (
        Session.objects.filter(
            coach=coach,
            status__in=(Session.Status.SCHEDULED, Session.Status.IN_PROGRESS),
            starts_at__lt=end,
            ends_at__gt=start,
        )
        .select_related("client", "skill")
        .only("starts_at", "ends_at", "skill__name", "client__display_name")
        .order_by("starts_at")[:CALENDAR_MAX_ITEMS]
    )
    return [
        Booked(
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            title=f"{s.skill.name} with {s.client.display_name}",
            url=reverse("sessions:detail", args=[s.pk]),
        )
        for s in sessions
    ]
