from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q

from accounts.models import User
from coaching.models import CoachProfile, Skill
from coaching.selectors import bookable_slots, busy_intervals, forget_schedules
from hse.sweeps import bulk_transition, in_locked_batches
from sessions_app.models import PreSessionSurvey, Session, SessionEvent
from sessions_app.selectors import forget_pending_counts


class BookingError(Exception):
    """A booking rule was broken; the message is for people."""


DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE


class SlotTaken(BookingError):
    def __init__(self, message: str = "This time was just taken. Please pick another."):
        super().__init__(message)


def _log(session: Session, *, at: datetime, by: User | None, from_status: str, why: str) -> None:
    SessionEvent.objects.create(
        session=session, at=at, by=by, from_status=from_status, to_status=session.status, why=why
    )
    forget_pending_counts(session.client_id)  # what is pending from a session is the client's
    # A save already did this (coaching.signals); a change of state made by an UPDATE did not.
    forget_schedules(coach_ids=[session.coach_id], client_ids=[session.client_id])


def _overlapping(*, coach: CoachProfile, client: User, starts_at: datetime, ends_at: datetime):
    return Session.objects.filter(
        Q(coach=coach) | Q(client=client), starts_at__lt=ends_at, ends_at__gt=starts_at
    )


def hold_lapse(*, session: Session, now: datetime) -> bool:
    """Marks a held session whose hold has run out as expired, with its order. A
    conditional update, so running it twice, or beside the sweep, changes things once."""
    from payments.services import order_expire_for_lapsed_hold

    changed = Session.objects.filter(
        pk=session.pk, status=Session.Status.HELD, hold_expires_at__lte=now
    ).update(status=Session.Status.EXPIRED)
    if not changed:
        return False
    session.status = Session.Status.EXPIRED
    _log(session, at=now, by=None, from_status=Session.Status.HELD, why="checkout hold expired")
    order_expire_for_lapsed_hold(session=session, now=now)
    return True


def _check_free(
    *,
    coach: CoachProfile,
    client: User,
    starts_at: datetime,
    duration_minutes: int,
    now: datetime,
    within_availability: bool,
    ignore_request_id: int | None = None,
    ignore_session_id: int | None = None,
    count_requests: bool = True,
) -> None:
    """Raises SlotTaken unless the time is free for both people: a bookable slot for
    instant booking, or (for an agreed request) simply free of anything else."""
    ignore = {
        "ignore_request_id": ignore_request_id,
        "ignore_session_id": ignore_session_id,
        "count_requests": count_requests,
    }
    if within_availability:
        slots = bookable_slots(
            coach=coach,
            duration_minutes=duration_minutes,
            start=starts_at,
            end=starts_at + timedelta(minutes=1),
            now=now,
            client=client,
            **ignore,
        )
        if starts_at not in slots:
            raise SlotTaken("That time is not available any more. Please pick another.")
        return
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    busy = busy_intervals(
        coach=coach, client=client, start=starts_at, end=ends_at, now=now, **ignore
    )
    if busy:
        raise SlotTaken(
            "That time overlaps another session, hold or request of the coach or the client."
        )


