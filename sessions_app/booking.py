"""Booking: taking a time for a session, holding it for a checkout, and scheduling paid
sessions into it. Two people racing for one slot: on PostgreSQL the exclusion constraints
let one insert win; on SQLite the IMMEDIATE transaction serialises the check and the insert.
The loser is told the time was taken, either way."""

from datetime import datetime, timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q

from accounts.models import User
from coaching.models import CoachProfile, Skill
from coaching.selectors import bookable_slots, busy_intervals, forget_schedules
from hse import live
from hse.bounds import beyond_horizon
from ledger import services as ledger
from ledger.models import Credit
from sessions_app import emails
from sessions_app.lifecycle import SESSION, BookingError
from sessions_app.models import Session, SessionEvent
from sessions_app.selectors import forget_pending_counts
from sessions_app.signals import hold_lapsed

DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE


class SlotTaken(BookingError):
    def __init__(self, message: str = "This time was just taken. Please pick another."):
        super().__init__(message)


def session_changed(session: Session) -> None:
    """What a change to a session (made by an UPDATE, which sends no post_save) changes on
    pages: the client's pending actions and both people's schedules."""
    forget_pending_counts(session.client_id)  # what is pending from a session is the client's
    forget_schedules(coach_ids=[session.coach_id], client_ids=[session.client_id])
    live.push(live.session_group(session.pk), {"type": "room"})  # its lobby and room look again


def session_move_state(
    session: Session, action: str, *, by: User | None, now: datetime, why: str, **fields
) -> None:
    """One declared transition of a locked session (``lifecycle.SESSION``), logged."""
    SESSION.move(session, action, by=by, now=now, why=why, **fields)
    session_changed(session)


def time_check(
    *,
    coach: CoachProfile,
    client: User,
    starts_at: datetime,
    duration_minutes: int,
    now: datetime,
    agreed: bool = False,
    ignore: dict[str, int] | None = None,
) -> None:
    """Raises SlotTaken unless the time is free for both people: a bookable slot of the
    coach's for instant booking, or, for a time both people ``agreed`` on (an accepted
    request), simply free of anything else, open proposals and weekly series aside.
    ``ignore``: busy rows that must not collide with themselves (``{"sessions": id,
    "requests": id}``)."""
    ignore = ignore or {}
    if agreed:
        _check_busy(
            coach=coach, client=client, starts_at=starts_at, duration_minutes=duration_minutes,
            now=now, ignore=ignore, skip=("requests", "series"),
        )  # fmt: skip
        return
    slots = bookable_slots(
        coach=coach, duration_minutes=duration_minutes, start=starts_at,
        end=starts_at + timedelta(minutes=1), now=now, client=client, ignore=ignore,
    )  # fmt: skip
    if starts_at not in slots:
        raise SlotTaken("That time is not available any more. Please pick another.")


def proposal_check(
    *,
    coach: CoachProfile,
    client: User,
    starts_at: datetime,
    duration_minutes: int,
    now: datetime,
    ignore: dict[str, int] | None = None,
) -> None:
    """Raises SlotTaken unless a proposed time is free for both people: no session, hold,
    time off or other open proposal of either stands in its way."""
    _check_busy(
        coach=coach, client=client, starts_at=starts_at, duration_minutes=duration_minutes,
        now=now, ignore=ignore or {},
    )  # fmt: skip


def _check_busy(*, coach, client, starts_at, duration_minutes, now, ignore, skip=()) -> None:
    busy = busy_intervals(
        coach=coach, client=client, start=starts_at,
        end=starts_at + timedelta(minutes=duration_minutes), now=now, ignore=ignore, skip=skip,
    )  # fmt: skip
    if busy:
        raise SlotTaken(
            "That time overlaps another session, hold or request of the coach or the client."
        )


