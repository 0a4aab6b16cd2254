import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import User
from coaching.models import CoachProfile, Skill
from hse.money import format_money, price_for_minutes
from payments import emails, stripe_gateway
from payments.models import Credit, Order, Refund, StripeEvent, TopUp, WalletEntry
from sessions_app import services as booking
from sessions_app.models import Session

log = logging.getLogger(__name__)


class PaymentError(Exception):
    """A payment rule was broken; the message is for people."""


class InsufficientFunds(PaymentError):
    pass


def _row_key(row) -> str:
    """A key for Stripe's idempotency derived from our row: its table, id and creation
    time, so a database that was reset (new rows, old ids) never replays an old answer."""
    return f"{row._meta.model_name}-{row.pk}-{row.created_at.timestamp():.6f}"


# --- Wallet --------------------------------------------------------------------------------


def wallet_balance(*, user: User) -> int:
    """The balance is the running total of the newest entry, which equals the sum of all."""
    newest = (
        WalletEntry.objects.filter(user=user)
        .order_by("-id")
        .values_list("balance_after", flat=True)
        .first()
    )
    return newest or 0


def _wallet_post(
    *,
    user: User,
    amount: int,
    reason: str,
    idempotency_key: str,
    now: datetime,
    order: Order | None = None,
    top_up: TopUp | None = None,
    refund: Refund | None = None,
    note: str = "",
    savepoint: bool = True,
    new_key: bool = False,
) -> WalletEntry:
    """Adds one entry, once per idempotency key. Entries of one user are written one at a
    time: the user's row is locked first, so concurrent debits queue up and each sees the
    balance the previous one left. A refused debit leaves the caller's transaction usable,
    unless the caller passes ``savepoint=False`` because it undoes everything then anyway.
    ``new_key``: the key names a row this transaction made, so no entry can have it yet (the
    unique key still refuses a second one)."""
    with transaction.atomic(savepoint=savepoint):
        User.objects.select_for_update().filter(pk=user.pk).exists()
        if not new_key:
            existing = WalletEntry.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        balance = wallet_balance(user=user)
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
            idempotency_key=idempotency_key,
            order=order,
            top_up=top_up,
            refund=refund,
            note=note,
            created_at=now,
        )


def wallet_adjust(*, user: User, amount: int, note: str, by: User, key: str, now: datetime):
    """An admin's correction, with a reason; refused if it would overdraw the wallet."""
    if not note.strip():
        raise PaymentError("Say why the wallet is adjusted.")
    return _wallet_post(
        user=user,
        amount=amount,
        reason=WalletEntry.Reason.ADJUSTMENT,
        idempotency_key=f"adjust-{key}",
        note=f"{note.strip()} (by {by.email})",
        now=now,
    )


# --- Orders --------------------------------------------------------------------------------


def order_start(
    *,
    client: User,
    coach: CoachProfile,
    skill: Skill,
    duration_minutes: int,
    quantity: int,
    method: str,
    now: datetime,
    starts_at: datetime | None = None,
    within_availability: bool = True,
    accepted_request_id: int | None = None,
    token: str | None = None,
    pay_from_wallet: bool = False,
) -> Order:
    """Creates an order at today's price and, for a single session, holds its slot until
    the order expires. Raises SlotTaken when somebody was faster. With ``pay_from_wallet``
    a wallet order is paid in the transaction that makes it: a short wallet leaves nothing
    behind (no order, no held slot), and a paid one needs no second transaction."""
    if duration_minutes not in settings.HSE_SESSION_DURATIONS:
        raise PaymentError("Sessions last 30, 45 or 60 minutes.")
    if quantity != 1 and quantity not in settings.HSE_PACKAGE_SIZES:
        raise PaymentError("Buy a single session or a package of 5, 10 or 20.")
    if method not in Order.Method.values:
        raise PaymentError("Pay by card (Stripe) or from your wallet.")
    if quantity == 1 and starts_at is None:
        raise PaymentError("Pick a date and time for the session.")
    if not coach.is_listed or not coach.teaches(skill):
        raise PaymentError(f"{coach.user.display_name} does not offer {skill.name}.")
    if not client.is_client:
        raise PaymentError("Only clients can buy sessions.")

    pay_now = pay_from_wallet and method == Order.Method.WALLET
    unit_price = price_for_minutes(hourly=coach.hourly_price, minutes=duration_minutes)
    expires_at = now + timedelta(minutes=settings.HSE_HOLD_MINUTES)
    return _order_create(
        client=client, coach=coach, skill=skill, duration_minutes=duration_minutes,
        quantity=quantity, method=method, now=now, starts_at=starts_at,
        within_availability=within_availability, accepted_request_id=accepted_request_id,
        token=token or None, unit_price=unit_price, expires_at=expires_at, pay_now=pay_now,
    )  # fmt: skip


