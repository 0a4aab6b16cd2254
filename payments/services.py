"""Orders and top-ups: buying sessions and wallet money, by card (Stripe Checkout) or from
the wallet. Prices are read from the database inside the transaction that writes the order
(the cached coach on the pages is for display only), and every amount comes from our rows.
Stripe is called only after commit, or outside any transaction."""

import logging
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import User
from coaching.models import CoachProfile, Skill
from hse import live
from hse.emails import batched
from hse.money import format_money
from hse.rules import listed
from hse.states import Machine
from ledger import services as ledger
from ledger.models import WalletEntry
from payments import emails, stripe_gateway
from payments.models import Order, OrderEvent, TopUp, TopUpEvent
from sessions_app import booking
from sessions_app import emails as session_emails
from sessions_app.models import Session

log = logging.getLogger(__name__)


class PaymentError(Exception):
    """A payment rule was broken; the message is for people."""


InsufficientFunds = ledger.InsufficientFunds

OS, TS = Order.Status, TopUp.Status

# An order's machine. A payment that arrives after its order expired or was cancelled is
# still honoured; one whose amount or currency is not the order's is held for an admin.
ORDER = Machine(
    transitions={
        "pay": ((OS.PENDING, OS.EXPIRED, OS.CANCELLED), OS.PAID),
        "expire": ((OS.PENDING,), OS.EXPIRED),
        "cancel": ((OS.PENDING,), OS.CANCELLED),
        "hold_for_review": ((OS.PENDING, OS.EXPIRED, OS.CANCELLED), OS.REVIEW),
        "fulfil_reviewed": ((OS.REVIEW,), OS.PAID),
        "refund_reviewed": ((OS.REVIEW,), OS.REFUNDED),
    },
    event=OrderEvent,
    link="order",
    error=PaymentError,
    refused="This order is {state}.",
)

TOP_UP = Machine(
    transitions={
        "pay": ((TS.PENDING, TS.EXPIRED, TS.CANCELLED), TS.PAID),
        "expire": ((TS.PENDING,), TS.EXPIRED),
        "cancel": ((TS.PENDING,), TS.CANCELLED),
        "hold_for_review": ((TS.PENDING, TS.EXPIRED, TS.CANCELLED), TS.REVIEW),
        "fulfil_reviewed": ((TS.REVIEW,), TS.PAID),
        "refund_reviewed": ((TS.REVIEW,), TS.REFUNDED),
    },
    event=TopUpEvent,
    link="top_up",
    error=PaymentError,
    refused="This top-up is {state}.",
)


def row_key(row) -> str:
    """A key for Stripe's idempotency derived from our row: its table, id and creation
    time, so a database that was reset (new rows, old ids) never replays an old answer."""
    return f"{row._meta.model_name}-{row.pk}-{row.created_at.timestamp():.6f}"


CANCEL_SALT = "hse.payments.checkout-cancel"


def cancel_url(row, name: str) -> str:
    """Where Stripe's Cancel button sends the client back to: a GET that gives up the row,
    so it carries a signature of the row (nobody can make another's browser cancel)."""
    token = signing.dumps(row_key(row), salt=CANCEL_SALT)
    return f"{settings.SITE_URL}{reverse(name, args=[row.pk])}?token={token}"


