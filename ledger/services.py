"""The ledger: the only code that writes wallets, credits and coaches' earnings.

- A **wallet** is its entries: each adds money or takes it, once per idempotency key, and
  the running balance can never go negative (the database refuses it too).
- A **credit** is one paid session. Its state moves only by the transitions declared in
  ``CREDIT``, each logged as a ``CreditEvent``; a credit *used* earns its coach.
- **Earnings** are entries too: a used credit earns its price minus the platform fee
  (``HSE_PLATFORM_FEE_PERCENT``), and a refund of a used credit reverses that, once each.
  A payout takes its amount off the coach's balance (the sum of their entries) and one that
  did not reach the coach puts it back, once each; entries of one coach that touch payouts
  are written one at a time under a lock on the coach's row, so no two payouts overdraw.

Callers hold their own transaction; every function here locks the rows it changes."""

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum

from coaching.models import CoachProfile
from hse.money import format_money
from hse.states import Machine
from ledger.models import Credit, CreditEvent, EarningEntry, WalletEntry

S = Credit.Status
# The most a wallet may hold, in minor units: the largest its running balance column stores.
WALLET_MOST = 2**31 - 1


class LedgerError(Exception):
    """A ledger rule was broken; the message is for people."""


class InsufficientFunds(LedgerError):
    pass


# The credit's machine: action -> (states it may start from, state it leads to).
CREDIT = Machine(
    transitions={
        "hold": ((S.AVAILABLE,), S.HELD),  # a client's session request holds it
        "release": ((S.HELD,), S.AVAILABLE),  # that request was rejected, cancelled, expired
        "schedule": ((S.AVAILABLE, S.HELD), S.SCHEDULED),  # a session booked with it
        "give_back": ((S.SCHEDULED,), S.AVAILABLE),  # its session cancelled in time
        "use": ((S.SCHEDULED,), S.USED),  # its session took place (or was cancelled late)
        "refund": ((S.AVAILABLE, S.HELD, S.SCHEDULED, S.USED), S.REFUNDED),
        # Unused at its expiry (the sweep), or its package ended by the client: the price
        # goes back to the wallet in the same transaction. A held or scheduled credit is
        # not unused: it expires only once given back, and is never ended under a request.
        "expire": ((S.AVAILABLE,), S.EXPIRED),
        "end": ((S.AVAILABLE,), S.ENDED),
        # A request changed the session's length: a credit of the new length replaces it,
        # the price difference moving through the wallet in the same transaction.
        "exchange": ((S.AVAILABLE, S.HELD, S.SCHEDULED), S.EXCHANGED),
    },
    event=CreditEvent,
    link="credit",
    error=LedgerError,
    refused="This credit is {state}.",
)


# --- Wallet --------------------------------------------------------------------------------


def wallet_balance(*, user) -> int:
    """The balance is the running total of the newest entry, which equals the sum of all."""
    newest = (
        WalletEntry.objects.filter(user=user)
        .order_by("-id")
        .values_list("balance_after", flat=True)
        .first()
    )
    return newest or 0


def wallet_post(
    *,
    user,
    amount: int,
    reason: str,
    key: str,
    now: datetime,
    order=None,
    top_up=None,
    refund=None,
    note: str = "",
) -> WalletEntry:
    """Adds one entry, once per ``key``: a second call with the key returns the first
    entry. Entries of one user are written one at a time: the user's row is locked first,
    so concurrent debits queue up and each sees the balance the previous one left. A
    refused debit raises InsufficientFunds and leaves the caller's transaction usable."""
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
        existing = WalletEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        balance = wallet_balance(user=user)
        if balance + amount > WALLET_MOST:
            raise LedgerError("That is more than a wallet holds; it was not added.")
        if balance + amount < 0:
            raise InsufficientFunds(
                f"Your wallet has {format_money(balance, settings.HSE_CURRENCY)}; this needs "
                f"{format_money(-amount, settings.HSE_CURRENCY)}. Top it up or pay by card."
            )
        return WalletEntry.objects.create(
            user=user,
            amount=amount,
            currency=settings.HSE_CURRENCY,
            balance_after=balance + amount,
            reason=reason,
            idempotency_key=key,
            order=order,
            top_up=top_up,
            refund=refund,
            note=note,
            created_at=now,
        )


def wallet_adjust(*, user, amount: int, note: str, by, key: str, now: datetime) -> WalletEntry:
    """An admin's correction, with a reason; refused if it would overdraw the wallet."""
    if not note.strip():
        raise LedgerError("Say why the wallet is adjusted.")
    return wallet_post(
        user=user,
        amount=amount,
        reason=WalletEntry.Reason.ADJUSTMENT,
        key=f"adjust-{key}",
        note=f"{note.strip()} (by {by.email})",
        now=now,
    )


