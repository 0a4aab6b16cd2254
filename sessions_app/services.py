"""A session's life after booking (SPEC 5): the lobby, the start, the call, the end, the
client's confirmation or report, a cancellation, and an admin's decision on a report.

Every change locks the session, first applies what the clock has done to it already (a
session past its auto-end is ended, and so on), then moves it through ``lifecycle.SESSION``.
A credit's state is the ledger's: a session only asks it to move."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from hse.text import validate_text
from ledger import services as ledger
from messaging import services as messaging
from sessions_app import emails, signalling
from sessions_app.booking import session_changed, session_move_state
from sessions_app.lifecycle import (
    REPORT,
    BookingError,
    auto_end_at,
    can_rate,
    coach_came,
    coach_cancel_is_late,
    confirmation_closes_at,
    phase,
)
from sessions_app.models import (
    Attendance,
    CoachIncident,
    PreSessionSurvey,
    Report,
    Session,
    Signal,
)
from sessions_app.selectors import forget_pending_counts
from sessions_app.signals import session_cancelled


def _lock_session(session: Session) -> Session:
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related("coach__user", "client", "skill", "credit")
        .get(pk=session.pk)
    )


def _catch_up(session: Session, now: datetime) -> None:
    """Applies what the sweeps would have done by now (auto-end, auto-confirm), so an
    action never works on a state the clock has already left."""
    live = (Session.Status.SCHEDULED, Session.Status.IN_PROGRESS)
    if session.status in live and now >= auto_end_at(session):
        _auto_end_locked(session, now=now)
    if session.status == Session.Status.ENDED and now >= confirmation_closes_at(session):
        _auto_confirm_locked(session, now=now)


def _attend(session: Session, user: User | None, kind: str, at: datetime) -> None:
    Attendance.objects.create(session=session, user=user, kind=kind, at=at)


def _check_party(session: Session, user: User) -> None:
    if user.pk not in (session.client_id, session.coach.user_id):
        raise BookingError("This session is not yours.")


def _use_credit(session: Session, *, by: User | None, now: datetime, why: str) -> None:
    """The session counts as held: its credit is used, which earns the coach."""
    if session.credit_id:
        ledger.credit_use(credit=session.credit, session_id=session.pk, by=by, now=now, why=why)


def survey_answer(
    *, session: Session, by: User, goals: str, challenges: str, now: datetime
) -> PreSessionSurvey:
    if session.client_id != by.pk:
        raise BookingError("Only the client answers the pre-session survey.")
    if session.status != Session.Status.SCHEDULED:
        raise BookingError("This session is not scheduled.")
    if now >= session.starts_at:
        raise BookingError("The session has started; the survey is closed.")
    goals, challenges = goals.strip(), challenges.strip()
    if not goals or not challenges:
        raise BookingError("Tell your coach both your goals and your challenges.")
    survey, _ = PreSessionSurvey.objects.update_or_create(
        session=session, defaults={"goals": goals, "challenges": challenges, "answered_at": now}
    )
    forget_pending_counts(session.client_id)
    return survey


def session_enter_lobby(*, session: Session, by: User, now: datetime) -> None:
    """Evidence of arriving: the first time, and again only after leaving the call (a
    reload or a second tab is the same wait, not another arrival)."""
    _check_party(session, by)
    last = (
        Attendance.objects.filter(session=session, user=by)
        .order_by("-at", "-id")
        .values_list("kind", flat=True)
        .first()
    )
    if last is None or last == Attendance.Kind.LEAVE:
        _attend(session, by, Attendance.Kind.LOBBY, now)


def session_start(*, session: Session, by: User, now: datetime) -> Session:
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.coach.user_id:
            raise BookingError("Only the coach starts the session.")
        _catch_up(session, now)
        if session.status == Session.Status.IN_PROGRESS:
            return session  # a second click, or a reconnect
        if not phase(session, now).room_open:
            raise BookingError(
                f"The room opens {settings.HSE_ROOM_OPENS_MINUTES_BEFORE} minutes before the start."
            )
        session_move_state(
            session, "start", by=by, now=now, why="the coach started", started_at=now
        )
        _attend(session, by, Attendance.Kind.START, now)
    return session


def session_late_notice(*, session: Session, by: User, minutes: int, now: datetime) -> Session:
    """The coach, in the lobby before starting: "I'm N minutes late". The client sees it at
    once and may wait or report straight away; it is evidence, and a line in their chat."""
    if minutes not in settings.HSE_LATE_NOTICE_MINUTES:
        raise BookingError("Choose one of the offered delays.")
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.coach.user_id:
            raise BookingError("Only the coach says they are running late.")
        _catch_up(session, now)
        info = phase(session, now)
        if session.status != Session.Status.SCHEDULED or not info.room_open:
            raise BookingError("A late notice is sent from the lobby, before you start.")
        Session.objects.filter(pk=session.pk).update(late_minutes=minutes, report_after=None)
        session.late_minutes, session.report_after = minutes, None
        _attend(session, by, Attendance.Kind.LATE_NOTE, now)
        conversation = messaging.conversation_for(
            client=session.client, coach=session.coach, now=now, starting=False
        )
        messaging.message_send(
            conversation=conversation, by=by, now=now, kind="notice",
            body=f"I'm running about {minutes} minutes late for our {session.skill.name} session.",
        )  # fmt: skip
        session_changed(session)
    return session


def session_late_wait(*, session: Session, by: User, now: datetime) -> Session:
    """The client's "I'll wait": the Report button moves by the coach's minutes."""
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.client_id:
            raise BookingError("Only the client answers a late notice.")
        _catch_up(session, now)
        if session.status != Session.Status.SCHEDULED or session.late_minutes is None:
            raise BookingError("There is no late notice to answer.")
        if session.report_after is None:
            wait = settings.HSE_COACH_LATE_MINUTES + session.late_minutes
            session.report_after = session.starts_at + timedelta(minutes=wait)
            Session.objects.filter(pk=session.pk).update(report_after=session.report_after)
            _attend(session, by, Attendance.Kind.LATE_WAIT, now)
            session_changed(session)
    return session