def cancel_token_ok(row, token: str) -> bool:
    try:
        return signing.loads(str(token)[:300], salt=CANCEL_SALT) == row_key(row)
    except signing.BadSignature:
        return False


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
    agreed: bool = False,
    token: str | None = None,
    trial: bool = False,
) -> Order:
    """Creates an order at the coach's price of this moment (less the coach's discount for
    a package of that size) and, for a single session, holds its slot until the order
    expires (SlotTaken when somebody was faster). A wallet order is paid in the same
    transaction: a short wallet leaves nothing behind. ``agreed``: the time is an accepted
    request's (``booking.time_check``). ``token``: the buy form's one-time token, so a copy
    of the form sent again finds the order the first one made. ``trial``: the client's one
    trial session with the coach, at the coach's trial price; a free one (price 0) is paid
    by nobody: the order is paid at once, with no wallet entry and no Stripe."""
    durations = settings.HSE_SESSION_DURATIONS
    if duration_minutes not in durations:
        raise PaymentError(f"Sessions last {listed(durations)} minutes.")
    if trial and (quantity != 1 or duration_minutes != settings.HSE_TRIAL_MINUTES):
        raise PaymentError(f"A trial is one session of {settings.HSE_TRIAL_MINUTES} minutes.")
    if quantity != 1 and quantity not in settings.HSE_PACKAGE_SIZES:
        raise PaymentError(
            f"Buy a single session or a package of {listed(settings.HSE_PACKAGE_SIZES)}."
        )
    if method not in Order.Method.values:
        raise PaymentError("Pay by card (Stripe) or from your wallet.")
    if quantity == 1 and starts_at is None:
        raise PaymentError("Pick a date and time for the session.")
    if not client.is_client:
        raise PaymentError("Only clients can buy sessions.")

    with transaction.atomic():
        # The client's row, then the coach's, locked as every booking does: copies of one
        # form (a double click) queue here, so each finds the order the first one made
        # instead of racing it for the slot; a price change or a delisting waits for this
        # order, or this order for it, and the price charged is the one read here.
        coach = booking.people_lock(client=client, coach=coach)
        if token and (again := Order.objects.filter(client=client, checkout_token=token).first()):
            return again
        if not coach.is_listed or not coach.user.is_active or not coach.teaches(skill):
            raise PaymentError(f"{coach.user.display_name} does not offer {skill.name}.")
        if quantity == 1 and _open_checkouts(client, now) >= settings.HSE_MAX_OPEN_CHECKOUTS:
            raise PaymentError(
                f"You have {settings.HSE_MAX_OPEN_CHECKOUTS} checkouts waiting for payment, "
                "each holding a time. Pay for one (or let it lapse) before you pick another."
            )
        discount = 0
        if trial:
            _trial_check(client=client, coach=coach)
            unit_price = coach.trial_price
        else:
            discount = coach.discount_for(quantity)
            unit_price = coach.unit_price(minutes=duration_minutes, quantity=quantity)
        free = unit_price == 0
        if free:
            method = Order.Method.FREE
        expires_at = now + timedelta(minutes=settings.HSE_HOLD_MINUTES)
        held = None
        if quantity == 1:
            held = booking.session_reserve(
                coach=coach, client=client, skill=skill, duration_minutes=duration_minutes,
                starts_at=starts_at, now=now, hold_until=expires_at, agreed=agreed,
            )  # fmt: skip
        # A wallet order is written as paid at once: a short wallet below undoes it all.
        wallet = method in (Order.Method.WALLET, Order.Method.FREE)
        # A trial is written in a savepoint, so that the database's once-per-client refusal
        # (a copy racing past the check above) ends as a message; other orders need none.
        with transaction.atomic() if trial else nullcontext():
            try:
                order = Order.objects.create(
                    client=client, coach=coach, skill=skill, duration_minutes=duration_minutes,
                    quantity=quantity, unit_price=unit_price, total_price=unit_price * quantity,
                    currency=coach.currency, method=method, held_session=held,
                    expires_at=expires_at, checkout_token=token or None, is_trial=trial,
                    discount_percent=discount,
                    **({"status": Order.Status.PAID, "paid_at": now} if wallet else {}),
                )  # fmt: skip
            except IntegrityError as taken:
                if trial:
                    raise PaymentError(
                        _TRIAL_TAKEN.format(coach=coach.user.display_name)
                    ) from taken
                raise
        why = f"{quantity} × {skill.name}" + (" (trial)" if trial else "")
        why += ", free" if free else ", paid from the wallet" if wallet else ""
        ORDER.record(order, "pay" if wallet else "create", by=client, now=now, why=why)
        if wallet:
            if not free:
                ledger.wallet_post(
                    user=client, amount=-order.total_price, reason=WalletEntry.Reason.PAYMENT,
                    key=f"order-{order.pk}-payment", order=order, now=now,
                )  # fmt: skip
            _order_deliver(order, now=now)
    return order


_TRIAL_TAKEN = "You have had your trial session with {coach} already; book a session instead."


def trial_taken(*, client: User, coach: CoachProfile) -> bool:
    """The client has a trial with the coach being paid, paid, or held for review (the
    database's one_trial_per_client_and_coach counts the first two)."""
    return Order.objects.filter(
        client=client, coach=coach, is_trial=True,
        status__in=(Order.Status.PENDING, Order.Status.PAID, Order.Status.REVIEW),
    ).exists()  # fmt: skip


