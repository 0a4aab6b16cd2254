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
from hse.clock import when
from hse.emails import notify_later
from hse.rules import listed
from hse.states import Machine
from hse.sweeps import in_locked_batches
from ledger import services as ledger
from ledger.models import Credit
from payments.models import Order
from payments.services import PaymentError, order_start
from requests_app import emails
from requests_app import series as series_plan
from requests_app.models import Proposal, RequestEvent, SeriesOccurrence, SessionRequest
from requests_app.policy import RequestPolicyError, response_deadline
from sessions_app import booking
from sessions_app import emails as session_emails
from sessions_app import services as sessions_services
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


def _transition(
    request: SessionRequest, action: str, *, by: User | None, now: datetime, why: str, **fields
):
    closed = {} if REQUEST.transitions[action][1] == Status.PENDING else {"closed_at": now}
    REQUEST.move(request, action, by=by, now=now, why=why, **closed, **fields)
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
    # A new series holds one credit per time. A series move names its sessions' credits,
    # which it never held: they are not its to free.
    if request.is_series and not request.is_reschedule:
        for occurrence in request.occurrences.select_related("credit"):
            ledger.credit_release(credit=occurrence.credit, by=by, now=now, why=why)


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
            if _move_proposed(target_session, now=now):
                raise RequestError("A new time for this session is already proposed.")
            skill = target_session.skill
            duration_minutes = duration_minutes or target_session.duration_minutes
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

        request = SessionRequest(
            coach=coach, client=client, target_session=target_session,
            duration_minutes=duration_minutes,
        )  # fmt: skip
        if target_session is not None and duration_minutes != target_session.duration_minutes:
            _check_exchange(request, duration=duration_minutes, by=by)
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


def _answer(
    action: str, request: SessionRequest, *, now: datetime, work, first=None
) -> SessionRequest:
    """Runs ``work`` on the locked request if ``action`` is still allowed; ``first`` takes
    the locks that must come before the request's."""
    with transaction.atomic():
        if first is not None:
            first(request)
        request = _open_locked(request, now=now)
        expired = request.status == Status.EXPIRED and request.closed_at == now
        if not expired and not REQUEST.allows(request.status, action):
            # Refused before any work: an accepted request must not book or pay again.
            raise RequestError(REQUEST.refused.format(state=REQUEST.label(request.status).lower()))
        if not expired:
            work(request)
    if expired:
        raise RequestExpired(
            "This request expired: it was not answered by its deadline. Propose a new time."
        )
    return request


def _paid_credit(request: SessionRequest) -> Credit | None:
    """The credit paying for the request's session: the one it holds, or its session's."""
    if request.credit_id:
        return request.credit
    if request.target_session_id:
        return request.target_session.credit
    return None


def _check_exchange(request: SessionRequest, *, duration: int, by: User) -> None:
    """A new length for a paid session: its credit is exchanged when the request is accepted
    and the client pays or gets back the difference then. A client asking for a longer one
    is told now when their wallet cannot pay for it."""
    credit = _paid_credit(request)
    if credit is None:
        if request.is_reschedule:
            raise RequestError("This session was not paid with a credit: its length is fixed.")
        return
    if refused := ledger.exchange_refused(credit):
        raise RequestError(refused)
    if by.pk == request.client_id:
        try:
            ledger.exchange_affordable(credit=credit, duration_minutes=duration)
        except ledger.InsufficientFunds as error:
            raise RequestError(str(error)) from None


