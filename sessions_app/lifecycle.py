"""The session's state machine and the clock-derived facts pages show.

Pages never wait for a timer: they compute from the clock what the sweeps will later write
(``effective_status``), so a late beat never shows a wrong page."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from hse.states import Machine
from sessions_app.models import Attendance, Report, ReportEvent, Session, SessionEvent

S = Session.Status

# The session's machine: action -> (states it may start from, state it leads to).
TRANSITIONS = {
    "pay": ((S.HELD,), S.SCHEDULED),
    "lapse": ((S.HELD,), S.EXPIRED),
    "start": ((S.SCHEDULED,), S.IN_PROGRESS),
    "end": ((S.IN_PROGRESS,), S.ENDED),
    "auto_end": ((S.SCHEDULED, S.IN_PROGRESS), S.ENDED),
    "confirm": ((S.ENDED,), S.CONFIRMED),
    "auto_confirm": ((S.ENDED,), S.CONFIRMED),
    "report": ((S.SCHEDULED, S.IN_PROGRESS, S.ENDED), S.REPORTED),
    "refund": ((S.REPORTED,), S.REFUNDED),
    "return_credit": ((S.REPORTED,), S.CANCELLED),
    "decline": ((S.REPORTED,), S.REPORT_DECLINED),
    "cancel": ((S.SCHEDULED,), S.CANCELLED),
    # Over and unreported, but the evidence says the coach never came: the credit goes back.
    "coach_absent": ((S.ENDED,), S.CANCELLED),
}


class BookingError(Exception):
    """A session rule was broken; the message is for people."""


SESSION = Machine(
    transitions=TRANSITIONS,
    event=SessionEvent,
    link="session",
    error=BookingError,
    refused="This session is {state}.",
)

R = Report.State

# A report's machine: an admin's decision closes it.
REPORT = Machine(
    transitions={
        "refund": ((R.OPEN,), R.REFUNDED),
        "return_credit": ((R.OPEN,), R.CREDIT_RETURNED),
        "decline": ((R.OPEN,), R.DECLINED),
    },
    event=ReportEvent,
    link="report",
    error=BookingError,
    refused="This report is {state}.",
    field="state",
)


def room_opens_at(session: Session) -> datetime:
    return session.starts_at - timedelta(minutes=settings.HSE_ROOM_OPENS_MINUTES_BEFORE)


def report_opens_at(session: Session) -> datetime:
    """When a coach who has not started counts as late: the start plus the grace minutes, or
    later when the client agreed to wait for a coach running late."""
    opens = session.starts_at + timedelta(minutes=settings.HSE_COACH_LATE_MINUTES)
    return max(opens, session.report_after) if session.report_after else opens


def auto_end_at(session: Session) -> datetime:
    return session.ends_at + timedelta(minutes=settings.HSE_AUTO_END_MINUTES_AFTER)


def _confirmation_window() -> timedelta:
    return timedelta(hours=settings.HSE_AUTO_CONFIRM_HOURS)


def confirmation_closes_at(session: Session) -> datetime:
    """When the client can no longer confirm or report an ended session, and the clock
    confirms it: the confirmation window after its end, or after the moment it is ended by
    itself when nobody ended it. The one rule: pages, the pending actions (through
    ``confirmation_open_q``) and the auto-confirm sweep (``confirmation_closed_q``) all follow
    it."""
    ended = session.ended_at or auto_end_at(session)
    return ended + _confirmation_window()


def confirmation_open_q(now: datetime) -> Q:
    """``confirmation_closes_at(session) > now`` for sessions over by the clock (ended, or
    past their automatic end), as a query."""
    window = _confirmation_window()
    auto_end = timedelta(minutes=settings.HSE_AUTO_END_MINUTES_AFTER)
    return Q(status=S.ENDED, ended_at__gt=now - window) | Q(
        status__in=(S.SCHEDULED, S.IN_PROGRESS),
        ends_at__lte=now - auto_end,
        ends_at__gt=now - auto_end - window,
    )


def confirmation_closed_q(now: datetime) -> Q:
    """Ended sessions whose ``confirmation_closes_at`` has come (the sweep's rows; sessions
    still open past their end are ended first, which sets ``ended_at``)."""
    return Q(status=S.ENDED, ended_at__lte=now - _confirmation_window())


# What shows the coach was there: in the lobby, starting, in the call, or saying they are
# late from the lobby. A client who was not there does not stop the coach being paid.
COACH_PRESENT = (
    Attendance.Kind.LOBBY,
    Attendance.Kind.START,
    Attendance.Kind.JOIN,
    Attendance.Kind.LATE_NOTE,
)


def coach_came_q() -> Exists:
    """Per session (as an annotation): the attendance evidence has the coach there."""
    return Exists(
        Attendance.objects.filter(
            session=OuterRef("pk"), user=OuterRef("coach__user"), kind__in=COACH_PRESENT
        )
    )


def coach_came(session: Session) -> bool:
    return Attendance.objects.filter(
        session=session, user_id=session.coach.user_id, kind__in=COACH_PRESENT
    ).exists()


def coach_cancel_is_late(session: Session, now: datetime) -> bool:
    return now > session.starts_at - timedelta(hours=settings.HSE_COACH_LATE_CANCEL_HOURS)


def rating_closes_at(session: Session) -> datetime | None:
    """Until when the client may rate a confirmed session they have not rated (also one
    the clock confirmed): HSE_RATING_DAYS after it was confirmed."""
    if session.status != S.CONFIRMED or session.closed_at is None:
        return None
    return session.closed_at + timedelta(days=settings.HSE_RATING_DAYS)


def can_rate(session: Session, now: datetime) -> bool:
    closes = rating_closes_at(session)
    return session.rating is None and closes is not None and now < closes


def effective_status(session: Session, now: datetime) -> str:
    """What the sweeps will make of the session, computed from the clock now."""
    status = session.status
    if status in (S.SCHEDULED, S.IN_PROGRESS) and now >= auto_end_at(session):
        status = S.ENDED
    if status == S.ENDED and now >= confirmation_closes_at(session):
        # The sweep's rule (sweeps.sessions_auto_confirm_due): a session the coach never
        # came to is cancelled, not confirmed. Lists annotate ``coach_came`` (coach_came_q)
        # so that this costs no query per row.
        came = getattr(session, "coach_came", None)
        if came is None:
            came = coach_came(session)
        status = S.CONFIRMED if came else S.CANCELLED
    return status


@dataclass(frozen=True)
class Phase:
    """Everything a page needs to decide what to show for a session at ``now``."""

    status: str
    room_open: bool
    coach_started: bool
    coach_late: bool
    can_report: bool
    can_confirm: bool
    can_cancel: bool
    client_keeps_credit_on_cancel: bool
    coach_cancel_late: bool  # a coach cancelling now goes on their record

    @property
    def status_label(self) -> str:
        """The status as people read it ("In progress")."""
        return S(self.status).label


def phase(session: Session, now: datetime) -> Phase:
    status = effective_status(session, now)
    live = status in (S.SCHEDULED, S.IN_PROGRESS)
    coach_late = status == S.SCHEDULED and now >= report_opens_at(session)
    room_open = live and now >= room_opens_at(session)
    # A coach who said they are late may be reported at once, unless the client agreed to wait.
    told_late = status == S.SCHEDULED and room_open and session.late_minutes is not None
    return Phase(
        status=status,
        room_open=room_open,
        coach_started=status == S.IN_PROGRESS,
        coach_late=coach_late,
        can_report=coach_late
        or (told_late and session.report_after is None)
        or status in (S.IN_PROGRESS, S.ENDED),
        can_confirm=status == S.ENDED,
        can_cancel=session.status == S.SCHEDULED and now < session.starts_at,
        client_keeps_credit_on_cancel=now
        <= session.starts_at - timedelta(hours=settings.HSE_CLIENT_CANCEL_HOURS),
        coach_cancel_late=coach_cancel_is_late(session, now),
    )
