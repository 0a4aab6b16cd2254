"""The payments' timer: unpaid orders and top-ups whose time is up expire, and the slots the
orders held are freed, a locked batch at a time (SKIP LOCKED: two sweeps at once share the
work; an order being paid right now is left to its payment). Open Stripe checkouts are
closed after the commit."""

from datetime import datetime

from django.db import transaction

from hse.sweeps import in_locked_batches
from payments.models import Order, TopUp
from payments.services import ORDER, TOP_UP, checkouts_close_quietly
from sessions_app import booking


def holds_expire_due(*, now: datetime, batch: int = 1000) -> int:
    due = (
        Order.objects.filter(status=Order.Status.PENDING, expires_at__lte=now)
        .order_by("expires_at", "pk")
        .values_list("pk", "held_session_id", "stripe_checkout_id")
    )

    def handle(orders):
        expired = ORDER.move_many(
            [pk for pk, _, _ in orders], "expire", now=now, why="not paid in time"
        )
        booking.holds_lapse_many(ids=[session for _, session, _ in orders if session], now=now)
        _close_after_commit([checkout for _, _, checkout in orders if checkout])
        return len(expired)

    return in_locked_batches(due, handle, batch=batch)


def top_ups_expire_due(*, now: datetime, batch: int = 1000) -> int:
    due = (
        TopUp.objects.filter(status=TopUp.Status.PENDING, expires_at__lte=now)
        .order_by("expires_at", "pk")
        .values_list("pk", "stripe_checkout_id")
    )

    def handle(rows):
        ids = [pk for pk, _ in rows]
        expired = TOP_UP.move_many(ids, "expire", now=now, why="not paid in time")
        _close_after_commit([checkout for _, checkout in rows if checkout])
        return len(expired)

    return in_locked_batches(due, handle, batch=batch)


def _close_after_commit(checkouts: list[str]) -> None:
    if checkouts:
        transaction.on_commit(lambda: checkouts_close_quietly(checkouts))