# --- Credits -------------------------------------------------------------------------------


def credits_issue(*, order, now: datetime, scheduled: bool = False) -> list[Credit]:
    """The credits a paid order bought: one per session, at the order's unit price.
    ``scheduled``: the single session they pay for is booked already (its held slot)."""
    status = S.SCHEDULED if scheduled else S.AVAILABLE
    expires_at = valid_until(now)
    credits = Credit.objects.bulk_create(
        Credit(
            order=order,
            client_id=order.client_id,
            coach_id=order.coach_id,
            skill_id=order.skill_id,
            duration_minutes=order.duration_minutes,
            price_paid=order.unit_price,
            currency=order.currency,
            status=status,
            expires_at=expires_at,
        )
        for _ in range(order.quantity)
    )
    CreditEvent.objects.bulk_create(
        CreditEvent(
            credit=credit,
            at=now,
            to_status=credit.status,
            action="issue",
            why=f"paid by order #{order.pk}",
        )
        for credit in credits
    )
    return credits


def _locked(credit: Credit) -> Credit:
    return Credit.objects.select_for_update().get(pk=credit.pk)


def _move(credit: Credit, action: str, *, by, now: datetime, why: str) -> Credit:
    """Locks the credit, moves it, and brings the caller's copy up to date."""
    locked = _locked(credit)
    CREDIT.move(locked, action, by=by, now=now, why=why)
    credit.status = credit._stored_state = locked.status
    return locked


def credit_hold(*, credit: Credit, by, now: datetime, why: str) -> Credit:
    return _move(credit, "hold", by=by, now=now, why=why)


def _grace_until(now: datetime) -> datetime:
    return now + timedelta(days=settings.HSE_CREDIT_GIVEN_BACK_DAYS)


def _give_grace(ids: list[int], *, now: datetime) -> None:
    """A credit that becomes available again close to (or after) its expiry must not cost
    the client the credit: it gets HSE_CREDIT_GIVEN_BACK_DAYS to be scheduled again."""
    grace = _grace_until(now)
    Credit.objects.filter(pk__in=ids, expires_at__lt=grace).update(
        expires_at=grace, expiry_reminded=None
    )


def credit_release(*, credit: Credit, by, now: datetime, why: str) -> bool:
    """The request that held the credit closed; False if it was not held (any more)."""
    locked = _locked(credit)
    if locked.status != S.HELD:
        return False
    _move(credit, "release", by=by, now=now, why=why)
    _give_grace([locked.pk], now=now)
    if credit.expires_at is not None and credit.expires_at < _grace_until(now):
        credit.expires_at = _grace_until(now)
    return True


def credits_release_many(*, ids: list[int], now: datetime, why: str) -> list[int]:
    """The sweep's bulk ``credit_release``: the held ones among ``ids`` become available."""
    locked = Credit.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True)
    released = CREDIT.move_many(list(locked), "release", now=now, why=why)
    _give_grace(released, now=now)
    return released


def credit_schedule(*, credit: Credit, by, now: datetime, why: str) -> Credit:
    return _move(credit, "schedule", by=by, now=now, why=why)


def credit_give_back(*, credit: Credit, by, now: datetime, why: str) -> bool:
    """The client may schedule it again; False if it was already available."""
    locked = _locked(credit)
    if locked.status == S.AVAILABLE:
        return False
    _move(credit, "give_back", by=by, now=now, why=why)
    _give_grace([locked.pk], now=now)
    if credit.expires_at is not None and credit.expires_at < _grace_until(now):
        credit.expires_at = _grace_until(now)
    return True


def credit_use(*, credit: Credit, session_id: int | None, by, now: datetime, why: str) -> bool:
    """The credit's session counts as held: it is used and earns the coach, once. False if
    it was used already."""
    locked = _locked(credit)
    if locked.status == S.USED:
        return False
    _move(credit, "use", by=by, now=now, why=why)
    _earn(locked, session_id=session_id, now=now, why=why)
    return True


def credits_use_many(*, sessions: dict[int, int], now: datetime, why: str) -> list[int]:
    """The sweep's bulk ``credit_use``: ``sessions`` maps each credit to its session."""
    locked = Credit.objects.select_for_update().filter(pk__in=list(sessions))
    used = CREDIT.move_many(list(locked.values_list("pk", flat=True)), "use", now=now, why=why)
    EarningEntry.objects.bulk_create(
        _earning(credit, session_id=sessions[credit.pk], now=now, why=why)
        for credit in Credit.objects.filter(pk__in=used)
    )
    return used