def _exchange(request: SessionRequest, credit: Credit, *, by: User, now: datetime) -> Credit:
    """The credit of the request's length in place of ``credit`` (the same one if it fits)."""
    if credit.duration_minutes == request.duration_minutes:
        return credit
    return ledger.credit_exchange(
        credit=credit, duration_minutes=request.duration_minutes, by=by, now=now,
        why=f"request #{request.pk} changed the length",
    )  # fmt: skip


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
        if request.is_series:
            raise RequestError(
                "A weekly series is accepted or declined as one. Decline or cancel it, "
                "then set up the times again."
            )
        _transition(request, "adjust", by=by, now=now, why="new time proposed")
        duration = duration_minutes or request.duration_minutes
        if duration != request.duration_minutes:
            _check_exchange(request, duration=duration, by=by)
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

    refused: list[str] = []
    short: list[str] = []

    def work(request: SessionRequest) -> None:
        if by.pk != request.receiver_id():
            raise RequestError("Only the person the request was sent to can accept it.")
        if request.is_series:
            book = _move_series if request.is_reschedule else _book_series
            if reason := book(request, by=by, now=now):
                # Nothing was booked or moved; the request stays open and its sender is
                # told (on their own clock). The refusal is raised after the commit, so
                # that email is sent.
                refused.append(reason(by.zone))
                emails.series_not_booked(request=request, reason=reason(request.proposed_by.zone))
                return
            _transition(request, "accept", by=by, now=now, why="accepted", **_outcome(request))
            emails.request_accepted(request=request)
            return
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
        except ledger.InsufficientFunds as error:
            if by.pk == request.client_id:
                raise RequestError(str(error)) from None
            # The coach hears no figure from the client's wallet; the client is told what
            # to top up. Nothing moved; the request stays open (raised after the commit).
            client = request.client.display_name
            short.append(
                f"{client}’s wallet does not cover the longer session; they have been told."
            )
            emails.wallet_short(request=request, reason=str(error))
            return
        except (booking.BookingError, PaymentError, ledger.LedgerError) as error:
            raise RequestError(str(error)) from None
        _transition(request, "accept", by=by, now=now, why="accepted", **_outcome(request))
        emails.request_accepted(request=request)

    request = _answer("accept", request, now=now, work=work, first=_lock_moved_sessions)
    if short:
        raise RequestError(short[0])
    if refused:
        sender = request.proposed_by.display_name
        raise RequestError(f"{refused[0]} {sender} is told; the request stays open.")
    return request


def _lock_moved_sessions(request: SessionRequest) -> None:
    """Accepting new times locks the people, then the sessions moved, before the request: a
    cancellation locks its session, then its credit, then the requests moving it
    (``requests_close_for_session``), so both take the session first and queue there."""
    if request.target_session_id is None:
        return
    ids = [request.target_session_id]
    ids += SeriesOccurrence.objects.filter(
        request_id=request.pk, session__isnull=False
    ).values_list("session_id", flat=True)
    booking.people_lock(client=request.client, coach=request.coach)
    list(Session.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))


def _outcome(request: SessionRequest) -> dict:
    """What an acceptance made, stored with it: the session booked or moved, the credit
    that pays for it (exchanged when the length changed), the checkout started."""
    return {"session": request.session, "credit": request.credit, "order": request.order}


def _move_session(request: SessionRequest, *, by: User, now: datetime) -> Session:
    # The people, then the session, then (exchanging) its credit: the order of bookings
    # and of a cancellation (session, then credit), so none waits for the other in a circle.
    booking.people_lock(client=request.client, coach=request.coach)
    session = Session.objects.select_for_update().get(pk=request.target_session_id)
    credit = None
    if request.duration_minutes != session.duration_minutes:
        if session.credit_id is None:
            raise RequestError("This session was not paid with a credit: its length is fixed.")
        credit = _exchange(request, session.credit, by=by, now=now)
    return booking.session_reschedule(
        session=session, starts_at=request.starts_at, by=by, now=now,
        why=f"request #{request.pk}", duration_minutes=request.duration_minutes, credit=credit,
    )  # fmt: skip


def _book(request: SessionRequest, *, by: User, now: datetime, method: str) -> None:
    credit = request.credit
    if credit is not None:
        credit = _exchange(request, credit, by=by, now=now)
    else:
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


