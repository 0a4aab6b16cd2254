"""The refund desk: admins' decisions on reports and on payments held for review, and the
refunds they make.

A refund to the wallet moves money in the decision's own transaction. A refund to the card
is recorded as requested there, and sent to Stripe by a task once the decision commits (a
decision rolled back sends nothing); the task records Stripe's answer. A failed one stays
owed, listed for the admins, until one of them retries it. The client is emailed when the
money has actually moved."""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from hse.states import Machine
from ledger import services as ledger
from ledger.models import Credit, WalletEntry
from payments import emails, services, stripe_gateway
from payments.models import Order, Refund, RefundEvent, TopUp
from payments.services import PaymentError
from sessions_app import services as lifecycle
from sessions_app.models import Report

log = logging.getLogger(__name__)

R = Refund.Status

REFUND = Machine(
    transitions={
        "credit_wallet": ((R.REQUESTED,), R.SUCCEEDED),
        "send": ((R.REQUESTED,), R.SENT),
        "succeed": ((R.REQUESTED, R.SENT), R.SUCCEEDED),
        "fail": ((R.REQUESTED, R.SENT), R.FAILED),
        "retry": ((R.FAILED,), R.REQUESTED),
    },
    event=RefundEvent,
    link="refund",
    error=PaymentError,
    refused="This refund is {state}.",
)


# A requested card refund not sent by then is sent by the timer; a pending one is asked about.
FOLLOW_UP_AFTER = timedelta(minutes=5)
ASK_STRIPE_AFTER = timedelta(hours=1)


def _key(row) -> str:
    return f"hse-{services.row_key(row)}-refund"


def _refund_record(*, kind: str, amount: int, currency: str, key: str, by, now, why, **about):
    """The refund row, once per key (with its first event); (refund, made now)."""
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing, False
    refund = Refund.objects.create(
        kind=kind, amount=amount, currency=currency, idempotency_key=key, created_at=now, by=by,
        **about,
    )  # fmt: skip
    REFUND.record(refund, "request", by=by, now=now, why=why)
    return refund, True


def _to_wallet(refund: Refund, *, user: User, by, now: datetime) -> None:
    # A free trial's credit gives back nothing: the refund is recorded, no money moves.
    if refund.amount:
        ledger.wallet_post(
            user=user, amount=refund.amount, reason=WalletEntry.Reason.REFUND,
            key=f"refund-{refund.pk}", refund=refund, order=refund.order, now=now,
        )  # fmt: skip
    REFUND.move(
        refund, "credit_wallet", by=by, now=now, why="credited to the wallet", settled_at=now
    )
    emails.refund_settled(refund=refund)


@shared_task(name="payments.send_refund")
def send_refund(refund_id: int) -> str:
    refund = refund_send(refund_id=refund_id, now=timezone.now())
    return refund.status if refund is not None else "gone"


def _send_after_commit(refund: Refund) -> None:
    transaction.on_commit(lambda: send_refund.delay(refund.pk))


def credit_refund(*, credit: Credit, to_card: bool, by: User | None, now: datetime, why: str):
    """The price paid for a credit goes back, once: to the card it was paid with when
    ``to_card`` and it was paid by card, else to the wallet. The card gets back at most what
    it paid for the credit (the order's unit price); what a longer length added from the
    wallet goes back to the wallet, by a second refund with its own key. Call inside a
    transaction. Returns the first refund (the card's, when there is one)."""
    credit = Credit.objects.select_for_update().select_related("order", "client").get(pk=credit.pk)
    order = credit.order
    on_card = min(credit.price_paid, order.unit_price)
    card = to_card and order.method == Order.Method.STRIPE and on_card > 0
    refund, made = _refund_record(
        kind=Refund.Kind.TO_CARD if card else Refund.Kind.TO_WALLET,
        amount=on_card if card else credit.price_paid, currency=credit.currency,
        key=_key(credit), by=by, now=now, why=why, credit=credit, order=order,
    )  # fmt: skip
    if not made:
        return refund
    ledger.credit_refund(credit=credit, by=by, now=now, why=why)
    if not card:
        _to_wallet(refund, user=credit.client, by=by, now=now)
        return refund
    _send_after_commit(refund)
    if rest := credit.price_paid - on_card:
        topped, _ = _refund_record(
            kind=Refund.Kind.TO_WALLET, amount=rest, currency=credit.currency,
            key=f"{_key(credit)}-wallet", by=by, now=now,
            why=f"{why}: the part paid from the wallet", credit=credit, order=order,
        )  # fmt: skip
        _to_wallet(topped, user=credit.client, by=by, now=now)
    return refund


