"""Emails about money and bookings, each sent after the transaction commits."""

from django.urls import reverse

from hse.emails import send_email_on_commit
from hse.money import format_money
from payments.models import Order, TopUp


def order_receipt(*, order: Order) -> None:
    send_email_on_commit(
        to=order.client,
        subject=f"Receipt for order #{order.pk}",
        template="order_receipt",
        context={"order": order, "url": reverse("payments:order_detail", args=[order.pk])},
    )


def top_up_receipt(*, top_up: TopUp) -> None:
    send_email_on_commit(
        to=top_up.user,
        subject="Your wallet was topped up",
        template="top_up_receipt",
        context={"top_up": top_up, "url": reverse("payments:wallet")},
    )


def refund_settled(*, refund) -> None:
    """The money of a refund has moved: how much, and where to."""
    to = (refund.credit or refund.order).client if refund.top_up_id is None else refund.top_up.user
    send_email_on_commit(
        to=to,
        subject=f"Refund of {format_money(refund.amount, refund.currency)}",
        template="refund_settled",
        context={"refund": refund, "url": reverse("payments:wallet")},
    )