def _order_of_form(*, client: User, token: str | None) -> Order | None:
    """The order an earlier copy of the same buy form (its one-time token) made, if any."""
    if not token:
        return None
    return Order.objects.filter(client=client, checkout_token=token).first()


def _order_create(
    *, client, coach, skill, duration_minutes, quantity, method, now, starts_at,
    within_availability, accepted_request_id, token, unit_price, expires_at, pay_now,
) -> Order:  # fmt: skip
    with transaction.atomic():
        if token:
            # Copies of one form (a double click) queue here on the client's row, so each
            # finds the order the first one made instead of racing it for the slot (and
            # being told the time was just taken, or deadlocking on the slot's constraints).
            User.objects.select_for_update().filter(pk=client.pk).exists()
            if (again := _order_of_form(client=client, token=token)) is not None:
                return again
        held = None
        if quantity == 1:
            held = booking.session_reserve(
                coach=coach,
                client=client,
                skill=skill,
                duration_minutes=duration_minutes,
                starts_at=starts_at,
                now=now,
                hold_until=expires_at,
                within_availability=within_availability,
                accepted_request_id=accepted_request_id,
            )
        order = Order.objects.create(
            client=client,
            coach=coach,
            skill=skill,
            duration_minutes=duration_minutes,
            quantity=quantity,
            unit_price=unit_price,
            total_price=unit_price * quantity,
            currency=coach.currency,
            method=method,
            held_session=held,
            expires_at=expires_at,
            checkout_token=token,
            # Written as paid at once: a short wallet below undoes the whole transaction.
            **({"status": Order.Status.PAID, "paid_at": now} if pay_now else {}),
        )
        if pay_now:
            # Made by this transaction, so nobody else can see it yet: no lock needed.
            _pay_from_wallet(order=order, now=now, new_order=True)
    return order


def order_checkout_url(*, order: Order) -> str:
    """The hosted Stripe page for a pending card order, created once (the idempotency key
    is derived from the order, so a retry after a timeout returns the same session)."""
    if order.stripe_checkout_url:
        return order.stripe_checkout_url
    coach = order.coach.user.display_name
    if order.is_single:
        name = f"{order.duration_minutes}-minute {order.skill.name} session with {coach}"
    else:
        name = (
            f"{order.quantity} × {order.duration_minutes}-minute {order.skill.name} "
            f"sessions with {coach}"
        )
    try:
        checkout = stripe_gateway.checkout_create(
            reference=f"order-{order.pk}",
            name=name,
            amount=order.total_price,
            currency=order.currency,
            customer_email=order.client.email,
            success_url=settings.SITE_URL + reverse("payments:order_detail", args=[order.pk]),
            cancel_url=settings.SITE_URL + reverse("payments:order_detail", args=[order.pk]),
            expires_at=order.expires_at,
            idempotency_key=f"hse-{_row_key(order)}-checkout",
        )
    except stripe_gateway.PaymentsUnavailable:
        order_expire(order=order, now=order.expires_at, why="Stripe unavailable", force=True)
        raise
    Order.objects.filter(pk=order.pk).update(
        stripe_checkout_id=checkout.id, stripe_checkout_url=checkout.url
    )
    order.stripe_checkout_id, order.stripe_checkout_url = checkout.id, checkout.url
    return checkout.url


def _lock_order(order: Order) -> Order:
    # With the client, whom every path needs (the wallet, the receipt); the coach, the skill
    # and a held session are read where a path needs them (only single sessions do).
    return Order.objects.select_for_update(of=("self",)).select_related("client").get(pk=order.pk)


def order_pay_with_wallet(*, order: Order, now: datetime) -> Order:
    """Debits the wallet and fulfils the order in one transaction: all of it or nothing."""
    with transaction.atomic():
        order = _lock_order(order)
        if order.status == Order.Status.PAID:
            return order
        if order.method != Order.Method.WALLET:
            raise PaymentError("This order is paid by card.")
        if order.status != Order.Status.PENDING or order.expires_at <= now:
            raise PaymentError("This order has expired. Please start again.")
        _pay_from_wallet(order=order, now=now)
    return order


