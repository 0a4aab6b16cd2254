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
from hse.bounds import beyond_horizon
from hse.emails import notify_later
from hse.rules import listed
from hse.states import Machine
from hse.sweeps import in_locked_batches
from ledger import services as ledger
from ledger.models import Credit
from payments.models import Order
from payments.services import PaymentError, order_start
from requests_app import emails
from requests_app.models import Proposal, RequestEvent, SessionRequest
from requests_app.policy import RequestPolicyError, response_deadline
from sessions_app import booking
from sessions_app import emails as session_emails
from sessions_app.models import Session
from sessions_app.selectors import forget_pending_counts

Status = SessionRequest.Status


class RequestError(Exception):
    """A request rule was broken; the message is for people."""


# The request's machine: action -> (states it may start from, state it leads to).
REQUEST = Machine(
    transitions={
        "adjust": ((Status.PENDING,), Status.PENDING),
        "accept": ((Status.PENDING,), Status.ACCEPTED),
        "reject": ((Status.PENDING,), Status.REJECTED),
        "cancel": ((Status.PENDING,), Status.CANCELLED),
        "expire": ((Status.PENDING,), Status.EXPIRED),
    },
    event=RequestEvent,
    link="request",
    error=RequestError,
    refused="This request is already {state}.",
)


class RequestExpired(RequestError):
    pass


def role_of(user: User, request: SessionRequest) -> str:
    if user.pk == request.client_id:
        return "client"
    if user.pk == request.coach.user_id:
        return "coach"
    raise RequestError("This request is not yours.")


def _transition(request: SessionRequest, action: str, *, by: User | None, now: datetime, why: str):
    closed = {} if REQUEST.transitions[action][1] == Status.PENDING else {"closed_at": now}
    REQUEST.move(request, action, by=by, now=now, why=why, **closed)
    forget_pending_counts(request.client_id, request.coach.user_id)


def _lock(request: SessionRequest) -> SessionRequest:
    return (
        SessionRequest.objects.select_for_update(of=("self",))
        .select_related("coach__user", "client", "skill", "credit", "target_session")
        .get(pk=request.pk)
    )


def _release_credit(request: SessionRequest, *, by: User | None, now: datetime, why: str):
    if request.credit_id:
        ledger.credit_release(credit=request.credit, by=by, now=now, why=why)


def _expire_locked(request: SessionRequest, *, now: datetime) -> None:
    why = "not answered by the deadline"
    _transition(request, "expire", by=None, now=now, why=why)
    _release_credit(request, by=None, now=now, why=f"request #{request.pk} {why}")
    emails.request_expired(request=request)


# --- Who may propose to whom -----------------------------------------------------------------


def clients_of_coach(*, coach: CoachProfile):
    """Clients who have had or bought sessions with this coach."""
    bought = Order.objects.filter(coach=coach, client=OuterRef("pk"), status=Order.Status.PAID)
    had = Session.objects.filter(coach=coach, client=OuterRef("pk")).exclude(
        status__in=Session.FREE_STATUSES
    )
    return User.objects.filter(Q(Exists(bought)) | Q(Exists(had))).order_by("display_name")


# --- Propose and adjust ----------------------------------------------------------------------


def _check_time(*, starts_at: datetime, duration_minutes: int, now: datetime) -> None:
    if too_far := beyond_horizon(starts_at, now):
        raise RequestError(too_far)
    if duration_minutes not in settings.HSE_SESSION_DURATIONS:
        raise RequestError(f"Sessions last {listed(settings.HSE_SESSION_DURATIONS)} minutes.")
    grid = settings.HSE_SLOT_GRID_MINUTES
    if starts_at.second or starts_at.microsecond or starts_at.minute % grid:
        raise RequestError(f"Pick a start on the {grid}-minute grid (e.g. 14:00, 14:15).")


def _deadline(*, sent_at: datetime, starts_at: datetime, role: str) -> datetime:
    try:
        return response_deadline(sent_at=sent_at, start=starts_at, sender_role=role)
    except RequestPolicyError as error:
        raise RequestError(str(error)) from None