def credit_refund(*, credit: Credit, by, now: datetime, why: str) -> Credit:
    """The credit's money goes back to the client (the caller moves it); what its coach
    earned for it, if anything, is taken back."""
    locked = _move(credit, "refund", by=by, now=now, why=why)
    earned = EarningEntry.objects.filter(credit=locked, kind=EarningEntry.Kind.EARNED).first()
    if earned is not None:
        EarningEntry.objects.get_or_create(
            idempotency_key=f"credit-{locked.pk}-reversed",
            defaults={
                "coach_id": earned.coach_id, "credit": locked, "session_id": earned.session_id,
                "kind": EarningEntry.Kind.REVERSED, "gross": -earned.gross, "fee": -earned.fee,
                "amount": -earned.amount, "currency": earned.currency, "why": why,
                "created_at": now,
            },
        )  # fmt: skip
    return locked


# --- A session's length changed -------------------------------------------------------------


def exchange_price(*, credit: Credit, duration_minutes: int) -> int:
    """What a credit of ``duration_minutes`` costs in exchange for ``credit``: its own price
    per minute (any package discount kept), rounded half up to the minor unit."""
    share = Decimal(credit.price_paid) * duration_minutes / credit.duration_minutes
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _short(credit: Credit, duration_minutes: int, more: int, balance: int) -> str:
    currency = credit.currency
    return (
        f"{duration_minutes} minutes cost {format_money(more, currency)} more than the "
        f"{credit.duration_minutes} paid for, and the wallet has "
        f"{format_money(balance, currency)}: top it up by at least "
        f"{format_money(more - balance, currency)} first."
    )


def exchange_refused(credit: Credit) -> str:
    """Why ``credit`` keeps its length ("" when it may be exchanged): a trial's price (free
    or the coach's trial price) is no price per minute for a longer session."""
    if credit.price_paid <= 0 or credit.order.is_trial:
        return (
            "A trial session keeps its length; a session of another length is booked with "
            "a regular credit."
        )
    return ""


def exchange_affordable(*, credit: Credit, duration_minutes: int) -> None:
    """Raises InsufficientFunds (saying how much to top up) when the client's wallet cannot
    pay for exchanging ``credit`` to ``duration_minutes`` now, LedgerError when the credit
    keeps its length. A read: the exchange itself checks again under its locks."""
    if refused := exchange_refused(credit):
        raise LedgerError(refused)
    more = exchange_price(credit=credit, duration_minutes=duration_minutes) - credit.price_paid
    balance = wallet_balance(user=credit.client)
    if more > balance:
        raise InsufficientFunds(_short(credit, duration_minutes, more, balance))


def credit_exchange(
    *, credit: Credit, duration_minutes: int, by, now: datetime, why: str
) -> Credit:
    """Replaces ``credit`` by one of ``duration_minutes`` in the same state (held by the same
    request, or scheduled for the same session), and moves the price difference through the
    client's wallet once: paid from it (refused with what to top up when short) or refunded
    to it. Both prices come from the credit's row, read under its lock. Returns the new
    credit; the caller points its request or session at it."""
    with transaction.atomic():
        old = _locked(credit)
        if old.duration_minutes == duration_minutes:
            return old
        if refused := exchange_refused(old):
            raise LedgerError(refused)
        price = exchange_price(credit=old, duration_minutes=duration_minutes)
        more = price - old.price_paid
        if more:
            try:
                wallet_post(
                    user=old.client, amount=-more, reason=WalletEntry.Reason.EXCHANGE,
                    key=f"credit-{old.pk}-exchange", now=now, order=old.order,
                    note=f"{old.duration_minutes} to {duration_minutes} minutes (credit #{old.pk})",
                )  # fmt: skip
            except InsufficientFunds:
                raise InsufficientFunds(
                    _short(old, duration_minutes, more, wallet_balance(user=old.client))
                ) from None
        new = Credit.objects.create(
            order=old.order, client_id=old.client_id, coach_id=old.coach_id,
            skill_id=old.skill_id, duration_minutes=duration_minutes, price_paid=price,
            currency=old.currency, status=old.status, expires_at=old.expires_at,
        )  # fmt: skip
        CreditEvent.objects.create(
            credit=new, at=now, by=by, to_status=new.status, action="issue",
            why=f"exchanged for credit #{old.pk}: {why}"[:200],
        )  # fmt: skip
        _move(credit, "exchange", by=by, now=now, why=f"for credit #{new.pk}: {why}"[:200])
        return new


# --- Validity: expiry, ending a package, extension -----------------------------------------