def _pay_from_wallet(*, order: Order, now: datetime, new_order: bool = False) -> None:
    """A pending wallet order that this transaction has locked is paid. A short wallet undoes
    the whole transaction (its callers let the refusal through). ``new_order``: this
    transaction made the order, already written as paid."""
    _wallet_post(
        user=order.client,
        amount=-order.total_price,
        reason=WalletEntry.Reason.PAYMENT,
        idempotency_key=f"order-{order.pk}-payment",
        order=order,
        now=now,
        savepoint=False,
        new_key=new_order,
    )
    _order_fulfil(order=order, now=now)


def _order_fulfil(*, order: Order, now: datetime, payment_intent: str = "") -> None:
    """A locked order has been paid: one credit per session; a single session is scheduled
    at once. Paid money is never lost: if the held slot was given up meanwhile, the client
    keeps the credit and schedules it again. An order already paid here is one this
    transaction wrote as paid (callers refuse a paid order before they get here)."""
    if order.status != Order.Status.PAID:
        order.status = Order.Status.PAID
        order.paid_at = now
        order.stripe_payment_intent = payment_intent or order.stripe_payment_intent
        order.save(update_fields=["status", "paid_at", "stripe_payment_intent"])
    credits = Credit.objects.bulk_create(
        Credit(
            order=order,
            client=order.client,
            coach_id=order.coach_id,
            skill_id=order.skill_id,
            duration_minutes=order.duration_minutes,
            price_paid=order.unit_price,
            currency=order.currency,
        )
        for _ in range(order.quantity)
    )
    session = None
    if order.is_single:
        credit = credits[0]
        session = order.held_session
        scheduled = session is not None and booking.session_schedule_held(
            session=session, credit=credit, now=now
        )
        if not scheduled and session is not None:
            try:
                with transaction.atomic():
                    session = booking.session_reserve(
                        coach=order.coach,
                        client=order.client,
                        skill=order.skill,
                        duration_minutes=order.duration_minutes,
                        starts_at=session.starts_at,
                        now=now,
                        credit=credit,
                    )
                scheduled = True
            except booking.BookingError:
                log.warning("order %s paid after its slot was released; credit kept", order.pk)
                session = None
        if scheduled:
            Credit.objects.filter(pk=credit.pk).update(status=Credit.Status.SCHEDULED)
            credit.status = Credit.Status.SCHEDULED
    emails.order_receipt(order=order)
    if session is not None:
        emails.booking_confirmation(session=session)


def order_expire(*, order: Order, now: datetime, why: str, force: bool = False) -> int:
    """Expires a pending order whose time is up and frees its held slot; 1 if it did."""
    with transaction.atomic():
        order = _lock_order(order)
        if order.status != Order.Status.PENDING or (order.expires_at > now and not force):
            return 0
        order.status = Order.Status.EXPIRED
        order.save(update_fields=["status"])
        session = order.held_session
        if session is not None and session.status == Session.Status.HELD:
            Session.objects.filter(pk=session.pk).update(hold_expires_at=now)
            session.hold_expires_at = now
            booking.hold_lapse(session=session, now=now)
        if order.stripe_checkout_id:
            checkout_id = order.stripe_checkout_id
            transaction.on_commit(lambda: _expire_checkout_quietly(checkout_id))
    return 1


def order_expire_for_lapsed_hold(*, session: Session, now: datetime) -> None:
    order = Order.objects.filter(held_session=session, status=Order.Status.PENDING).first()
    if order is not None:
        order_expire(order=order, now=now, why="hold lapsed", force=True)


def expire_checkouts_quietly(checkout_ids: list[str]) -> None:
    for checkout_id in checkout_ids:
        _expire_checkout_quietly(checkout_id)


def _expire_checkout_quietly(checkout_id: str) -> None:
    try:
        stripe_gateway.checkout_expire(checkout_id=checkout_id)
    except stripe_gateway.PaymentsUnavailable:
        # Stripe expires it on its own at expires_at; a late payment is still honoured.
        log.warning("could not expire checkout %s", checkout_id)


# --- Top-ups -------------------------------------------------------------------------------