def people_lock(*, client: User, coach: CoachProfile) -> CoachProfile:
    """Locks the client's row, then the coach's, and returns the coach as locked (with their
    user and skills). Every booking takes both in this order, so bookings of one coach, or of
    one client, queue here instead of meeting in the exclusion constraints, where two of them
    could wait for each other (a deadlock PostgreSQL would end with an error)."""
    User.objects.select_for_update().filter(pk=client.pk).exists()
    return (
        CoachProfile.objects.select_for_update(of=("self",))
        .select_related("user")
        .prefetch_related("skills")
        .get(pk=coach.pk)
    )


def _overlapping(*, coach: CoachProfile, client: User, starts_at: datetime, ends_at: datetime):
    return Session.objects.filter(
        Q(coach=coach) | Q(client=client), starts_at__lt=ends_at, ends_at__gt=starts_at
    )


def hold_lapse(*, session: Session, now: datetime) -> bool:
    """Marks a held session whose hold has run out as expired, and tells the order that
    held it. A conditional update, so running it twice, or beside the sweep, changes
    things once."""
    lapsed = SESSION.move_many(
        list(
            Session.objects.filter(
                pk=session.pk, status=Session.Status.HELD, hold_expires_at__lte=now
            ).values_list("pk", flat=True)
        ),
        "lapse", now=now, why="checkout hold expired",
    )  # fmt: skip
    if not lapsed:
        return False
    session.status = Session.Status.EXPIRED
    session_changed(session)
    hold_lapsed.send(sender=Session, session=session, now=now)
    return True


def holds_lapse_many(*, ids: list[int], now: datetime) -> list[int]:
    """The sweep's bulk ``hold_lapse`` for held sessions whose orders it expired."""
    return SESSION.move_many(ids, "lapse", now=now, why="checkout hold expired")


def session_reserve(
    *,
    coach: CoachProfile,
    client: User,
    skill: Skill,
    duration_minutes: int,
    starts_at: datetime,
    now: datetime,
    hold_until: datetime | None = None,
    credit: Credit | None = None,
    by: User | None = None,
    agreed: bool = False,
) -> Session:
    """Takes a free time for ``client`` with ``coach``: a HELD row until ``hold_until``
    when given (checkout), else a SCHEDULED session paid by ``credit`` (whose state the
    caller moves). ``agreed``: see ``time_check``."""
    if client.pk == coach.user_id:
        raise BookingError("You cannot book a session with yourself.")
    if not client.is_client:
        raise BookingError("Only clients can book sessions.")
    if not coach.teaches(skill):
        raise BookingError(f"{coach.user.display_name} does not coach {skill.name}.")
    if too_far := beyond_horizon(starts_at, now):
        raise BookingError(too_far)
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    time_check(
        coach=coach, client=client, starts_at=starts_at, duration_minutes=duration_minutes,
        now=now, agreed=agreed,
    )  # fmt: skip
    with transaction.atomic():
        people_lock(client=client, coach=coach)
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
            # Bookings queue on people_lock and never meet here; a write that does not
            # queue (made in the admin or a shell) still could, in a deadlock PostgreSQL
            # ends by aborting one of the two. That one lost the time.
            if getattr(error.__cause__, "sqlstate", None) != DEADLOCK_DETECTED:
                raise
            raise SlotTaken() from None
        SESSION.record(
            session, "hold" if hold_until else "book", by=by or client, now=now,
            why="held for checkout" if hold_until else "scheduled from a credit",
        )  # fmt: skip
        session_changed(session)
    return session


def session_hold_lock(*, session: Session) -> Session | None:
    """A checkout's held session, locked (with the people and skill its emails show), if it
    is still held: not lapsed, and not given to anyone else."""
    locked = (
        Session.objects.select_for_update(of=("self",))
        .select_related("coach__user", "client", "skill")
        .filter(pk=session.pk, status=Session.Status.HELD)
        .first()
    )
    return locked