def valid_until(bought_at: datetime) -> datetime:
    """A credit bought at ``bought_at`` may be scheduled until the same wall time
    HSE_PACKAGE_VALIDITY_MONTHS later (the last day of a shorter month)."""
    return bought_at + relativedelta(months=settings.HSE_PACKAGE_VALIDITY_MONTHS)


def _return_unused(ids: list[int], *, action: str, now: datetime, why: str) -> int:
    """The price of each credit ``ids`` (just moved by ``action``) goes back to its client's
    wallet: one entry per client and order, keyed by the first credit it returns, which can
    move only once, so each credit's money moves exactly once. Free credits (a free trial)
    return nothing. Returns the amount returned."""
    groups: dict[tuple[int, int], list[Credit]] = {}
    for credit in (
        Credit.objects.filter(pk__in=ids).select_related("client", "order").order_by("pk")
    ):
        groups.setdefault((credit.client_id, credit.order_id), []).append(credit)
    returned = 0
    for credits in groups.values():
        amount = sum(credit.price_paid for credit in credits)
        if amount == 0:
            continue
        wallet_post(
            user=credits[0].client, amount=amount, reason=WalletEntry.Reason.UNUSED,
            key=f"credit-{credits[0].pk}-{action}", order=credits[0].order, now=now,
            note=f"{len(credits)} unused session(s) {why}"[:200],
        )  # fmt: skip
        returned += amount
    return returned


# A package whose client asked for more time before it expired waits for the coach's
# answer (payments.PackageExtension, "pending"): an accepted extension must still find the
# credits unused, so the expiry sweep leaves them alone until the coach answers.
WAITING_FOR_EXTENSION = {"order__extensions__status": "pending"}


def credits_expire_many(*, ids: list[int], now: datetime) -> list[int]:
    """The sweep: the unused credits among ``ids`` (locked by the caller) whose expiry has
    come are expired and their price goes back to the wallet. Returns the ids expired."""
    due = list(
        Credit.objects.filter(pk__in=ids, status=S.AVAILABLE, expires_at__lte=now)
        .exclude(**WAITING_FOR_EXTENSION)
        .values_list("pk", flat=True)
    )
    why = "expired unused"
    expired = CREDIT.move_many(due, "expire", now=now, why=why)
    _return_unused(expired, action="expire", now=now, why=why)
    return expired