# --- Sending card refunds (the task) and what Stripe reports later --------------------------


def refund_send(*, refund_id: int, now: datetime) -> Refund | None:
    """Sends a requested card refund to Stripe with its own idempotency key (sent twice, it
    is one refund) and records the answer. Stripe is called outside any transaction."""
    refund = Refund.objects.select_related("order", "top_up").filter(pk=refund_id).first()
    if refund is None or refund.status != R.REQUESTED or refund.kind != Refund.Kind.TO_CARD:
        return refund
    payment_intent = (refund.order or refund.top_up).stripe_payment_intent
    # The same key makes a resend (a lost answer, a second worker) the same refund at
    # Stripe; after Stripe itself refused one, that key would only replay the refusal.
    key = refund.idempotency_key
    if refund.stripe_status in ("failed", "canceled"):
        key = f"{key}-{refund.attempts}"
    try:
        stripe_id, stripe_status = stripe_gateway.refund_create(
            payment_intent=payment_intent, amount=refund.amount, idempotency_key=key
        )
        failure = "" if stripe_status != "failed" else "Stripe refused the refund"
    except stripe_gateway.PaymentsUnavailable as error:
        stripe_id, stripe_status, failure = "", "", str(error)
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != R.REQUESTED:
            return refund  # another run recorded it first
        attempts = refund.attempts + 1
        if failure:
            REFUND.move(
                refund, "fail", now=now, why=failure, failure=failure[:300], attempts=attempts,
                stripe_status=stripe_status,
            )  # fmt: skip
            log.warning("card refund %s failed: %s", refund.pk, failure)
        elif stripe_status == "succeeded":
            REFUND.move(
                refund, "succeed", now=now, why="Stripe refunded the card", settled_at=now,
                stripe_refund_id=stripe_id, stripe_status=stripe_status, attempts=attempts,
                failure="",
            )  # fmt: skip
            emails.refund_settled(refund=refund)
        else:  # pending: charge.refunded will say when it reaches the card
            REFUND.move(
                refund, "send", now=now, why=f"Stripe says {stripe_status or 'pending'}",
                stripe_refund_id=stripe_id, stripe_status=stripe_status, attempts=attempts,
                failure="",
            )  # fmt: skip
    return refund


def refund_retry(*, refund: Refund, by: User, now: datetime) -> Refund:
    """An admin sends a failed card refund again (after commit, with the same key)."""
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        REFUND.move(refund, "retry", by=by, now=now, why=f"retried by {by.email}")
        _send_after_commit(refund)
    return refund


def refund_stripe_reported(*, refund_id: str, status: str, now: datetime) -> None:
    """``charge.refunded`` listed one of Stripe's refunds: if it is ours, its outcome."""
    refund = Refund.objects.select_for_update().filter(stripe_refund_id=refund_id).first()
    if refund is None or not refund_id:
        log.warning("a charge was refunded outside HSE: %s", refund_id)
        return
    if refund.status in (R.SUCCEEDED, R.FAILED):
        return
    if status in ("succeeded", ""):
        REFUND.move(
            refund, "succeed", now=now, why="Stripe reported it refunded", settled_at=now,
            stripe_status=status or "succeeded",
        )  # fmt: skip
        emails.refund_settled(refund=refund)
    elif status in ("failed", "canceled"):
        why = f"Stripe reported it {status}"
        REFUND.move(refund, "fail", now=now, why=why, stripe_status=status)