def _trial_check(*, client: User, coach: CoachProfile) -> None:
    if not coach.trial_offered:
        raise PaymentError(f"{coach.user.display_name} does not offer a trial session.")
    if trial_taken(client=client, coach=coach):
        raise PaymentError(_TRIAL_TAKEN.format(coach=coach.user.display_name))


def _open_checkouts(client: User, now: datetime) -> int:
    return Order.objects.filter(
        client=client, status=Order.Status.PENDING, expires_at__gt=now, held_session__isnull=False
    ).count()


def order_checkout_url(*, order: Order) -> str:
    """The hosted Stripe page for a pending card order, created once (the idempotency key
    is derived from the order, so a retry after a timeout returns the same session). When
    Stripe cannot be reached the order expires at once and frees its slot."""
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
    page = settings.SITE_URL + reverse("payments:order_detail", args=[order.pk])
    try:
        checkout = stripe_gateway.checkout_create(
            reference=f"order-{order.pk}", name=name, amount=order.total_price,
            currency=order.currency, customer_email=order.client.email, success_url=page,
            cancel_url=cancel_url(order, "payments:order_cancel"), expires_at=order.expires_at,
            idempotency_key=f"hse-{row_key(order)}-checkout",
        )  # fmt: skip
    except stripe_gateway.PaymentsUnavailable:
        order_expire(order=order, now=order.expires_at, why="Stripe could not be reached")
        raise
    Order.objects.filter(pk=order.pk).update(
        stripe_checkout_id=checkout.id, stripe_checkout_url=checkout.url
    )
    order.stripe_checkout_id, order.stripe_checkout_url = checkout.id, checkout.url
    return checkout.url


def order_lock(order_id: int) -> Order | None:
    # With the client, whom every path needs (the receipt); the coach, the skill and a held
    # session are read where a path needs them (only single sessions do).
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("client")
        .filter(pk=order_id)
        .first()
    )


def _tell_payer(user_id: int) -> None:
    """The payer's open order or wallet page shows the outcome at once (hse.live)."""
    live.push(live.user_group(user_id), {"type": "payment"})


def _order_fulfil(
    order: Order, *, action: str, now: datetime, why: str, by: User | None = None, **fields
) -> None:
    """A locked order has been paid (``action``: by card, or accepted after review)."""
    ORDER.move(order, action, by=by, now=now, why=why, paid_at=now, **fields)
    _order_deliver(order, now=now)
    _tell_payer(order.client_id)


def _order_deliver(order: Order, *, now: datetime) -> None:
    """What a paid order bought: one credit per session; a single session is scheduled at
    once. Paid money is never lost: if the held slot was given up meanwhile, the client
    keeps the credit and schedules it again."""
    session = order.held_session if order.is_single else None
    held = booking.session_hold_lock(session=session) if session is not None else None
    if held is not None:
        credit = ledger.credits_issue(order=order, now=now, scheduled=True)[0]
        booking.session_schedule_held(session=held, credit=credit, now=now)
        session = held
    elif session is not None:
        # The held slot was given up meanwhile: booked again if it is still free.
        credit = ledger.credits_issue(order=order, now=now)[0]
        try:
            with transaction.atomic():
                session = booking.session_reserve(
                    coach=order.coach, client=order.client, skill=order.skill,
                    duration_minutes=order.duration_minutes, starts_at=session.starts_at,
                    now=now, credit=credit,
                )  # fmt: skip
                ledger.credit_schedule(credit=credit, by=None, now=now, why=f"order #{order.pk}")
        except booking.BookingError:
            log.warning("order %s paid after its slot was released; credit kept", order.pk)
            session = None
    else:
        ledger.credits_issue(order=order, now=now)
    with batched():  # the receipt and both confirmations in one write to the outbox
        emails.order_receipt(order=order)
        if session is not None:
            session_emails.booking_confirmation(session=session)


def trial_clash(order: Order) -> bool:
    """A trial order has another trial with the same coach being paid, paid, or held for
    review: paying this one too would be a second trial. It happens when a card checkout
    expired, the client bought another trial, and the first checkout's payment came late."""
    if not order.is_trial:
        return False
    return (
        Order.objects.filter(
            client_id=order.client_id,
            coach_id=order.coach_id,
            is_trial=True,
            status__in=(Order.Status.PENDING, Order.Status.PAID, Order.Status.REVIEW),
        )
        .exclude(pk=order.pk)
        .exists()
    )


