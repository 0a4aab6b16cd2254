"""Stripe's events, each acted on once. An event is a trigger, not a source of truth: the
amounts that count are our own rows', and Stripe's word is only compared with them. A paid
checkout whose amount or currency is not ours fulfils nothing: it waits for an admin."""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction

from payments import refunds, services
from payments.models import Order, StripeEvent, TopUp
from payments.stripe_gateway import BadEvent
from payouts import services as payouts
from payouts.stripe_connect import Transfer

log = logging.getLogger(__name__)


def stripe_event_process(*, event_id: str, event_type: str, obj: dict, now: datetime) -> bool:
    """Acts on one verified event, once: the event id is recorded in the same transaction
    as its effects, so a replay (even a concurrent one) finds it and changes nothing.
    Returns False for a replay; raises BadEvent (before anything is written) for an event we
    act on whose object lacks what we need."""
    handler = _HANDLERS.get(event_type)
    parsed = handler.parse(obj) if handler is not None else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                StripeEvent.objects.create(event_id=event_id, type=event_type, received_at=now)
        except IntegrityError:
            return False
        if handler is not None and parsed is not None:
            handler.act(parsed, now)
    return True


def _text(obj: dict, name: str, *, required: bool = False) -> str:
    value = obj.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadEvent(f"{name} must be a string")
    return value