def _book_series(request: SessionRequest, *, by: User, now: datetime):
    """Books every occurrence of a series with its held credit, or none: each time is checked
    again under the client's and the coach's row locks. Returns None when all were booked,
    else why none was, as words for a reader's zone (naming the first time no longer free)."""
    occurrences = list(request.occurrences.select_related("credit").order_by("position"))
    current = None
    try:
        with transaction.atomic():
            booking.people_lock(client=request.client, coach=request.coach)
            for current in occurrences:
                current.session = booking.session_reserve(
                    coach=request.coach, client=request.client, skill=request.skill,
                    duration_minutes=request.duration_minutes, starts_at=current.starts_at,
                    now=now, credit=current.credit, by=by, agreed=True,
                )  # fmt: skip
                ledger.credit_schedule(
                    credit=current.credit, by=by, now=now, why=f"series request #{request.pk}"
                )
                current.save(update_fields=["session"])
                session_emails.booking_confirmation(session=current.session)
    except (booking.SlotTaken, IntegrityError):
        at, position, total = current.starts_at, current.position, len(occurrences)
        return lambda zone: (
            f"The session of {when(at, zone, now)} ({position} of {total}) is no longer "
            "free, so none of the series was booked."
        )
    except (booking.BookingError, ledger.LedgerError) as error:
        said = f"None of the series was booked: {error}"  # ``error`` ends with the clause
        return lambda zone: said
    request.session = occurrences[0].session
    return None


def _move_series(request: SessionRequest, *, by: User, now: datetime):
    """Moves every session of a series move to its new time, or none (as ``_book_series``).
    Moving later, the last goes first (and the first first when moving earlier), so a
    session never lands on the old time of one still to move."""
    occurrences = list(
        request.occurrences.select_related("session__coach__user", "session__client")
    )
    later = occurrences[0].starts_at > occurrences[0].session.starts_at
    occurrences.sort(key=lambda o: o.session.starts_at, reverse=later)
    current = None
    try:
        with transaction.atomic():
            booking.people_lock(client=request.client, coach=request.coach)
            for current in occurrences:
                booking.session_reschedule(
                    session=current.session, starts_at=current.starts_at, by=by, now=now,
                    why=f"series request #{request.pk}",
                )  # fmt: skip
    except (booking.SlotTaken, IntegrityError):
        at = current.starts_at
        return lambda zone: (
            f"{when(at, zone, now)} is no longer free, so none of the sessions was moved."
        )
    except booking.BookingError as error:
        said = f"None of the sessions was moved: {error}"  # ``error`` ends with the clause
        return lambda zone: said
    request.session = min(occurrences, key=lambda o: o.starts_at).session
    return None


def _move_proposed(session: Session, *, now: datetime) -> bool:
    """Whether an open request proposes a new time for ``session``, alone or in a series."""
    return (
        SessionRequest.objects.open_at(now).filter(target_session=session).exists()
        or SeriesOccurrence.objects.filter(
            session=session, request__status=Status.PENDING, request__deadline__gt=now
        ).exists()
    )


def series_later_sessions(*, session: Session, user: User, now: datetime) -> list[Session]:
    """``session`` and the later upcoming sessions of its weekly series, if ``user`` is one
    of its two people; [] otherwise."""
    occurrence = (
        SeriesOccurrence.objects.filter(session=session, request__status=Status.ACCEPTED)
        .filter(Q(client=user) | Q(coach__user=user))
        .order_by("request_id")  # the series that booked it, before any move of it
        .first()
    )
    if occurrence is None:
        return []
    return list(
        Session.objects.filter(
            series_occurrences__request_id=occurrence.request_id,
            series_occurrences__position__gte=occurrence.position,
            status=Session.Status.SCHEDULED,
            starts_at__gt=now,
        )
        .select_related("coach__user", "client", "skill", "credit")
        .order_by("starts_at")
    )