def session_join(*, session: Session, by: User, now: datetime) -> None:
    """Into the call. Its evidence is written when the call page says hello (so a reload
    is a leave and a join, and a join whose page never loaded is none)."""
    _check_party(session, by)


def session_leave(*, session: Session, by: User, now: datetime) -> None:
    """Leave pressed: the other person's call is told at once (a bye, as a closed tab
    sends), which is also the evidence of leaving."""
    _check_party(session, by)
    signalling.signal_post(session=session, by=by, kind=Signal.Kind.BYE, data={}, now=now)


def session_end(*, session: Session, by: User, now: datetime) -> Session:
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.coach.user_id:
            raise BookingError("Only the coach ends the session.")
        _catch_up(session, now)
        if session.status == Session.Status.ENDED:
            return session
        session_move_state(
            session, "end", by=by, now=now, why="the coach ended the session", ended_at=now
        )
        _attend(session, by, Attendance.Kind.END, now)
        emails.session_ended(session=session)
    return session


def _auto_end_locked(session: Session, *, now: datetime) -> None:
    at = auto_end_at(session)
    never_started = session.status == Session.Status.SCHEDULED
    why = "never started; ended automatically" if never_started else "ended automatically"
    session_move_state(session, "auto_end", by=None, now=now, why=why, ended_at=at)
    _attend(session, None, Attendance.Kind.AUTO_END, at)
    emails.session_ended(session=session)


def _auto_confirm_locked(session: Session, *, now: datetime) -> None:
    """Nobody reported it: held (the coach is paid, whether or not the client came) unless
    the attendance evidence says the coach never came, which gives the credit back."""
    if not coach_came(session):
        why = COACH_ABSENT_WHY
        session_move_state(session, "coach_absent", by=None, now=now, why=why, closed_at=now)
        if session.credit_id:
            ledger.credit_give_back(credit=session.credit, by=None, now=now, why=why)
        incident_record(session=session, kind=CoachIncident.Kind.NO_SHOW, now=now, note=why)
        return
    why = "not reported in time; confirmed automatically"
    session_move_state(session, "auto_confirm", by=None, now=now, why=why, closed_at=now)
    _use_credit(session, by=None, now=now, why=why)


COACH_ABSENT_WHY = "the coach never came (no lobby, start or join); the credit went back"


def incident_record(*, session: Session, kind: str, now: datetime, note: str) -> None:
    """A coach's late cancellation or absence, on the record once per session and kind."""
    CoachIncident.objects.get_or_create(
        session=session, kind=kind,
        defaults={"coach_id": session.coach_id, "at": now, "note": note[:200]},
    )  # fmt: skip


def session_confirm(
    *, session: Session, by: User, now: datetime, rating: int | None = None, comment: str = ""
) -> Session:
    if rating is not None and not 1 <= rating <= 5:
        raise BookingError("A rating is from 1 to 5 stars.")
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.client_id:
            raise BookingError("Only the client confirms the session.")
        _catch_up(session, now)
        if not (session.status == Session.Status.CONFIRMED and session.closed_at == now):
            # (else it was confirmed by the clock a moment ago: keep the rating below)
            session_move_state(
                session, "confirm", by=by, now=now, why="confirmed by the client", closed_at=now
            )
            _use_credit(session, by=by, now=now, why="confirmed by the client")
        session.rating = rating
        session.rating_comment = comment.strip()
        session.save(update_fields=["rating", "rating_comment"])
        emails.post_session(session=session)
    return session


def session_report(*, session: Session, by: User, now: datetime, reason: str, details: str):
    if reason not in Report.Reason.values:
        raise BookingError("Choose what went wrong.")
    if not details.strip():
        raise BookingError("Tell us what happened, so an admin can decide.")
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.client_id:
            raise BookingError("Only the client reports a session.")
        _catch_up(session, now)
        if not phase(session, now).can_report:
            raise BookingError("This session cannot be reported now.")
        session_move_state(session, "report", by=by, now=now, why=f"reported: {reason}")
        report = Report.objects.create(
            session=session, reason=reason, details=details.strip(), created_at=now
        )
        REPORT.record(report, "file", by=by, now=now, why=reason)
    return report