def session_reserve(
    *,
    coach: CoachProfile,
    client: User,
    skill: Skill,
    duration_minutes: int,
    starts_at: datetime,
    now: datetime,
    hold_until: datetime | None = None,
    credit=None,
    by: User | None = None,
    within_availability: bool = True,
    accepted_request_id: int | None = None,
) -> Session:
    """Takes a bookable slot for ``client`` with ``coach``: a HELD row until ``hold_until``
    when given (checkout), else a SCHEDULED session paid by ``credit``.

    Two people racing for one slot: on PostgreSQL the exclusion constraints let one insert
    win; on SQLite the IMMEDIATE transaction serialises the check and the insert. The loser
    gets SlotTaken either way. ``accepted_request_id`` books an accepted session request:
    other open proposals then do not stand in the way."""
    if client.pk == coach.user_id:
        raise BookingError("You cannot book a session with yourself.")
    if not client.is_client:
        raise BookingError("Only clients can book sessions.")
    if not coach.teaches(skill):
        raise BookingError(f"{coach.user.display_name} does not coach {skill.name}.")
    duration = timedelta(minutes=duration_minutes)
    ends_at = starts_at + duration
    _check_free(
        coach=coach,
        client=client,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        now=now,
        within_availability=within_availability,
        # Booking an accepted request: other open proposals do not stand in its way.
        count_requests=accepted_request_id is None,
    )
    with transaction.atomic():
        lapsed = _overlapping(coach=coach, client=client, starts_at=starts_at, ends_at=ends_at)
        for held in lapsed.filter(status=Session.Status.HELD, hold_expires_at__lte=now):
            hold_lapse(session=held, now=now)
        live = Session.objects.occupying(now)
        if live.filter(
            pk__in=_overlapping(
                coach=coach, client=client, starts_at=starts_at, ends_at=ends_at
            ).values("pk")
        ).exists():
            raise SlotTaken()
        status = Session.Status.HELD if hold_until else Session.Status.SCHEDULED
        try:
            with transaction.atomic():
                session = Session.objects.create(
                    coach=coach,
                    client=client,
                    skill=skill,
                    duration_minutes=duration_minutes,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    status=status,
                    hold_expires_at=hold_until,
                    credit=credit,
                )
        except IntegrityError:
            raise SlotTaken() from None
        except OperationalError as error:
            # Two bookings of one slot can each wait for the other's new row in the
            # exclusion constraints; PostgreSQL then aborts one of them, which lost it.
            if getattr(error.__cause__, "sqlstate", None) != DEADLOCK_DETECTED:
                raise
            raise SlotTaken() from None
        why = "held for checkout" if hold_until else "scheduled from a credit"
        _log(session, at=now, by=by or client, from_status="", why=why)
    return session


def session_schedule_held(*, session: Session, credit, now: datetime) -> bool:
    """A paid checkout: its held session becomes scheduled. False when the hold was lost."""
    changed = Session.objects.filter(pk=session.pk, status=Session.Status.HELD).update(
        status=Session.Status.SCHEDULED, credit=credit, hold_expires_at=None
    )
    if changed:
        # What the UPDATE wrote, without reading the row again (which would also forget
        # the coach, client and skill that the confirmation email shows).
        session.status, session.credit, session.hold_expires_at = (
            Session.Status.SCHEDULED,
            credit,
            None,
        )
        _log(session, at=now, by=None, from_status=Session.Status.HELD, why="paid")
    return bool(changed)


def holds_expire_due(*, now: datetime, batch: int = 1000) -> int:
    """The sweep: expires every pending order past its time and frees its held slot, a
    locked batch at a time (SKIP LOCKED: two sweeps at once share the work; an order being
    paid right now is left to its payment). Open Stripe checkouts are closed after commit."""
    from payments.models import Order
    from payments.services import expire_checkouts_quietly

    due = (
        Order.objects.filter(status=Order.Status.PENDING, expires_at__lte=now)
        .order_by("expires_at", "pk")
        .values_list("pk", "held_session_id", "stripe_checkout_id")
    )

    def handle(orders):
        expired = Order.objects.filter(
            pk__in=[pk for pk, _, _ in orders], status=Order.Status.PENDING
        ).update(status=Order.Status.EXPIRED)
        bulk_transition(
            Session, SessionEvent, link="session_id",
            ids=[session for _, session, _ in orders if session],
            sources=(Session.Status.HELD,), target=Session.Status.EXPIRED,
            now=now, why="checkout hold expired",
        )  # fmt: skip
        checkouts = [checkout for _, _, checkout in orders if checkout]
        if checkouts:
            transaction.on_commit(lambda: expire_checkouts_quietly(checkouts))
        return expired

    return in_locked_batches(due, handle, batch=batch)


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


def session_schedule_from_credit(
    *, credit, starts_at: datetime, by: User, now: datetime
) -> Session:
    """Schedules one available credit of a package into a bookable slot, at once."""
    from payments.models import Credit

    with transaction.atomic():
        credit = Credit.objects.select_for_update().get(pk=credit.pk)
        if credit.client_id != by.pk:
            raise BookingError("This credit is not yours.")
        if credit.status != Credit.Status.AVAILABLE:
            raise BookingError("This credit is already scheduled.")
        session = session_reserve(
            coach=credit.coach,
            client=credit.client,
            skill=credit.skill,
            duration_minutes=credit.duration_minutes,
            starts_at=starts_at,
            now=now,
            credit=credit,
            by=by,
        )
        Credit.objects.filter(pk=credit.pk).update(status=Credit.Status.SCHEDULED)
        from payments import emails

        emails.booking_confirmation(session=session)
    return session


# --- The session lifecycle (SPEC 5) -----------------------------------------------------------


