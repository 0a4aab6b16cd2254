from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.models import User
from coaching.models import CoachProfile, Skill
from coaching.selectors import bookable_slots, busy_intervals
from sessions_app.models import PreSessionSurvey, Session, SessionEvent


class BookingError(Exception):
    """A booking rule was broken; the message is for people."""


class SlotTaken(BookingError):
    def __init__(self, message: str = "This time was just taken. Please pick another."):
        super().__init__(message)


def _log(session: Session, *, at: datetime, by: User | None, from_status: str, why: str) -> None:
    SessionEvent.objects.create(
        session=session, at=at, by=by, from_status=from_status, to_status=session.status, why=why
    )


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
    if not coach.skills.filter(pk=skill.pk).exists():
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
        why = "held for checkout" if hold_until else "scheduled from a credit"
        _log(session, at=now, by=by or client, from_status="", why=why)
    return session


def session_schedule_held(*, session: Session, credit, now: datetime) -> bool:
    """A paid checkout: its held session becomes scheduled. False when the hold was lost."""
    changed = Session.objects.filter(pk=session.pk, status=Session.Status.HELD).update(
        status=Session.Status.SCHEDULED, credit=credit, hold_expires_at=None
    )
    if changed:
        session.refresh_from_db()
        _log(session, at=now, by=None, from_status=Session.Status.HELD, why="paid")
    return bool(changed)


def holds_expire_due(*, now: datetime, batch: int = 500) -> int:
    """The sweep: expires every checkout hold and pending order past its time. Rows another
    worker is handling are skipped (SKIP LOCKED), so two sweeps at once share the work."""
    from payments.models import Order
    from payments.services import order_expire

    done = 0
    while True:
        with transaction.atomic():
            due = list(
                Order.objects.select_for_update(skip_locked=True)
                .filter(status=Order.Status.PENDING, expires_at__lte=now)
                .order_by("expires_at", "pk")[:batch]
            )
            for order in due:
                done += order_expire(order=order, now=now, why="checkout hold expired")
        if len(due) < batch:
            return done


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