def series_move_propose(
    *, by: User, session: Session, starts_at: datetime, now: datetime
) -> SessionRequest:
    """Proposes new times for ``session`` and the later sessions of its series: the first
    to ``starts_at``, the others shifted alike on the coach's clock (``series.moved``). One
    request, accepted or declined as one by the other person; every time is checked here."""
    with transaction.atomic():
        sessions = series_later_sessions(session=session, user=by, now=now)
        if not sessions or sessions[0].pk != session.pk:
            raise RequestError("Only upcoming sessions of your weekly series can be moved.")
        # Every one of them (``exists()`` would lock only the first row it meets).
        list(
            Session.objects.select_for_update()
            .filter(pk__in=[s.pk for s in sessions])
            .order_by("pk")
            .values_list("pk")
        )
        if any(_move_proposed(each, now=now) for each in sessions):
            raise RequestError("A new time for one of these sessions is already proposed.")
        if any(each.credit_id is None for each in sessions):  # pragma: no cover (series pay)
            raise RequestError("These sessions cannot be moved together.")
        coach, client = session.coach, session.client
        duration = session.duration_minutes
        occurrences = series_plan.check(
            coach=coach, client=client, duration_minutes=duration, now=now,
            moving=[s.pk for s in sessions],
            occurrences=series_plan.moved(
                starts=[s.starts_at for s in sessions], to=starts_at,
                durations=[s.duration_minutes for s in sessions],
                coach_zone=coach.zone, client_zone=client.zone,
            ),
        )  # fmt: skip
        if bad := [o for o in occurrences if o.conflict]:
            raise RequestError(
                f"{len(bad)} of the new times cannot be booked ({bad[0].conflict}). "
                "Pick another time."
            )
        role = "coach" if by.pk == coach.user_id else "client"
        first = min(o.starts_at for o in occurrences)
        request = SessionRequest.objects.create(
            coach=coach, client=client, skill=session.skill, duration_minutes=duration,
            starts_at=first, ends_at=first + timedelta(minutes=duration), proposed_by=by,
            sent_at=now, deadline=_deadline(sent_at=now, starts_at=first, role=role),
            target_session=session, is_series=True, created_at=now,
        )  # fmt: skip
        SeriesOccurrence.objects.bulk_create(
            SeriesOccurrence(
                request=request,
                position=o.position,
                coach=coach,
                client=client,
                starts_at=o.starts_at,
                ends_at=o.ends_at,
                credit_id=each.credit_id,
                session=each,
            )
            for o, each in zip(occurrences, sessions, strict=True)
        )
        _record_proposal(request)
        REQUEST.record(request, "propose", by=by, now=now, why="new times for a weekly series")
        forget_pending_counts(request.client_id, request.coach.user_id)
        emails.request_received(request=request)
    return request