def _lock_session(session: Session) -> Session:
    return (
        Session.objects.select_for_update(of=("self",))
        .select_related("coach__user", "client", "skill", "credit")
        .get(pk=session.pk)
    )


def _move(session: Session, action: str, *, by: User | None, now: datetime, why: str) -> None:
    from sessions_app.lifecycle import TRANSITIONS

    sources, target = TRANSITIONS[action]
    if session.status not in sources:
        raise BookingError(f"This session is {session.get_status_display().lower()}.")
    before = session.status
    session.status = target
    session.save()
    _log(session, at=now, by=by, from_status=before, why=why)


def _catch_up(session: Session, now: datetime) -> None:
    """Applies what the sweeps would have done by now (auto-end, auto-confirm), so an
    action never works on a state the clock has already left."""
    from sessions_app.lifecycle import auto_confirm_at, auto_end_at

    live = (Session.Status.SCHEDULED, Session.Status.IN_PROGRESS)
    if session.status in live and now >= auto_end_at(session):
        _auto_end_locked(session, now=now)
    if session.status == Session.Status.ENDED and now >= auto_confirm_at(session):
        _auto_confirm_locked(session, now=now)


def _attend(session: Session, user: User | None, kind: str, now: datetime) -> None:
    from sessions_app.models import Attendance

    Attendance.objects.create(session=session, user=user, kind=kind, at=now)


def _check_party(session: Session, user: User) -> None:
    if user.pk not in (session.client_id, session.coach.user_id):
        raise BookingError("This session is not yours.")


def session_enter_lobby(*, session: Session, by: User, now: datetime) -> None:
    from sessions_app.models import Attendance

    _check_party(session, by)
    _attend(session, by, Attendance.Kind.LOBBY, now)


def session_start(*, session: Session, by: User, now: datetime) -> Session:
    from sessions_app.lifecycle import phase
    from sessions_app.models import Attendance

    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.coach.user_id:
            raise BookingError("Only the coach starts the session.")
        _catch_up(session, now)
        if session.status == Session.Status.IN_PROGRESS:
            return session  # a second click, or a reconnect
        if not phase(session, now).room_open:
            raise BookingError("The room opens 15 minutes before the start.")
        session.started_at = now
        _move(session, "start", by=by, now=now, why="the coach started")
        _attend(session, by, Attendance.Kind.START, now)
    return session


def session_join(*, session: Session, by: User, now: datetime) -> None:
    from sessions_app.models import Attendance

    _check_party(session, by)
    _attend(session, by, Attendance.Kind.JOIN, now)


def session_leave(*, session: Session, by: User, now: datetime) -> None:
    from sessions_app.models import Attendance

    _check_party(session, by)
    _attend(session, by, Attendance.Kind.LEAVE, now)


def session_end(*, session: Session, by: User, now: datetime) -> Session:
    from sessions_app import emails
    from sessions_app.models import Attendance

    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.coach.user_id:
            raise BookingError("Only the coach ends the session.")
        _catch_up(session, now)
        if session.status == Session.Status.ENDED:
            return session
        session.ended_at = now
        _move(session, "end", by=by, now=now, why="the coach ended the session")
        _attend(session, by, Attendance.Kind.END, now)
        emails.session_ended(session=session)
    return session


def _auto_end_locked(session: Session, *, now: datetime) -> None:
    from sessions_app import emails
    from sessions_app.lifecycle import auto_end_at
    from sessions_app.models import Attendance

    at = auto_end_at(session)
    never_started = session.status == Session.Status.SCHEDULED
    session.ended_at = at
    _move(
        session,
        "auto_end",
        by=None,
        now=now,
        why="never started; ended automatically" if never_started else "ended automatically",
    )
    _attend(session, None, Attendance.Kind.AUTO_END, at)
    emails.session_ended(session=session)


def _auto_confirm_locked(session: Session, *, now: datetime) -> None:
    from payments.models import Credit

    session.closed_at = now
    _move(session, "auto_confirm", by=None, now=now, why="not reported within 72 hours")
    if session.credit_id:
        Credit.objects.filter(pk=session.credit_id).update(status=Credit.Status.USED)