def _whole(obj: dict, name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadEvent(f"{name} must be a whole number")
    return value


class _Checkout:
    """A Checkout Session event names our row (order-12, topup-3) in its reference."""

    @staticmethod
    def reference(obj: dict) -> tuple[str, int] | None:
        metadata = obj.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise BadEvent("metadata must be an object")
        reference = _text(obj, "client_reference_id") or (
            _text(metadata, "reference") if metadata else ""
        )
        kind, _, number = reference.partition("-")
        if kind in {"order", "topup"} and number.isdecimal() and len(number) < 19:
            return kind, int(number)
        return None

    @staticmethod
    def payment_intent(obj: dict) -> str:
        value = obj.get("payment_intent")
        if isinstance(value, dict):
            value = value.get("id")
        if value is not None and not isinstance(value, str):
            raise BadEvent("payment_intent must be an id")
        return (value or "")[:255]


class _Completed(_Checkout):
    @classmethod
    def parse(cls, obj: dict):
        reference = cls.reference(obj)
        status = _text(obj, "payment_status")
        amount, currency = _whole(obj, "amount_total"), _text(obj, "currency")
        if reference is None or status != "paid":
            return None  # nothing of ours, or not paid yet (a delayed method)
        return reference, amount, currency, cls.payment_intent(obj)

    @staticmethod
    def act(parsed, now: datetime) -> None:
        (kind, pk), amount, currency, payment_intent = parsed
        lock = services.order_lock if kind == "order" else services.topup_lock
        row = lock(pk)
        if row is None:
            log.error("a paid checkout for %s %s, which does not exist", kind, pk)
            return
        if row.status not in (row.Status.PENDING, row.Status.EXPIRED, row.Status.CANCELLED):
            return  # paid already, or held for review
        price = row.total_price if kind == "order" else row.amount
        ours = amount == price and currency.upper() == row.currency.upper()
        if kind == "order" and ours:
            services.order_pay_by_card(order=row, payment_intent=payment_intent, now=now)
        elif kind == "order":
            services.order_hold_for_review(
                order=row, amount=amount, currency=currency, payment_intent=payment_intent,
                now=now,
            )  # fmt: skip
        elif ours:
            services.topup_pay_by_card(top_up=row, payment_intent=payment_intent, now=now)
        else:
            services.topup_hold_for_review(
                top_up=row, amount=amount, currency=currency, payment_intent=payment_intent,
                now=now,
            )  # fmt: skip


class _Expired(_Checkout):
    @classmethod
    def parse(cls, obj: dict):
        return cls.reference(obj)

    @staticmethod
    def act(parsed, now: datetime) -> None:
        kind, pk = parsed
        if kind == "order":
            order = Order.objects.filter(pk=pk).first()
            if order is not None:
                services.order_expire(order=order, now=now, why="its Stripe checkout expired")
        else:
            top_up = TopUp.objects.filter(pk=pk).first()
            if top_up is not None:
                services.topup_expire(top_up=top_up, now=now, why="its Stripe checkout expired")


class _Refunded:
    """A charge was refunded: the refunds it lists that are ours have reached the card.
    Newer API versions list none on the charge; the timer then asks Stripe about ours."""

    @staticmethod
    def parse(obj: dict):
        listed = obj.get("refunds")
        if listed is None:
            return []
        items = listed.get("data") if isinstance(listed, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise BadEvent("refunds.data must be a list of refunds")
        return [(_text(item, "id"), _text(item, "status")) for item in items]

    @staticmethod
    def act(parsed, now: datetime) -> None:
        for refund_id, status in parsed:
            refunds.refund_stripe_reported(refund_id=refund_id, status=status, now=now)


class _RefundUpdated(_Refunded):
    """One refund's outcome (``charge.refund.updated``, ``refund.updated``)."""

    @staticmethod
    def parse(obj: dict):
        return [(_text(obj, "id", required=True), _text(obj, "status"))]


class _AccountUpdated:
    """A connected account changed (Connect): its state is read from Stripe after commit,
    since these events may come out of order."""

    @staticmethod
    def parse(obj: dict):
        return _text(obj, "id", required=True)[:255]

    @staticmethod
    def act(parsed, now: datetime) -> None:
        payouts.account_stripe_updated(account_id=parsed, now=now)


class _TransferEvent:
    """A transfer to a coach's account; its payout is found by the transfer's id (or the
    payout and attempt named in its metadata) and compared before anything is recorded."""

    @staticmethod
    def _ref(metadata: dict | None, name: str) -> int | None:
        text = _text(metadata, name) if metadata else ""
        return int(text) if text.isdecimal() and len(text) < 10 else None

    @staticmethod
    def _reversals(obj: dict) -> tuple[tuple[str, int], ...]:
        listed = obj.get("reversals")
        if listed is None:
            return ()
        items = listed.get("data") if isinstance(listed, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise BadEvent("reversals.data must be a list of reversals")
        found = []
        for item in items:
            amount = _whole(item, "amount")
            if amount is None or amount <= 0:
                raise BadEvent("a reversal needs a positive amount")
            found.append((_text(item, "id", required=True)[:60], amount))
        return tuple(found)

    @classmethod
    def parse(cls, obj: dict):
        transfer_id = _text(obj, "id", required=True)[:255]
        amount = _whole(obj, "amount")
        if amount is None:
            raise BadEvent("amount is required")
        destination = obj.get("destination")
        if isinstance(destination, dict):
            destination = destination.get("id")
        if destination is not None and not isinstance(destination, str):
            raise BadEvent("destination must be an account id")
        metadata = obj.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise BadEvent("metadata must be an object")
        # A whole reversal fails the payout; each partial one puts its amount back.
        taken_back = _whole(obj, "amount_reversed") or 0
        reversed_ = obj.get("reversed") is True or (amount > 0 and taken_back >= amount)
        return Transfer(
            id=transfer_id, amount=amount, currency=_text(obj, "currency").upper(),
            destination=(destination or "")[:255], reversed=reversed_,
            payout_ref=cls._ref(metadata, "payout"), attempt=cls._ref(metadata, "attempt"),
            reversals=() if reversed_ else cls._reversals(obj),
        )  # fmt: skip

    @staticmethod
    def act(parsed, now: datetime) -> None:
        payouts.payout_transfer_reported(transfer=parsed, now=now)


_HANDLERS = {
    "account.updated": _AccountUpdated,
    "transfer.created": _TransferEvent,
    "transfer.updated": _TransferEvent,
    "transfer.reversed": _TransferEvent,
    "checkout.session.completed": _Completed,
    "checkout.session.expired": _Expired,
    "charge.refunded": _Refunded,
    "charge.refund.updated": _RefundUpdated,
    "refund.updated": _RefundUpdated,
}