TRIAL_CLASH = "a second trial with this coach: another trial was bought after this one expired"


def order_pay_by_card(*, order: Order, payment_intent: str, now: datetime) -> None:
    """Stripe says a locked order's checkout was paid, with our amount and currency. A late
    trial payment that would be the client's second trial with the coach is not delivered:
    the money is held for an admin to give back (never lost, never a second trial)."""
    if trial_clash(order):
        order_hold_for_review(
            order=order, amount=order.total_price, currency=order.currency,
            payment_intent=payment_intent, now=now, why=TRIAL_CLASH,
        )  # fmt: skip
        return
    _order_fulfil(
        order, action="pay", now=now, why="paid by card", stripe_payment_intent=payment_intent
    )


def order_hold_for_review(
    *, order: Order, amount, currency, payment_intent: str, now: datetime, why: str = ""
) -> None:
    """Stripe says a locked order was paid, but not its amount or currency (or ``why`` it
    cannot be delivered): nothing is credited, the slot is let go, and an admin decides
    (``refunds.review_fulfil`` or ``refunds.review_refund``)."""
    ORDER.move(
        order, "hold_for_review", now=now,
        why=why or f"Stripe reported {amount} {currency}; the order is {order.total_price} "
        f"{order.currency}",
        stripe_amount=amount, stripe_currency=str(currency)[:3].upper(),
        stripe_payment_intent=payment_intent,
    )  # fmt: skip
    _release_hold(order, now=now)
    _tell_payer(order.client_id)
    log.error("order %s held for review: Stripe reported %s %s", order.pk, amount, currency)


def order_expire(
    *, order: Order, now: datetime, why: str, action: str = "expire", by: User | None = None
) -> bool:
    """Expires (or cancels) a pending order and frees its held slot; False if it was not
    pending. An open Stripe checkout is closed after the commit."""
    with transaction.atomic():
        order = order_lock(order.pk)
        if order.status != Order.Status.PENDING:
            return False
        ORDER.move(order, action, by=by, now=now, why=why)
        _release_hold(order, now=now)
        _tell_payer(order.client_id)
        if order.stripe_checkout_id:
            checkout_id = order.stripe_checkout_id
            transaction.on_commit(lambda: checkouts_close_quietly([checkout_id]))
    return True


def _release_hold(order: Order, *, now: datetime) -> None:
    session = order.held_session
    if session is not None and session.status == Session.Status.HELD:
        Session.objects.filter(pk=session.pk).update(hold_expires_at=now)
        session.hold_expires_at = now
        booking.hold_lapse(session=session, now=now)


def order_expire_for_lapsed_hold(*, session: Session, now: datetime) -> None:
    """A held slot ran out (``sessions_app.signals.hold_lapsed``): its pending order expires."""
    order = Order.objects.filter(held_session=session, status=Order.Status.PENDING).first()
    if order is not None:
        order_expire(order=order, now=now, why="its hold lapsed")


def _checkout_still_payable(checkout_id: str) -> bool:
    """Closes a checkout at Stripe before our row gives up on it; False if Stripe says it
    was paid meanwhile (its webhook then fulfils the row). Stripe out of reach counts as
    closed: our row gives up anyway, and a late payment is still honoured."""
    if not checkout_id:
        return True
    try:
        return stripe_gateway.checkout_expire(checkout_id=checkout_id) != "complete"
    except stripe_gateway.PaymentsUnavailable:
        return True


def order_cancel(*, order: Order, by: User, now: datetime) -> bool:
    """The client gave up paying (Cancel on Stripe's page, or on the order's page): the
    checkout is closed and the held time is free for others at once. False if it was paid
    or given up already."""
    if order.status != Order.Status.PENDING:
        return False
    if not _checkout_still_payable(order.stripe_checkout_id):
        return False
    return order_expire(order=order, now=now, why="cancelled by the client", action="cancel", by=by)


def checkouts_close_quietly(checkout_ids: list[str]) -> None:
    """Closes open Stripe checkouts of expired orders (after commit)."""
    for checkout_id in checkout_ids:
        try:
            stripe_gateway.checkout_expire(checkout_id=checkout_id)
        except stripe_gateway.PaymentsUnavailable:
            # Stripe expires it on its own at expires_at; a late payment is still honoured.
            log.warning("could not expire checkout %s", checkout_id)