def session_schedule_held(*, session: Session, credit: Credit, now: datetime) -> None:
    """A paid checkout: its held session (locked, ``session_hold_lock``) becomes
    scheduled, paid by ``credit``."""
    session_move_state(
        session, "pay", by=None, now=now, why="paid", credit=credit, hold_expires_at=None
    )


# Why a credit that is not available cannot be scheduled, in the client's words.
_NOT_AVAILABLE = {
    Credit.Status.HELD: "This credit is held by a session request.",
    Credit.Status.SCHEDULED: "This credit is already scheduled.",
    Credit.Status.USED: "This credit was used already.",
    Credit.Status.REFUNDED: "This credit was refunded.",
    Credit.Status.EXPIRED: "This credit expired; its price went back to your wallet.",
    Credit.Status.ENDED: "This credit's package was ended; its price went back to your wallet.",
    Credit.Status.EXCHANGED: "This credit was exchanged for one of another length.",
}


def session_schedule_from_credit(
    *, credit: Credit, starts_at: datetime, by: User, now: datetime
) -> Session:
    """Schedules one available credit of a package into a bookable slot, at once."""
    with transaction.atomic():
        credit = Credit.objects.select_for_update().get(pk=credit.pk)
        if credit.client_id != by.pk:
            raise BookingError("This credit is not yours.")
        if credit.status != Credit.Status.AVAILABLE:
            raise BookingError(_NOT_AVAILABLE.get(credit.status, "This credit cannot be used."))
        session = session_reserve(
            coach=credit.coach, client=credit.client, skill=credit.skill,
            duration_minutes=credit.duration_minutes, starts_at=starts_at, now=now,
            credit=credit, by=by,
        )  # fmt: skip
        ledger.credit_schedule(credit=credit, by=by, now=now, why=f"session #{session.pk}")
        emails.booking_confirmation(session=session)
    return session


def session_reschedule(
    *,
    session: Session,
    starts_at: datetime,
    by: User,
    now: datetime,
    why: str,
    duration_minutes: int | None = None,
    credit: Credit | None = None,
) -> Session:
    """Moves a scheduled session (locked by the caller's request) to an agreed new time,
    free for both people; with ``duration_minutes``, to a new length too, paid by
    ``credit`` (the caller exchanged the session's credit for one of that length)."""
    if too_far := beyond_horizon(starts_at, now):
        raise BookingError(too_far)
    people_lock(client=session.client, coach=session.coach)
    session = Session.objects.select_for_update().get(pk=session.pk)
    if session.status != Session.Status.SCHEDULED:
        raise BookingError("The session can no longer be moved.")
    duration_minutes = duration_minutes or session.duration_minutes
    time_check(
        coach=session.coach, client=session.client, starts_at=starts_at,
        duration_minutes=duration_minutes, now=now, agreed=True,
        ignore={"sessions": session.pk},
    )  # fmt: skip
    old, old_minutes = session.starts_at, session.duration_minutes
    session.starts_at = starts_at
    session.duration_minutes = duration_minutes
    session.ends_at = starts_at + timedelta(minutes=duration_minutes)
    if credit is not None:
        session.credit = credit
    # The reminders and the late notice belong to the new time.
    session.reminder_day_sent_at = session.reminder_soon_sent_at = None
    session.coach_late_notified_at = None
    session.calendar_sequence += 1  # the invitation sent again replaces the old one
    session.save(
        update_fields=[
            "starts_at", "ends_at", "duration_minutes", "credit", "reminder_day_sent_at",
            "reminder_soon_sent_at", "coach_late_notified_at", "calendar_sequence",
        ]
    )  # fmt: skip
    longer = "" if old_minutes == duration_minutes else f" ({old_minutes} minutes before)"
    SessionEvent.objects.create(
        session=session, at=now, by=by, from_status=session.status, to_status=session.status,
        action="move", why=f"moved from {old:%Y-%m-%d %H:%M} UTC{longer}: {why}"[:200],
    )  # fmt: skip
    session_changed(session)
    emails.session_moved(session=session, now=now)
    return session