def topup_start(*, user: User, amount: int) -> TopUp:
    low, high = settings.HSE_TOP_UP_LIMITS
    if not low <= amount <= high:
        raise PaymentError(
            f"Top up between {format_money(low, settings.HSE_CURRENCY)} and "
            f"{format_money(high, settings.HSE_CURRENCY)}."
        )
    return TopUp.objects.create(user=user, amount=amount, currency=settings.HSE_CURRENCY)


def topup_checkout_url(*, top_up: TopUp, now: datetime) -> str:
    if top_up.stripe_checkout_url:
        return top_up.stripe_checkout_url
    checkout = stripe_gateway.checkout_create(
        reference=f"topup-{top_up.pk}",
        name="HSE wallet top-up",
        amount=top_up.amount,
        currency=top_up.currency,
        customer_email=top_up.user.email,
        success_url=settings.SITE_URL + reverse("payments:wallet") + f"?topup={top_up.pk}",
        cancel_url=settings.SITE_URL + reverse("payments:wallet"),
        expires_at=now + timedelta(minutes=settings.HSE_HOLD_MINUTES),
        idempotency_key=f"hse-{_row_key(top_up)}-checkout",
    )
    TopUp.objects.filter(pk=top_up.pk).update(
        stripe_checkout_id=checkout.id, stripe_checkout_url=checkout.url
    )
    return checkout.url


# --- Stripe webhooks -----------------------------------------------------------------------


def stripe_event_process(*, event_id: str, event_type: str, obj: dict, now: datetime) -> bool:
    """Acts on one verified event, once: the event id is recorded in the same transaction
    as its effects, so a replay (even a concurrent one) finds it and changes nothing.
    Returns False for a replay."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(event_id=event_id, type=event_type, received_at=now)
        except IntegrityError:
            return False
        handler = _HANDLERS.get(event_type)
        if handler is not None:
            handler(obj, now)
    return True


def _reference(obj: dict) -> tuple[str, int] | None:
    reference = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("reference")
    kind, _, number = (reference or "").partition("-")
    if kind in {"order", "topup"} and number.isdecimal():
        return kind, int(number)
    return None


def _on_checkout_completed(obj: dict, now: datetime) -> None:
    reference = _reference(obj)
    if reference is None or obj.get("payment_status") != "paid":
        return
    kind, pk = reference
    payment_intent = obj.get("payment_intent") or ""
    if isinstance(payment_intent, dict):
        payment_intent = payment_intent.get("id", "")
    if kind == "order":
        order = Order.objects.filter(pk=pk).first()
        if order is None:
            log.error("checkout for unknown order %s", pk)
            return
        order = _lock_order(order)
        if order.status == Order.Status.PAID:
            return
        if obj.get("amount_total") != order.total_price:
            log.error(
                "order %s: paid %s, expected %s", pk, obj.get("amount_total"), order.total_price
            )
        _order_fulfil(order=order, now=now, payment_intent=payment_intent)
    else:
        top_up = (
            TopUp.objects.select_for_update(of=("self",))
            .select_related("user")  # the wallet's owner and the receipt's addressee
            .filter(pk=pk)
            .first()
        )
        if top_up is None or top_up.status == TopUp.Status.PAID:
            return
        top_up.status = TopUp.Status.PAID
        top_up.paid_at = now
        top_up.stripe_payment_intent = payment_intent
        top_up.save(update_fields=["status", "paid_at", "stripe_payment_intent"])
        _wallet_post(
            user=top_up.user,
            amount=obj.get("amount_total") or top_up.amount,
            reason=WalletEntry.Reason.TOP_UP,
            idempotency_key=f"topup-{top_up.pk}",
            top_up=top_up,
            now=now,
            # A credit is never refused, and the top-up was unpaid under its lock, so no
            # entry has its key: neither a savepoint nor a lookup is needed.
            savepoint=False,
            new_key=True,
        )
        emails.top_up_receipt(top_up=top_up)


def _on_checkout_expired(obj: dict, now: datetime) -> None:
    reference = _reference(obj)
    if reference is None:
        return
    kind, pk = reference
    if kind == "order":
        order = Order.objects.filter(pk=pk).first()
        if order is not None:
            order_expire(order=order, now=now, why="Stripe checkout expired", force=True)
    else:
        TopUp.objects.filter(pk=pk, status=TopUp.Status.PENDING).update(status=TopUp.Status.EXPIRED)


def _on_charge_refunded(obj: dict, now: datetime) -> None:
    refunds = (obj.get("refunds") or {}).get("data") or []
    for item in refunds:
        known = Refund.objects.filter(stripe_refund_id=item.get("id"))
        if not known.update(stripe_status=item.get("status") or "succeeded"):
            log.warning("charge %s refunded outside HSE: %s", obj.get("id"), item.get("id"))


_HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "checkout.session.expired": _on_checkout_expired,
    "charge.refunded": _on_charge_refunded,
}


# --- Refunds (used by the admins' report decisions) -----------------------------------------


def _refund_key(credit: Credit) -> str:
    return f"hse-{_row_key(credit)}-refund"


def _refund_begin(
    *, credit: Credit, kind: str, by: User | None, now: datetime
) -> tuple[Refund, bool]:
    """Locks the credit and records its one refund; (refund, created)."""
    credit = Credit.objects.select_for_update().select_related("order").get(pk=credit.pk)
    existing = Refund.objects.filter(idempotency_key=_refund_key(credit)).first()
    if existing is not None:
        return existing, False
    if credit.status == Credit.Status.REFUNDED:
        raise PaymentError("This credit was already refunded.")
    refund = Refund.objects.create(
        kind=kind,
        credit=credit,
        amount=credit.price_paid,
        currency=credit.currency,
        idempotency_key=_refund_key(credit),
        created_at=now,
        by=by,
    )
    Credit.objects.filter(pk=credit.pk).update(status=Credit.Status.REFUNDED)
    return refund, True


def refund_to_wallet(*, credit: Credit, by: User | None, now: datetime) -> Refund:
    """The price paid for ``credit`` goes to the client's wallet, exactly once."""
    with transaction.atomic():
        refund, created = _refund_begin(credit=credit, kind=Refund.Kind.TO_WALLET, by=by, now=now)
        if created or refund.kind == Refund.Kind.TO_WALLET:
            _wallet_post(
                user=credit.client,
                amount=refund.amount,
                reason=WalletEntry.Reason.REFUND,
                idempotency_key=f"refund-{refund.pk}",
                refund=refund,
                order=credit.order,
                now=now,
            )
    return refund