def session_confirm(
    *, session: Session, by: User, now: datetime, rating: int | None = None, comment: str = ""
) -> Session:
    from payments.models import Credit
    from sessions_app import emails

    if rating is not None and not 1 <= rating <= 5:
        raise BookingError("A rating is from 1 to 5 stars.")
    with transaction.atomic():
        session = _lock_session(session)
        if by.pk != session.client_id:
            raise BookingError("Only the client confirms the session.")
        _catch_up(session, now)
        if session.status == Session.Status.CONFIRMED and session.closed_at == now:
            pass  # auto-confirmed a moment ago; keep the rating below
        else:
            session.closed_at = now
            _move(session, "confirm", by=by, now=now, why="confirmed by the client")
        session.rating = rating
        session.rating_comment = comment.strip()
        session.save(update_fields=["rating", "rating_comment"])
        if session.credit_id:
            Credit.objects.filter(pk=session.credit_id).update(status=Credit.Status.USED)
        emails.post_session(session=session)
    return session


def session_report(*, session: Session, by: User, now: datetime, reason: str, details: str):
    from sessions_app.lifecycle import phase
    from sessions_app.models import Report

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
        _move(session, "report", by=by, now=now, why=f"reported: {reason}")
        report = Report.objects.create(
            session=session, reason=reason, details=details.strip(), created_at=now
        )
    return report


def session_cancel(*, session: Session, by: User, now: datetime) -> Session:
    """The client up to 24 hours before keeps the credit; later it is used. A coach's
    cancellation always gives the credit back. Both are told."""
    from payments.models import Credit
    from sessions_app import emails
    from sessions_app.lifecycle import phase

    with transaction.atomic():
        session = _lock_session(session)
        _check_party(session, by)
        info = phase(session, now)
        if not info.can_cancel:
            raise BookingError("Only a session that has not started can be cancelled.")
        by_coach = by.pk == session.coach.user_id
        keeps = by_coach or info.client_keeps_credit_on_cancel
        session.closed_at = now
        who = "the coach" if by_coach else "the client"
        _move(session, "cancel", by=by, now=now, why=f"cancelled by {who}")
        if session.credit_id:
            status = Credit.Status.AVAILABLE if keeps else Credit.Status.USED
            Credit.objects.filter(pk=session.credit_id).update(status=status)
        emails.session_cancelled(session=session, by=by, credit_returned=keeps)
        from requests_app.services import requests_close_for_session

        requests_close_for_session(session=session, by=by, now=now)
    return session


# --- Timers (each an idempotent sweep: safe twice, safe at once, catches up) ----------------


def sessions_auto_end_due(*, now: datetime, batch: int = 1000) -> int:
    """Sessions still open 15 minutes after their end are ended, a batch at a time: one
    UPDATE, events and attendance rows in bulk, and one notice for the batch's emails."""
    from django.db.models import F

    from hse.emails import notify_later
    from sessions_app import emails
    from sessions_app.models import Attendance

    after = timedelta(minutes=settings.HSE_AUTO_END_MINUTES_AFTER)
    due = (
        Session.objects.filter(
            status__in=(Session.Status.SCHEDULED, Session.Status.IN_PROGRESS),
            ends_at__lte=now - after,
        )
        .order_by("pk")
        .values_list("pk", "ends_at")
    )

    def handle(rows):
        ids = [pk for pk, _ in rows]
        moved = _bulk_move(
            ids, "auto_end", now=now, why="ended automatically", ended_at=F("ends_at") + after
        )
        Attendance.objects.bulk_create(
            Attendance(session_id=pk, user=None, kind=Attendance.Kind.AUTO_END, at=ends + after)
            for pk, ends in rows
        )
        notify_later(emails.sessions_ended, ids=ids)
        return moved

    return in_locked_batches(due, handle, batch=batch)


def _bulk_move(ids: list[int], action: str, *, now: datetime, why: str, **fields) -> int:
    """One declared transition for many locked sessions at once (sweeps); a single session
    goes through ``_move``."""
    from sessions_app.lifecycle import TRANSITIONS

    sources, target = TRANSITIONS[action]
    return bulk_transition(
        Session, SessionEvent, link="session_id", ids=ids, sources=sources, target=target,
        now=now, why=why, **fields,
    )  # fmt: skip


def sessions_auto_confirm_due(*, now: datetime, batch: int = 1000) -> int:
    """Ended sessions nobody reported within 72 hours are confirmed, a batch at a time:
    rows locked with SKIP LOCKED, one UPDATE, the events in bulk, the credits used."""
    from payments.models import Credit

    cutoff = now - timedelta(hours=settings.HSE_AUTO_CONFIRM_HOURS)
    due = (
        Session.objects.filter(status=Session.Status.ENDED, ended_at__lte=cutoff)
        .order_by("pk")
        .values_list("pk", "credit_id")
    )

    def handle(rows):
        confirmed = _bulk_move(
            [pk for pk, _ in rows], "auto_confirm", now=now, why="not reported within 72 hours",
            closed_at=now,
        )  # fmt: skip
        credits = [credit for _, credit in rows if credit]
        Credit.objects.filter(pk__in=credits).update(status=Credit.Status.USED)
        return confirmed

    return in_locked_batches(due, handle, batch=batch)