def package_end(*, order, by, now: datetime) -> tuple[int, int]:
    """The client ends the package bought by ``order``: its unused credits are ended and
    their price goes back to the wallet, once. Held and scheduled credits stay as they are.
    Returns (credits ended, amount returned)."""
    with transaction.atomic():
        ids = list(
            Credit.objects.select_for_update()
            .filter(order=order, status=S.AVAILABLE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        why = f"package of order #{order.pk} ended by the client"
        ended = CREDIT.move_many(ids, "end", by=by, now=now, why=why)
        return len(ended), _return_unused(ended, action="end", now=now, why="returned")


def package_extend(*, order, months: int, by, now: datetime) -> datetime | None:
    """The coach extends the package of ``order``: each of its credits still to be used
    (unused, held or scheduled) may be scheduled ``months`` longer than it could, and is
    reminded again before its new expiry. None when nothing was left to extend."""
    with transaction.atomic():
        live = Credit.objects.select_for_update().filter(
            order=order, status__in=(S.AVAILABLE, S.HELD, S.SCHEDULED), expires_at__isnull=False
        )
        rows = list(live.order_by("pk"))
        if not rows:
            return None
        until = max(max(credit.expires_at for credit in rows), now) + relativedelta(months=months)
        CreditEvent.objects.bulk_create(
            CreditEvent(
                credit=credit, at=now, by=by, from_status=credit.status, to_status=credit.status,
                action="extend", why=f"valid {months} month(s) longer",
            )
            for credit in rows
        )  # fmt: skip
        Credit.objects.filter(pk__in=[credit.pk for credit in rows]).update(
            expires_at=until, expiry_reminded=None
        )
        return until


def credits_mark_reminded(*, ids: list[int], days: int) -> None:
    """The expiry reminder ``days`` before was sent for credits ``ids``."""
    Credit.objects.filter(pk__in=ids).update(expiry_reminded=days)


# --- Earnings ------------------------------------------------------------------------------


def platform_fee(gross: int) -> int:
    """The platform's share of ``gross``, rounded half up to the minor unit."""
    share = Decimal(gross) * Decimal(str(settings.HSE_PLATFORM_FEE_PERCENT)) / 100
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _earning(credit: Credit, *, session_id: int | None, now: datetime, why: str) -> EarningEntry:
    fee = platform_fee(credit.price_paid)
    return EarningEntry(
        coach_id=credit.coach_id, credit=credit, session_id=session_id,
        kind=EarningEntry.Kind.EARNED, gross=credit.price_paid, fee=fee,
        amount=credit.price_paid - fee, currency=credit.currency, why=why,
        idempotency_key=f"credit-{credit.pk}-earned", created_at=now,
    )  # fmt: skip


def _earn(credit: Credit, *, session_id: int | None, now: datetime, why: str) -> None:
    entry = _earning(credit, session_id=session_id, now=now, why=why)
    if not EarningEntry.objects.filter(idempotency_key=entry.idempotency_key).exists():
        entry.save()


# --- Payouts -------------------------------------------------------------------------------


def earnings_balance(*, coach) -> int:
    """The coach's balance: the sum of their entries. Negative when a refund came after the
    money was paid out; the next payouts absorb it."""
    total = EarningEntry.objects.filter(coach=coach).aggregate(total=Sum("amount"))["total"]
    return total or 0


def earnings_lock(*, coach) -> int:
    """Locks the coach's row for the caller's transaction and returns the balance it
    guards: payouts of one coach queue here, each seeing what the previous one left."""
    CoachProfile.objects.select_for_update().filter(pk=coach.pk).exists()
    return earnings_balance(coach=coach)


def _payout_key(payout) -> str:
    return f"payout-{payout.pk}-{payout.attempt}"


def payout_debit(*, payout, now: datetime) -> EarningEntry:
    """Takes one attempt of ``payout`` off its coach's balance, once per attempt; refused
    (InsufficientFunds) beyond what the balance holds."""
    with transaction.atomic():
        balance = earnings_lock(coach=payout.coach)
        existing = EarningEntry.objects.filter(idempotency_key=_payout_key(payout)).first()
        if existing is not None:
            return existing
        if payout.amount > balance:
            raise InsufficientFunds(
                f"You can be paid out up to {format_money(max(balance, 0), payout.currency)} now; "
                f"{format_money(payout.amount, payout.currency)} is more than that."
            )
        return EarningEntry.objects.create(
            coach_id=payout.coach_id, payout=payout, kind=EarningEntry.Kind.PAYOUT,
            gross=-payout.amount, fee=0, amount=-payout.amount, currency=payout.currency,
            why=f"payout #{payout.pk}", idempotency_key=_payout_key(payout), created_at=now,
        )  # fmt: skip


def payout_return(*, payout, now: datetime, why: str) -> bool:
    """The current attempt of ``payout`` did not reach the coach: its amount goes back on
    the balance, once. False when there was nothing to put back (never taken, or back)."""
    with transaction.atomic():
        earnings_lock(coach=payout.coach)
        taken = EarningEntry.objects.filter(idempotency_key=_payout_key(payout)).first()
        key = f"{_payout_key(payout)}-returned"
        if taken is None or EarningEntry.objects.filter(idempotency_key=key).exists():
            return False
        # What partial reversals already put back is not put back twice.
        back = -taken.amount - _reversals_returned(payout)
        if back <= 0:
            return False
        EarningEntry.objects.create(
            coach_id=payout.coach_id, payout=payout, kind=EarningEntry.Kind.RETURNED,
            gross=back, fee=0, amount=back, currency=taken.currency,
            why=why[:200], idempotency_key=key, created_at=now,
        )  # fmt: skip
        return True


def _reversals_returned(payout) -> int:
    return (
        EarningEntry.objects.filter(
            payout=payout, idempotency_key__startswith=f"{_payout_key(payout)}-reversal-"
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def payout_reversal_return(*, payout, reversal_id: str, amount: int, now: datetime) -> bool:
    """Stripe took back part of the current attempt's transfer (one reversal): that amount
    goes back on the balance, once per reversal, and never more in all than was taken off.
    False when it was back already or does not fit."""
    with transaction.atomic():
        earnings_lock(coach=payout.coach)
        taken = EarningEntry.objects.filter(idempotency_key=_payout_key(payout)).first()
        key = f"{_payout_key(payout)}-reversal-{reversal_id}"[:120]
        if taken is None or EarningEntry.objects.filter(idempotency_key=key).exists():
            return False
        if amount <= 0 or _reversals_returned(payout) + amount > -taken.amount:
            return False
        EarningEntry.objects.create(
            coach_id=payout.coach_id, payout=payout, kind=EarningEntry.Kind.RETURNED,
            gross=amount, fee=0, amount=amount, currency=taken.currency,
            why=f"payout #{payout.pk}: {reversal_id} taken back by Stripe"[:200],
            idempotency_key=key, created_at=now,
        )  # fmt: skip
        return True
