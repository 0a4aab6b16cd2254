"""The session's state machine and the clock-derived facts pages show.

Pages never wait for a timer: they compute from the clock what the sweeps will later write
(``effective_status``), so a late beat never shows a wrong page."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from hse.states import Machine
from sessions_app.models import Report, ReportEvent, Session, SessionEvent

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


def auto_confirm_at(session: Session) -> datetime:
    ended = session.ended_at or auto_end_at(session)
    return ended + timedelta(hours=settings.HSE_AUTO_CONFIRM_HOURS)


def effective_status(session: Session, now: datetime) -> str:
    """What the sweeps will make of the session, computed from the clock now."""
    status = session.status
    if status in (S.SCHEDULED, S.IN_PROGRESS) and now >= auto_end_at(session):
        status = S.ENDED
    if status == S.ENDED and now >= auto_confirm_at(session):
        status = S.CONFIRMED
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
    )