def refunds_follow_up(*, now: datetime, batch: int = 100) -> int:
    """The timer's part in card refunds: one still requested a while after its decision
    (its hand-over to the worker was lost) is sent again, and one Stripe left pending for
    long is asked about, so none waits for ever unseen. Sending and asking are idempotent,
    so running beside the task or a webhook changes things once."""
    requested = Refund.objects.filter(
        status=R.REQUESTED, kind=Refund.Kind.TO_CARD, created_at__lte=now - FOLLOW_UP_AFTER
    ).values_list("pk", flat=True)
    handled = 0
    for refund_id in list(requested.order_by("pk")[:batch]):
        refund_send(refund_id=refund_id, now=now)
        handled += 1
    pending = Refund.objects.filter(
        status=R.SENT, created_at__lte=now - ASK_STRIPE_AFTER
    ).values_list("stripe_refund_id", flat=True)
    for stripe_id in list(pending.order_by("pk")[:batch]):
        try:
            status = stripe_gateway.refund_status(refund_id=stripe_id)
        except stripe_gateway.PaymentsUnavailable:
            continue  # asked again at the next run
        if status in ("succeeded", "failed", "canceled"):
            with transaction.atomic():
                refund_stripe_reported(refund_id=stripe_id, status=status, now=now)
            handled += 1
    return handled


# --- Reports ---------------------------------------------------------------------------------


def report_decide(*, report: Report, decision: str, by: User, now: datetime, note: str = ""):
    """An admin's decision on an open report: money moves exactly once (to the wallet now,
    to the card after the commit), the credit's state and the session's change, the coach
    earns the session when the report is declined, the decision is recorded and the client
    told. Deciding an already decided report changes nothing."""
    if not by.is_staff:
        raise PaymentError("Only admins decide reports.")
    if decision not in Report.Decision.values:
        raise PaymentError("Unknown decision.")
    if decision == Report.Decision.DECLINE and not note.strip():
        raise PaymentError("Write a note saying why the report is declined; the client reads it.")
    with transaction.atomic():
        report = lifecycle.report_lock(report)
        if report.state != Report.State.OPEN:
            return report
        session = report.session
        credit = session.credit
        why = f"report on session #{session.pk}: {Report.Decision(decision).label.lower()}"
        if credit is None:
            pass  # nothing was paid for it (made in the admin): only the states change
        elif decision in (Report.Decision.REFUND_WALLET, Report.Decision.REFUND_ORIGINAL):
            to_card = decision == Report.Decision.REFUND_ORIGINAL
            credit_refund(credit=credit, to_card=to_card, by=by, now=now, why=why)
        elif decision == Report.Decision.RETURN_CREDIT:
            ledger.credit_give_back(credit=credit, by=by, now=now, why=why)
        else:  # declined: the session stood, so its credit is used and the coach earns it
            ledger.credit_use(credit=credit, session_id=session.pk, by=by, now=now, why=why)
        lifecycle.report_settle(report=report, decision=decision, by=by, now=now, note=note)
    return report


# --- Payments held for review ---------------------------------------------------------------


def review_fulfil(*, row: Order | TopUp, by: User, now: datetime) -> None:
    """An admin accepts a payment held for review: it is fulfilled at our price."""
    with transaction.atomic():
        if isinstance(row, Order):
            order = services.order_lock(row.pk)
            if order.status == Order.Status.REVIEW and services.trial_clash(order):
                raise PaymentError(
                    "The client has another trial with this coach; refund this payment."
                )
            services._order_fulfil(
                order, action="fulfil_reviewed", by=by, now=now, why=f"accepted by {by.email}"
            )
        else:
            top_up = services.topup_lock(row.pk)
            services._topup_credit(
                top_up, action="fulfil_reviewed", by=by, now=now, why=f"accepted by {by.email}"
            )


def review_refund(*, row: Order | TopUp, by: User, now: datetime) -> Refund:
    """An admin gives back a payment held for review: what Stripe took goes back to the
    card (after the commit), and nothing is credited."""
    machine = services.ORDER if isinstance(row, Order) else services.TOP_UP
    with transaction.atomic():
        lock = services.order_lock if isinstance(row, Order) else services.topup_lock
        row = lock(row.pk)
        machine.move(row, "refund_reviewed", by=by, now=now, why=f"refunded by {by.email}")
        if not row.stripe_amount or row.stripe_amount < 0:
            raise PaymentError("Stripe reported no amount to give back; refund it in Stripe.")
        about = {"order": row} if isinstance(row, Order) else {"top_up": row}
        refund, _ = _refund_record(
            kind=Refund.Kind.TO_CARD, amount=row.stripe_amount,
            currency=row.stripe_currency or row.currency, key=_key(row), by=by, now=now,
            why="a payment held for review", **about,
        )  # fmt: skip
        _send_after_commit(refund)
    return refund
