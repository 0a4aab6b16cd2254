"""The ledger: the only code that writes wallets, credits and coaches' earnings.

- A **wallet** is its entries: each adds money or takes it, once per idempotency key, and
  the running balance can never go negative (the database refuses it too).
- A **credit** is one paid session. Its state moves only by the transitions declared in
  ``CREDIT``, each logged as a ``CreditEvent``; a credit *used* earns its coach.
- **Earnings** are entries too: a used credit earns its price minus the platform fee
  (``HSE_PLATFORM_FEE_PERCENT``), and a refund of a used credit reverses that, once each.

Callers hold their own transaction; every function here locks the rows it changes."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

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


def credit_release(*, credit: Credit, by, now: datetime, why: str) -> bool:
    """The request that held the credit closed; False if it was not held (any more)."""
    locked = _locked(credit)
    if locked.status != S.HELD:
        return False
    _move(credit, "release", by=by, now=now, why=why)
    return True


def credits_release_many(*, ids: list[int], now: datetime, why: str) -> list[int]:
    """The sweep's bulk ``credit_release``: the held ones among ``ids`` become available."""
    locked = Credit.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True)
    return CREDIT.move_many(list(locked), "release", now=now, why=why)


def credit_schedule(*, credit: Credit, by, now: datetime, why: str) -> Credit:
    return _move(credit, "schedule", by=by, now=now, why=why)


def credit_give_back(*, credit: Credit, by, now: datetime, why: str) -> bool:
    """The client may schedule it again; False if it was already available."""
    locked = _locked(credit)
    if locked.status == S.AVAILABLE:
        return False
    _move(credit, "give_back", by=by, now=now, why=why)
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