def refund_to_original_payment(*, credit: Credit, by: User | None, now: datetime) -> Refund:
    """Back where the money came from: a Stripe refund for a card payment, the wallet for
    a wallet payment. Exactly once: the refund row is unique per credit and the Stripe call
    carries the refund's idempotency key, so calling again only completes what is missing."""
    refund = refund_original_record(credit=credit, by=by, now=now)
    return refund_complete(refund=refund)


def refund_original_record(*, credit: Credit, by: User | None, now: datetime) -> Refund:
    """The database half of a refund to the original payment, for use inside a larger
    transaction; ``refund_complete`` after the commit makes the Stripe call."""
    with transaction.atomic():
        refund, _ = _refund_begin(credit=credit, kind=Refund.Kind.TO_ORIGINAL, by=by, now=now)
        order = credit.order
        if refund.kind == Refund.Kind.TO_WALLET or order.method == Order.Method.WALLET:
            _wallet_post(
                user=credit.client,
                amount=refund.amount,
                reason=WalletEntry.Reason.REFUND,
                idempotency_key=f"refund-{refund.pk}",
                refund=refund,
                order=order,
                now=now,
            )
    return refund


def refund_complete(*, refund: Refund) -> Refund:
    """Makes the Stripe refund of a card payment if it is not made yet (same key: once)."""
    order = refund.credit.order
    if (
        refund.kind != Refund.Kind.TO_ORIGINAL
        or order.method != Order.Method.STRIPE
        or refund.stripe_refund_id
    ):
        return refund
    refund_id, status = stripe_gateway.refund_create(
        payment_intent=order.stripe_payment_intent,
        amount=refund.amount,
        idempotency_key=refund.idempotency_key,
    )
    Refund.objects.filter(pk=refund.pk).update(stripe_refund_id=refund_id, stripe_status=status)
    refund.stripe_refund_id, refund.stripe_status = refund_id, status
    return refund


def credit_return(*, credit: Credit, now: datetime) -> Credit:
    """Gives the client the credit back to schedule again (no money moves)."""
    with transaction.atomic():
        credit = Credit.objects.select_for_update().get(pk=credit.pk)
        if credit.status == Credit.Status.REFUNDED:
            raise PaymentError("This credit was refunded; it cannot be returned too.")
        if credit.status != Credit.Status.AVAILABLE:
            credit.status = Credit.Status.AVAILABLE
            credit.save(update_fields=["status"])
    return credit
