"""Session requests: propose, adjust, accept, reject, cancel, expire.

Every change locks the request row, re-checks its state, and writes an event row. A request
past its deadline is expired by whoever touches it first: the sweep or an answer that came
too late."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from accounts.models import User
from coaching.models import CoachProfile, Skill
from hse.emails import notify_later
from hse.sweeps import bulk_transition, in_locked_batches
from payments.models import Credit, Order
from payments.services import PaymentError
from requests_app import emails
from requests_app.models import Proposal, RequestEvent, SessionRequest
from requests_app.policy import RequestPolicyError, response_deadline
from sessions_app import services as booking
from sessions_app.models import Session, SessionEvent
from sessions_app.selectors import forget_pending_counts

Status = SessionRequest.Status

# The machine, declared once: action -> (states it may start from, state it leads to).
TRANSITIONS = {
    "adjust": ((Status.PENDING,), Status.PENDING),
    "accept": ((Status.PENDING,), Status.ACCEPTED),
    "reject": ((Status.PENDING,), Status.REJECTED),
    "cancel": ((Status.PENDING,), Status.CANCELLED),
    "expire": ((Status.PENDING,), Status.EXPIRED),
}


class RequestError(Exception):
    """A request rule was broken; the message is for people."""


class RequestExpired(RequestError):
    pass


def role_of(user: User, request: SessionRequest) -> str:
    if user.pk == request.client_id:
        return "client"
    if user.pk == request.coach.user_id:
        return "coach"
    raise RequestError("This request is not yours.")


def _transition(request: SessionRequest, action: str, *, by: User | None, now: datetime, why: str):
    sources, target = TRANSITIONS[action]
    if request.status not in sources:
        raise RequestError(f"This request is already {request.get_status_display().lower()}.")
    before = request.status
    request.status = target
    if target != Status.PENDING:
        request.closed_at = now
    request.save()
    RequestEvent.objects.create(
        request=request, at=now, by=by, from_status=before, to_status=target, why=why
    )
    forget_pending_counts(request.client_id, request.coach.user_id)


def _lock(request: SessionRequest) -> SessionRequest:
    return (
        SessionRequest.objects.select_for_update(of=("self",))
        .select_related("coach__user", "client", "skill", "credit", "target_session")
        .get(pk=request.pk)
    )


def _release_credit(request: SessionRequest) -> None:
    if request.credit_id:
        Credit.objects.filter(pk=request.credit_id, status=Credit.Status.HELD).update(
            status=Credit.Status.AVAILABLE
        )


def _expire_locked(request: SessionRequest, *, now: datetime) -> None:
    _transition(request, "expire", by=None, now=now, why="not answered by the deadline")
    _release_credit(request)
    emails.request_expired(request=request)


# --- Who may propose to whom -----------------------------------------------------------------


def clients_of_coach(*, coach: CoachProfile):
    """Clients who have had or bought sessions with this coach."""
    bought = Order.objects.filter(coach=coach, client=OuterRef("pk"), status=Order.Status.PAID)
    had = Session.objects.filter(coach=coach, client=OuterRef("pk")).exclude(
        status__in=Session.FREE_STATUSES
    )
    return User.objects.filter(Q(Exists(bought)) | Q(Exists(had))).order_by("display_name")


def coaches_of_client(*, client: User):
    """Coaches the client has bought from or met."""
    bought = Order.objects.filter(client=client, coach=OuterRef("pk"), status=Order.Status.PAID)
    had = Session.objects.filter(client=client, coach=OuterRef("pk")).exclude(
        status__in=Session.FREE_STATUSES
    )
    return (
        CoachProfile.objects.filter(Q(Exists(bought)) | Q(Exists(had)))
        .select_related("user")
        .order_by("user__display_name")
    )


# --- Propose and adjust ----------------------------------------------------------------------


def _check_time(*, starts_at: datetime, duration_minutes: int) -> None:
    if duration_minutes not in settings.HSE_SESSION_DURATIONS:
        raise RequestError("Sessions last 30, 45 or 60 minutes.")
    grid = settings.HSE_SLOT_GRID_MINUTES
    if starts_at.second or starts_at.microsecond or starts_at.minute % grid:
        raise RequestError(f"Pick a start on the {grid}-minute grid (e.g. 14:00, 14:15).")


def _deadline(*, sent_at: datetime, starts_at: datetime, role: str) -> datetime:
    try:
        return response_deadline(sent_at=sent_at, start=starts_at, sender_role=role)
    except RequestPolicyError as error:
        raise RequestError(str(error)) from None


def _check_free(request_like, *, starts_at, duration_minutes, now, ignore_request_id=None):
    try:
        booking._check_free(
            coach=request_like["coach"],
            client=request_like["client"],
            starts_at=starts_at,
            duration_minutes=duration_minutes,
            now=now,
            within_availability=False,
            ignore_request_id=ignore_request_id,
            ignore_session_id=request_like.get("target_session_id"),
        )
    except booking.SlotTaken as error:
        raise RequestError(str(error)) from None


def request_propose(
    *,
    by: User,
    coach: CoachProfile,
    client: User,
    starts_at: datetime,
    now: datetime,
    skill: Skill | None = None,
    duration_minutes: int | None = None,
    target_session: Session | None = None,
) -> SessionRequest:
    """Sends a proposal. A client's new-session request holds one of their free credits
    with the coach (its skill and length); a reschedule proposes a new time for a session."""
    if by.pk not in (coach.user_id, client.pk):
        raise RequestError("You can only propose sessions between yourself and someone else.")
    role = "coach" if by.pk == coach.user_id else "client"
    if not client.is_client:
        raise RequestError("Sessions are proposed to clients.")

    with transaction.atomic():
        credit = None
        if target_session is not None:
            target_session = Session.objects.select_for_update().get(pk=target_session.pk)
            if (target_session.coach_id, target_session.client_id) != (coach.pk, client.pk):
                raise RequestError("That session is not between you two.")
            if target_session.status != Session.Status.SCHEDULED or target_session.starts_at <= now:
                raise RequestError("Only upcoming scheduled sessions can be moved.")
            if SessionRequest.objects.open_at(now).filter(target_session=target_session).exists():
                raise RequestError("A new time for this session is already proposed.")
            skill, duration_minutes = target_session.skill, target_session.duration_minutes
        elif role == "client":
            credits = Credit.objects.select_for_update().filter(
                client=client, coach=coach, status=Credit.Status.AVAILABLE
            )
            if skill is not None:
                credits = credits.filter(skill=skill)
            if duration_minutes is not None:
                credits = credits.filter(duration_minutes=duration_minutes)
            credit = credits.order_by("created_at", "pk").first()
            if credit is None:
                raise RequestError(
                    f"You have no free session with {coach.user.display_name} of that kind. "
                    "Buy one first, then propose a time."
                )
            skill, duration_minutes = credit.skill, credit.duration_minutes
        else:
            if not clients_of_coach(coach=coach).filter(pk=client.pk).exists():
                raise RequestError("You can propose sessions only to your own clients.")
            if skill is None or duration_minutes is None:
                raise RequestError("Choose the skill and the length of the session.")
        if not coach.teaches(skill):
            raise RequestError(f"{coach.user.display_name} does not coach {skill.name}.")

        _check_time(starts_at=starts_at, duration_minutes=duration_minutes)
        deadline = _deadline(sent_at=now, starts_at=starts_at, role=role)
        parties = {"coach": coach, "client": client}
        if target_session is not None:
            parties["target_session_id"] = target_session.pk
        _check_free(parties, starts_at=starts_at, duration_minutes=duration_minutes, now=now)

        request = SessionRequest.objects.create(
            coach=coach,
            client=client,
            skill=skill,
            duration_minutes=duration_minutes,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=duration_minutes),
            proposed_by=by,
            sent_at=now,
            deadline=deadline,
            target_session=target_session,
            credit=credit,
            created_at=now,
        )
        if credit is not None:
            Credit.objects.filter(pk=credit.pk).update(status=Credit.Status.HELD)
        _record_proposal(request)
        RequestEvent.objects.create(
            request=request,
            at=now,
            by=by,
            from_status="",
            to_status=Status.PENDING,
            why="reschedule proposed" if target_session else "proposed",
        )
        forget_pending_counts(request.client_id, request.coach.user_id)
        emails.request_received(request=request)
    return request


def _record_proposal(request: SessionRequest) -> None:
    Proposal.objects.create(
        request=request,
        skill=request.skill,
        duration_minutes=request.duration_minutes,
        starts_at=request.starts_at,
        proposed_by=request.proposed_by,
        sent_at=request.sent_at,
        deadline=request.deadline,
    )


def _open_locked(request: SessionRequest, *, now: datetime) -> SessionRequest:
    """The locked request, if still open. One past its deadline is expired here and now
    (and stays expired: the caller raises after the commit)."""
    request = _lock(request)
    if request.status == Status.PENDING and request.deadline <= now:
        _expire_locked(request, now=now)
    return request


def _answer(action: str, request: SessionRequest, *, now: datetime, work) -> SessionRequest:
    with transaction.atomic():
        request = _open_locked(request, now=now)
        expired = request.status == Status.EXPIRED and request.closed_at == now
        if not expired:
            work(request)
    if expired:
        raise RequestExpired(
            "This request expired: it was not answered by its deadline. Propose a new time."
        )
    return request


def request_adjust(
    *,
    request: SessionRequest,
    by: User,
    starts_at: datetime,
    now: datetime,
    duration_minutes: int | None = None,
) -> SessionRequest:
    """A new time (or length) for an open request. The receiver's counter-proposal, or the
    sender changing their own proposal: either way the other side must now answer, by a
    new deadline computed for the new time and the new sender."""

    def work(request: SessionRequest) -> None:
        role = role_of(by, request)
        _transition(request, "adjust", by=by, now=now, why="new time proposed")
        duration = duration_minutes or request.duration_minutes
        if duration != request.duration_minutes and (request.credit_id or request.is_reschedule):
            raise RequestError(
                "The length is fixed by the paid session; propose another date or time."
            )
        _check_time(starts_at=starts_at, duration_minutes=duration)
        deadline = _deadline(sent_at=now, starts_at=starts_at, role=role)
        parties = {
            "coach": request.coach,
            "client": request.client,
            "target_session_id": request.target_session_id,
        }
        _check_free(
            parties, starts_at=starts_at, duration_minutes=duration, now=now,
            ignore_request_id=request.pk,
        )  # fmt: skip
        request.starts_at = starts_at
        request.duration_minutes = duration
        request.ends_at = starts_at + timedelta(minutes=duration)
        request.proposed_by = by
        request.sent_at = now
        request.deadline = deadline
        request.save()
        _record_proposal(request)
        emails.request_adjusted(request=request)

    return _answer("adjust", request, now=now, work=work)


def request_accept(
    *, request: SessionRequest, by: User, now: datetime, method: str = Order.Method.STRIPE
) -> SessionRequest:
    """The receiver agrees. A reschedule moves its session; a client's request books the
    held credit; a coach's request uses a free credit of the client's or, without one,
    starts a single-session checkout (``request.order``) that books the session on payment.
    Two overlapping requests can never both be accepted: the booking itself refuses the
    second (on PostgreSQL by the exclusion constraint)."""

    def work(request: SessionRequest) -> None:
        if by.pk != request.receiver_id():
            raise RequestError("Only the person the request was sent to can accept it.")
        try:
            with transaction.atomic():
                if request.is_reschedule:
                    request.session = _move_session(request, by=by, now=now)
                else:
                    _book(request, by=by, now=now, method=method)
        except (booking.SlotTaken, IntegrityError):
            raise RequestError(
                "That time is no longer free for both of you. Propose another time."
            ) from None
        except (booking.BookingError, PaymentError) as error:
            raise RequestError(str(error)) from None
        _transition(request, "accept", by=by, now=now, why="accepted")
        emails.request_accepted(request=request)

    return _answer("accept", request, now=now, work=work)


def _move_session(request: SessionRequest, *, by: User, now: datetime) -> Session:
    session = Session.objects.select_for_update().get(pk=request.target_session_id)
    if session.status != Session.Status.SCHEDULED:
        raise RequestError("The session can no longer be moved.")
    booking._check_free(
        coach=request.coach,
        client=request.client,
        starts_at=request.starts_at,
        duration_minutes=session.duration_minutes,
        now=now,
        within_availability=False,
        ignore_session_id=session.pk,
        count_requests=False,
    )
    old = session.starts_at
    session.starts_at, session.ends_at = request.starts_at, request.ends_at
    # The reminders and the late notice belong to the new time.
    session.reminder_day_sent_at = session.reminder_soon_sent_at = None
    session.coach_late_notified_at = None
    session.save(
        update_fields=[
            "starts_at",
            "ends_at",
            "reminder_day_sent_at",
            "reminder_soon_sent_at",
            "coach_late_notified_at",
        ]
    )
    SessionEvent.objects.create(
        session=session,
        at=now,
        by=by,
        from_status=session.status,
        to_status=session.status,
        why=f"moved from {old:%Y-%m-%d %H:%M} UTC by request #{request.pk}",
    )
    return session


def _book(request: SessionRequest, *, by: User, now: datetime, method: str) -> None:
    credit = request.credit
    if credit is None:
        credit = (
            Credit.objects.select_for_update()
            .filter(
                client=request.client,
                coach=request.coach,
                skill=request.skill,
                duration_minutes=request.duration_minutes,
                status=Credit.Status.AVAILABLE,
            )
            .order_by("created_at", "pk")
            .first()
        )
    if credit is not None:
        request.session = booking.session_reserve(
            coach=request.coach,
            client=request.client,
            skill=request.skill,
            duration_minutes=request.duration_minutes,
            starts_at=request.starts_at,
            now=now,
            credit=credit,
            by=by,
            within_availability=False,
            accepted_request_id=request.pk,
        )
        Credit.objects.filter(pk=credit.pk).update(status=Credit.Status.SCHEDULED)
        request.credit = credit
        from payments import emails as payment_emails

        payment_emails.booking_confirmation(session=request.session)
        return
    if by.pk != request.client_id:
        # Only the client may start (and pay for) a purchase of their own.
        raise RequestError(
            f"{request.client.display_name} has no free session of this kind: they accept "
            "it themselves and pay for it."
        )
    from payments.services import order_start

    # A wallet order is paid in the same transaction as the acceptance: a short wallet
    # undoes both.
    request.order = order_start(
        client=request.client,
        coach=request.coach,
        skill=request.skill,
        duration_minutes=request.duration_minutes,
        quantity=1,
        method=method,
        starts_at=request.starts_at,
        now=now,
        within_availability=False,
        accepted_request_id=request.pk,
        pay_from_wallet=True,
    )


def request_reject(*, request: SessionRequest, by: User, now: datetime) -> SessionRequest:
    def work(request: SessionRequest) -> None:
        if by.pk != request.receiver_id():
            raise RequestError("Only the person the request was sent to can reject it.")
        _transition(request, "reject", by=by, now=now, why="rejected")
        _release_credit(request)
        emails.request_rejected(request=request)

    return _answer("reject", request, now=now, work=work)


def request_cancel(*, request: SessionRequest, by: User, now: datetime) -> SessionRequest:
    def work(request: SessionRequest) -> None:
        if by.pk != request.proposed_by_id:
            raise RequestError("Only the person who sent the request can cancel it.")
        _transition(request, "cancel", by=by, now=now, why="cancelled by the sender")
        _release_credit(request)
        emails.request_cancelled(request=request)

    return _answer("cancel", request, now=now, work=work)


def requests_expire_due(*, now: datetime, batch: int = 1000) -> int:
    """The sweep: every open request past its deadline expires once, its credit is freed
    and both people are told. A batch at a time: rows locked with SKIP LOCKED (a request
    being answered right now is skipped and left to its answer), one conditional UPDATE,
    the events in bulk."""
    due = (
        SessionRequest.objects.filter(status=Status.PENDING, deadline__lte=now)
        .order_by("deadline", "pk")
        .values_list("pk", "credit_id")
    )

    def handle(rows):
        ids = [pk for pk, _ in rows]
        sources, target = TRANSITIONS["expire"]
        expired = bulk_transition(
            SessionRequest, RequestEvent, link="request_id", ids=ids, sources=sources,
            target=target, now=now, why="not answered by the deadline", closed_at=now,
        )  # fmt: skip
        held = [credit for _, credit in rows if credit]
        Credit.objects.filter(pk__in=held, status=Credit.Status.HELD).update(
            status=Credit.Status.AVAILABLE
        )
        notify_later(emails.requests_expired, ids=ids)
        return expired

    return in_locked_batches(due, handle, batch=batch)


def requests_close_for_session(*, session: Session, by: User, now: datetime) -> int:
    """A cancelled session takes its open reschedule requests with it."""
    closed = 0
    for request in (
        SessionRequest.objects.select_for_update(of=("self",))
        .select_related("coach")
        .filter(target_session=session, status=Status.PENDING)
    ):
        _transition(request, "cancel", by=by, now=now, why="the session was cancelled")
        closed += 1
    return closed