def series_propose(
    *, by: User, credit: Credit, starts: list[datetime], now: datetime
) -> SessionRequest:
    """A client's weekly series with one coach: one request, a held credit of the kind of
    ``credit`` for each time, accepted or declined as one. Every time is checked again here
    (the page's plan is not trusted); a time that is not free refuses the whole series."""
    if not starts:
        raise RequestError("Choose at least one time.")
    starts = sorted(starts)
    with transaction.atomic():
        credit = Credit.objects.select_related("coach__user", "skill").get(pk=credit.pk)
        if credit.client_id != by.pk:
            raise RequestError("Those sessions are not yours.")
        coach, skill, duration = credit.coach, credit.skill, credit.duration_minutes
        credits = list(
            Credit.objects.select_for_update()
            .filter(
                client=by,
                coach=coach,
                skill=skill,
                duration_minutes=duration,
                status=Credit.Status.AVAILABLE,
            )
            .order_by("created_at", "pk")[: len(starts) + 1]
        )
        if len(credits) < len(starts):
            raise RequestError(
                f"You have {len(credits)} free {duration}-minute {skill.name} sessions with "
                f"{coach.user.display_name}; the series needs {len(starts)}."
            )
        if not coach.teaches(skill):
            raise RequestError(f"{coach.user.display_name} does not coach {skill.name}.")
        occurrences = series_plan.check(
            coach=coach, client=by, duration_minutes=duration, now=now,
            occurrences=[
                series_plan.Occurrence(
                    position=position, starts_at=at, ends_at=at + timedelta(minutes=duration),
                    coach_day=at.date(),
                )
                for position, at in enumerate(starts, start=1)
            ],
        )  # fmt: skip
        if any(occurrence.conflict for occurrence in occurrences):
            raise RequestError(
                "Some of these times are no longer free. Check the series again and choose."
            )
        first = starts[0]
        request = SessionRequest.objects.create(
            coach=coach, client=by, skill=skill, duration_minutes=duration, starts_at=first,
            ends_at=first + timedelta(minutes=duration), proposed_by=by, sent_at=now,
            deadline=_deadline(sent_at=now, starts_at=first, role="client"), is_series=True,
            created_at=now,
        )  # fmt: skip
        SeriesOccurrence.objects.bulk_create(
            SeriesOccurrence(
                request=request,
                position=position,
                coach=coach,
                client=by,
                starts_at=at,
                ends_at=at + timedelta(minutes=duration),
                credit=held,
            )
            for position, (at, held) in enumerate(zip(starts, credits, strict=False), start=1)
        )
        for held in credits[: len(starts)]:
            ledger.credit_hold(credit=held, by=by, now=now, why=f"series request #{request.pk}")
        _record_proposal(request)
        REQUEST.record(request, "propose", by=by, now=now, why="weekly series proposed")
        forget_pending_counts(request.client_id, request.coach.user_id)
        emails.request_received(request=request)
    return request


def series_cancel_from(*, session: Session, by: User, now: datetime) -> list[Session]:
    """Cancels ``session`` and every later upcoming session of its weekly series, each as
    one cancellation by ``by`` (its credit comes back or is used by the usual rule)."""
    with transaction.atomic():
        # The series that booked it (a later accepted move of its sessions names them too).
        occurrence = (
            SeriesOccurrence.objects.select_related("request")
            .filter(session=session, request__status=Status.ACCEPTED)
            .filter(Q(client=by) | Q(coach__user=by))
            .order_by("request_id")
            .first()
        )
        if occurrence is None:
            raise RequestError("This session is not part of a weekly series of yours.")
        later = (
            Session.objects.filter(
                series_occurrences__request=occurrence.request,
                series_occurrences__position__gte=occurrence.position,
                status=Session.Status.SCHEDULED,
                starts_at__gt=now,
            )
            .select_related("coach__user", "client", "credit")
            .order_by("starts_at")
        )
        cancelled = []
        for each in later:
            try:
                cancelled.append(sessions_services.session_cancel(session=each, by=by, now=now))
            except booking.BookingError as error:
                raise RequestError(str(error)) from None
    return cancelled


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
        held = [credit for pk, credit in rows if credit and pk in moved]
        # A new weekly series holds one credit per time; a series move holds none.
        held += SeriesOccurrence.objects.filter(
            request_id__in=moved, request__target_session__isnull=True
        ).values_list("credit_id", flat=True)
        ledger.credits_release_many(ids=held, now=now, why=why)
        notify_later(emails.requests_expired, ids=expired)
        return len(expired)

    return in_locked_batches(due, handle, batch=batch)


def requests_close_for_session(*, session: Session, by: User, now: datetime) -> int:
    """A cancelled session takes its open reschedule requests with it, a series move that
    includes it too (``sessions_app.signals.session_cancelled``)."""
    closed = 0
    for request in (
        SessionRequest.objects.select_for_update(of=("self",))
        .select_related("coach")
        .filter(
            Q(target_session=session)
            | Q(pk__in=SeriesOccurrence.objects.filter(session=session).values("request_id")),
            status=Status.PENDING,
        )
        .order_by("pk")
    ):
        _transition(request, "cancel", by=by, now=now, why="the session was cancelled")
        closed += 1
    return closed