def coach_late_notify_due(*, now: datetime, batch: int = 500) -> int:
    """The client is told once that Report is available when the coach is late."""
    from hse.emails import notify_later
    from sessions_app import emails

    due = (
        Session.objects.coach_late_at(now)
        .filter(coach_late_notified_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )

    def handle(ids):
        Session.objects.filter(pk__in=ids).update(coach_late_notified_at=now)
        notify_later(emails.coaches_late, ids=ids)
        return len(ids)

    return in_locked_batches(due, handle, batch=batch)


def reminders_send_due(*, now: datetime, batch: int = 500) -> int:
    """Day-before and starting-soon reminders, each once per session. A reminder whose
    moment passed long ago (the beat was down) is skipped rather than sent late."""
    from hse.emails import notify_later
    from sessions_app import emails

    day, soon = settings.HSE_REMINDERS_MINUTES_BEFORE
    sent = 0
    # The day-before reminder is pointless once the starting-soon one is due.
    windows = (("reminder_day_sent_at", day, soon), ("reminder_soon_sent_at", soon, 0))
    for field, minutes, not_within in windows:
        due = (
            Session.objects.filter(
                status=Session.Status.SCHEDULED,
                starts_at__lte=now + timedelta(minutes=minutes),
                starts_at__gt=now + timedelta(minutes=not_within),
                **{f"{field}__isnull": True},
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )

        def handle(ids, field=field, minutes=minutes):
            Session.objects.filter(pk__in=ids).update(**{field: now})
            notify_later(emails.reminders, ids=ids, minutes=minutes)
            return len(ids)

        sent += in_locked_batches(due, handle, batch=batch)
    return sent


# --- Refund reports (decided by admins) ------------------------------------------------------


def report_decide(*, report, decision: str, by: User, now: datetime, note: str = ""):
    """An admin's decision on an open report: money moves exactly once (through the refund
    services), the session's state changes, the decision is recorded and the client told.
    Deciding an already decided report changes nothing."""
    import logging

    from payments import services as payments
    from payments.models import Credit
    from sessions_app import emails
    from sessions_app.models import Report

    if not by.is_staff:
        raise BookingError("Only admins decide reports.")
    if decision not in Report.Decision.values:
        raise BookingError("Unknown decision.")
    if decision == Report.Decision.DECLINE and not note.strip():
        raise BookingError("Write a note saying why the report is declined; the client reads it.")
    refund = None
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        if report.state != Report.State.OPEN:
            return report
        session = _lock_session(report.session)
        credit = session.credit
        if decision == Report.Decision.REFUND_WALLET:
            payments.refund_to_wallet(credit=credit, by=by, now=now)
            report.state = Report.State.REFUNDED
            _move(session, "refund", by=by, now=now, why="refunded to the wallet")
        elif decision == Report.Decision.REFUND_ORIGINAL:
            refund = payments.refund_original_record(credit=credit, by=by, now=now)
            report.state = Report.State.REFUNDED
            _move(session, "refund", by=by, now=now, why="refunded to the original payment")
        elif decision == Report.Decision.RETURN_CREDIT:
            payments.credit_return(credit=credit, now=now)
            report.state = Report.State.CREDIT_RETURNED
            _move(session, "return_credit", by=by, now=now, why="credit returned to the client")
        else:
            Credit.objects.filter(pk=credit.pk).update(status=Credit.Status.USED)
            report.state = Report.State.DECLINED
            _move(session, "decline", by=by, now=now, why="report declined")
        session.closed_at = now
        session.save(update_fields=["closed_at"])
        report.decision = decision
        report.decision_note = note.strip()
        report.decided_by = by
        report.decided_at = now
        report.save()
        emails.report_decided(session=session, report=report)
    if refund is not None:
        try:
            payments.refund_complete(refund=refund)
        except Exception:
            # Recorded and owed: the admin's "retry card refund" completes it with the same key.
            logging.getLogger(__name__).exception("stripe refund %s not completed", refund.pk)
    return report