def _check_free(*, coach, client, starts_at, duration_minutes, now, ignore) -> None:
    try:
        booking.proposal_check(
            coach=coach, client=client, starts_at=starts_at, duration_minutes=duration_minutes,
            now=now, ignore=ignore,
        )  # fmt: skip
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

        _check_time(starts_at=starts_at, duration_minutes=duration_minutes, now=now)
        deadline = _deadline(sent_at=now, starts_at=starts_at, role=role)
        _check_free(
            coach=coach, client=client, starts_at=starts_at, duration_minutes=duration_minutes,
            now=now, ignore={"sessions": target_session.pk} if target_session else {},
        )  # fmt: skip

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
            ledger.credit_hold(credit=credit, by=by, now=now, why=f"request #{request.pk}")
        _record_proposal(request)
        REQUEST.record(
            request, "propose", by=by, now=now,
            why="reschedule proposed" if target_session else "proposed",
        )  # fmt: skip
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
        _check_time(starts_at=starts_at, duration_minutes=duration, now=now)
        deadline = _deadline(sent_at=now, starts_at=starts_at, role=role)
        ignore = {"requests": request.pk}
        if request.target_session_id:
            ignore["sessions"] = request.target_session_id
        _check_free(
            coach=request.coach, client=request.client, starts_at=starts_at,
            duration_minutes=duration, now=now, ignore=ignore,
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
        except (booking.BookingError, PaymentError, ledger.LedgerError) as error:
            raise RequestError(str(error)) from None
        _transition(request, "accept", by=by, now=now, why="accepted")
        emails.request_accepted(request=request)

    return _answer("accept", request, now=now, work=work)


def _move_session(request: SessionRequest, *, by: User, now: datetime) -> Session:
    return booking.session_reschedule(
        session=request.target_session, starts_at=request.starts_at, by=by, now=now,
        why=f"request #{request.pk}",
    )  # fmt: skip


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
            coach=request.coach, client=request.client, skill=request.skill,
            duration_minutes=request.duration_minutes, starts_at=request.starts_at, now=now,
            credit=credit, by=by, agreed=True,
        )  # fmt: skip
        ledger.credit_schedule(credit=credit, by=by, now=now, why=f"request #{request.pk}")
        request.credit = credit
        session_emails.booking_confirmation(session=request.session)
        return
    if by.pk != request.client_id:
        # Only the client may start (and pay for) a purchase of their own.
        raise RequestError(
            f"{request.client.display_name} has no free session of this kind: they accept "
            "it themselves and pay for it."
        )
    # A wallet order is paid in the same transaction as the acceptance: a short wallet
    # undoes both.
    request.order = order_start(
        client=request.client, coach=request.coach, skill=request.skill,
        duration_minutes=request.duration_minutes, quantity=1, method=method,
        starts_at=request.starts_at, now=now, agreed=True,
    )  # fmt: skip


def request_reject(*, request: SessionRequest, by: User, now: datetime) -> SessionRequest:
    def work(request: SessionRequest) -> None:
        if by.pk != request.receiver_id():
            raise RequestError("Only the person the request was sent to can reject it.")
        _transition(request, "reject", by=by, now=now, why="rejected")
        _release_credit(request, by=by, now=now, why=f"request #{request.pk} rejected")
        emails.request_rejected(request=request)

    return _answer("reject", request, now=now, work=work)


def request_cancel(*, request: SessionRequest, by: User, now: datetime) -> SessionRequest:
    def work(request: SessionRequest) -> None:
        if by.pk != request.proposed_by_id:
            raise RequestError("Only the person who sent the request can cancel it.")
        _transition(request, "cancel", by=by, now=now, why="cancelled by the sender")
        _release_credit(request, by=by, now=now, why=f"request #{request.pk} cancelled")
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
        why = "not answered by the deadline"
        expired = REQUEST.move_many(
            [pk for pk, _ in rows], "expire", now=now, why=why, closed_at=now
        )
        moved = set(expired)
        ledger.credits_release_many(
            ids=[credit for pk, credit in rows if credit and pk in moved], now=now, why=why
        )
        notify_later(emails.requests_expired, ids=expired)
        return len(expired)

    return in_locked_batches(due, handle, batch=batch)


def requests_close_for_session(*, session: Session, by: User, now: datetime) -> int:
    """A cancelled session takes its open reschedule requests with it
    (``sessions_app.signals.session_cancelled``)."""
    closed = 0
    for request in (
        SessionRequest.objects.select_for_update(of=("self",))
        .select_related("coach")
        .filter(target_session=session, status=Status.PENDING)
    ):
        _transition(request, "cancel", by=by, now=now, why="the session was cancelled")
        closed += 1
    return closed
