"""The only module that talks to Stripe, through the official SDK.

The same code serves real Stripe and the local stand-in (``stripe_standin/``): only the API
base address differs (``STRIPE_API_BASE``).
"""

from dataclasses import dataclass
from datetime import datetime

import stripe
from django.conf import settings


class PaymentsUnavailable(Exception):
    """Stripe is not configured or did not answer; the message is for people."""


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise PaymentsUnavailable("Card payments are not set up on this site.")
    options = {}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, max_network_retries=2, **options)


def checkout_create(
    *,
    reference: str,
    name: str,
    amount: int,
    currency: str,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    expires_at: datetime,
    idempotency_key: str,
) -> Checkout:
    """A hosted Checkout Session for one line; ``reference`` names our row (order-12)."""
    params = {
        "mode": "payment",
        "client_reference_id": reference,
        "metadata": {"reference": reference},
        "customer_email": customer_email,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount,
                    "product_data": {"name": name},
                },
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()),
    }
    try:
        session = _client().v1.checkout.sessions.create(
            params, {"idempotency_key": idempotency_key}
        )
    except stripe.StripeError as error:
        raise PaymentsUnavailable(
            "Card payments are unavailable right now. Try again in a minute, or pay from "
            "your wallet."
        ) from error
    return Checkout(id=session.id, url=session.url)


def checkout_expire(*, checkout_id: str) -> None:
    """Closes a Checkout Session so it can no longer be paid; already closed is fine."""
    client = _client()
    try:
        session = client.v1.checkout.sessions.retrieve(checkout_id)
        if session.status == "open":
            client.v1.checkout.sessions.expire(checkout_id)
    except stripe.StripeError as error:
        raise PaymentsUnavailable("Stripe did not answer.") from error


def refund_create(*, payment_intent: str, amount: int, idempotency_key: str) -> tuple[str, str]:
    """Refunds part or all of a payment; returns (refund id, status)."""
    try:
        refund = _client().v1.refunds.create(
            {"payment_intent": payment_intent, "amount": amount},
            {"idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise PaymentsUnavailable("Stripe did not accept the refund; try again.") from error
    return refund.id, refund.status or ""


def event_construct(*, payload: bytes, signature: str) -> stripe.Event:
    """A verified event; raises ValueError or stripe.SignatureVerificationError."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise ValueError("STRIPE_WEBHOOK_SECRET is not set")
    return stripe.Webhook.construct_event(
        payload, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=300
    )