# --- Top-ups -------------------------------------------------------------------------------


def topup_start(*, user: User, amount: int, now: datetime) -> TopUp:
    low, high = settings.HSE_TOP_UP_LIMITS
    if not low <= amount <= high:
        raise PaymentError(
            f"Top up between {format_money(low, settings.HSE_CURRENCY)} and "
            f"{format_money(high, settings.HSE_CURRENCY)}."
        )
    with transaction.atomic():
        top_up = TopUp.objects.create(
            user=user, amount=amount, currency=settings.HSE_CURRENCY,
            expires_at=now + timedelta(minutes=settings.HSE_HOLD_MINUTES),
        )  # fmt: skip
        TOP_UP.record(top_up, "create", by=user, now=now, why=format_money(amount, top_up.currency))
    return top_up


def topup_checkout_url(*, top_up: TopUp) -> str:
    if top_up.stripe_checkout_url:
        return top_up.stripe_checkout_url
    wallet = settings.SITE_URL + reverse("payments:wallet")
    checkout = stripe_gateway.checkout_create(
        reference=f"topup-{top_up.pk}", name="HSE wallet top-up", amount=top_up.amount,
        currency=top_up.currency, customer_email=top_up.user.email,
        success_url=f"{wallet}?topup={top_up.pk}",
        cancel_url=cancel_url(top_up, "payments:top_up_cancel"),
        expires_at=top_up.expires_at, idempotency_key=f"hse-{row_key(top_up)}-checkout",
    )  # fmt: skip
    TopUp.objects.filter(pk=top_up.pk).update(
        stripe_checkout_id=checkout.id, stripe_checkout_url=checkout.url
    )
    return checkout.url


def topup_lock(top_up_id: int) -> TopUp | None:
    # With its owner: the wallet's and the receipt's.
    return (
        TopUp.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=top_up_id)
        .first()
    )


def _topup_credit(top_up: TopUp, *, action: str, now: datetime, why: str, by=None, **fields):
    """A locked top-up was paid: its own amount goes to the wallet, once."""
    TOP_UP.move(top_up, action, by=by, now=now, why=why, paid_at=now, **fields)
    ledger.wallet_post(
        user=top_up.user, amount=top_up.amount, reason=WalletEntry.Reason.TOP_UP,
        key=f"topup-{top_up.pk}", top_up=top_up, now=now,
    )  # fmt: skip
    emails.top_up_receipt(top_up=top_up)
    _tell_payer(top_up.user_id)


def topup_pay_by_card(*, top_up: TopUp, payment_intent: str, now: datetime) -> None:
    _topup_credit(
        top_up, action="pay", now=now, why="paid by card", stripe_payment_intent=payment_intent
    )


def topup_hold_for_review(
    *, top_up: TopUp, amount, currency, payment_intent: str, now: datetime
) -> None:
    TOP_UP.move(
        top_up, "hold_for_review", now=now,
        why=f"Stripe reported {amount} {currency}; the top-up is {top_up.amount} "
        f"{top_up.currency}",
        stripe_amount=amount, stripe_currency=str(currency)[:3].upper(),
        stripe_payment_intent=payment_intent,
    )  # fmt: skip
    _tell_payer(top_up.user_id)
    log.error("top-up %s held for review: Stripe reported %s %s", top_up.pk, amount, currency)


def topup_expire(
    *, top_up: TopUp, now: datetime, why: str, action: str = "expire", by: User | None = None
) -> bool:
    with transaction.atomic():
        top_up = topup_lock(top_up.pk)
        if top_up.status != TopUp.Status.PENDING:
            return False
        TOP_UP.move(top_up, action, by=by, now=now, why=why)
        _tell_payer(top_up.user_id)
        if top_up.stripe_checkout_id:
            checkout_id = top_up.stripe_checkout_id
            transaction.on_commit(lambda: checkouts_close_quietly([checkout_id]))
    return True


def topup_cancel(*, top_up: TopUp, by: User, now: datetime) -> bool:
    """The client left Stripe's page with Cancel: nothing is charged or credited."""
    if top_up.status != TopUp.Status.PENDING:
        return False
    if not _checkout_still_payable(top_up.stripe_checkout_id):
        return False
    return topup_expire(
        top_up=top_up, now=now, why="cancelled by the client", action="cancel", by=by
    )