def session_cancel(*, session: Session, by: User, now: datetime) -> Session:
    """The client up to HSE_CLIENT_CANCEL_HOURS before keeps the credit; later it is used
    (and the coach earns it). A coach's cancellation always gives the credit back, and one
    later than HSE_COACH_LATE_CANCEL_HOURS before is on the coach's record. Both are told;
    proposals to move the session close with it."""
    with transaction.atomic():
        session = _lock_session(session)
        _check_party(session, by)
        info = phase(session, now)
        if not info.can_cancel:
            raise BookingError("Only a session that has not started can be cancelled.")
        by_coach = by.pk == session.coach.user_id
        keeps = by_coach or info.client_keeps_credit_on_cancel
        why = f"cancelled by {'the coach' if by_coach else 'the client'}"
        session_move_state(
            session, "cancel", by=by, now=now, why=why, closed_at=now,
            calendar_sequence=session.calendar_sequence + 1,
        )  # fmt: skip
        if by_coach and coach_cancel_is_late(session, now):
            hours = settings.HSE_COACH_LATE_CANCEL_HOURS
            incident_record(
                session=session, kind=CoachIncident.Kind.LATE_CANCEL, now=now,
                note=f"cancelled less than {hours} hours before the start",
            )  # fmt: skip
        if session.credit_id and keeps:
            ledger.credit_give_back(credit=session.credit, by=by, now=now, why=why)
        elif session.credit_id:
            _use_credit(session, by=by, now=now, why=f"{why}, too late to get it back")
        emails.session_cancelled(session=session, by=by, credit_returned=keeps, now=now)
        session_cancelled.send(sender=Session, session=session, by=by, now=now)
    return session


# --- Reviews: the client's rating after the fact, the coach's public reply -----------------


def session_rate(
    *, session: Session, by: User, rating: int | None, comment: str, now: datetime
) -> Session:
    """A confirmed session the client has not rated (one the clock confirmed, most often)
    may be rated up to HSE_RATING_DAYS after it was confirmed, once."""
    if rating is None or not 1 <= rating <= 5:
        raise BookingError("Choose from 1 to 5 stars.")
    comment = comment.strip()
    if len(comment) > 2000:
        raise BookingError("A comment is at most 2,000 characters.")
    try:
        validate_text(comment)
    except ValidationError as error:
        raise BookingError(error.messages[0]) from None
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.client_id:
            raise BookingError("Only the client rates the session.")
        _catch_up(session, now)
        if session.rating is not None:
            raise BookingError("You rated this session already.")
        if not can_rate(session, now):
            raise BookingError(
                f"A session can be rated for {settings.HSE_RATING_DAYS} days after it is confirmed."
            )
        session.rating, session.rating_comment = rating, comment
        session.save(update_fields=["rating", "rating_comment"])
    return session


def review_reply(*, session: Session, by: User, text: str, now: datetime) -> Session:
    """The coach answers a review publicly: one reply, which they may edit."""
    text = text.strip()
    if not text:
        raise BookingError("Write your reply first.")
    if len(text) > 2000:
        raise BookingError("A reply is at most 2,000 characters.")
    try:
        validate_text(text)
    except ValidationError as error:
        raise BookingError(error.messages[0]) from None
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.coach.user_id:
            raise BookingError("Only the coach answers a review.")
        if session.rating is None:
            raise BookingError("There is no review to answer yet.")
        session.coach_reply, session.coach_reply_at = text, now
        session.save(update_fields=["coach_reply", "coach_reply_at"])
    return session


# --- Reports: the session's side of an admin's decision ------------------------------------


def report_lock(report: Report) -> Report:
    """The report and its session, locked, for a decision about them."""
    report = Report.objects.select_for_update().get(pk=report.pk)
    report.session = _lock_session(report.session)
    return report


# A decision's effect on the report and on its session: (report action, session action).
REPORT_OUTCOMES = {
    Report.Decision.REFUND_WALLET: ("refund", "refund"),
    Report.Decision.REFUND_ORIGINAL: ("refund", "refund"),
    Report.Decision.RETURN_CREDIT: ("return_credit", "return_credit"),
    Report.Decision.DECLINE: ("decline", "decline"),
}


def report_settle(*, report: Report, decision: str, by: User, now: datetime, note: str) -> None:
    """Closes a locked open report with an admin's ``decision`` (the money and the credit
    moved already): the report and its session change state and the client is told."""
    report_action, session_action = REPORT_OUTCOMES[decision]
    session = report.session
    REPORT.move(
        report, report_action, by=by, now=now, why=note.strip() or decision,
        decision=decision, decision_note=note.strip(), decided_by=by, decided_at=now,
    )  # fmt: skip
    why = dict(Report.Decision.choices)[decision].lower()
    session_move_state(session, session_action, by=by, now=now, why=why, closed_at=now)
    session_changed(session)
    emails.report_decided(session=session, report=report)
