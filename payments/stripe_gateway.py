"""The payments' calls to Stripe, through the official SDK (payouts make their own, in
``payouts/stripe_connect.py``, with the same client from ``hse.stripe_client``).

The same code serves real Stripe and the local stand-in (``stripe_standin/``): only the API
base address differs (``STRIPE_API_BASE``).
"""

import json
from dataclasses import dataclass
from datetime import datetime

import stripe
from django.conf import settings

from hse.bounds import small_int
from hse.stripe_client import stripe_client


class PaymentsUnavailable(Exception):
    """Stripe is not configured or did not answer; the message is for people."""


@dataclass(frozen=True)
class Checkout:
    id: str
    url: str


def _client() -> stripe.StripeClient:
    client = stripe_client()
    if client is None:
        raise PaymentsUnavailable("Card payments are not set up on this site.")
    return client


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


def checkout_expire(*, checkout_id: str) -> str:
    """Closes a Checkout Session so it can no longer be paid; already closed is fine.
    Returns its status after: "expired", or "complete" when it was paid first."""
    client = _client()
    try:
        session = client.v1.checkout.sessions.retrieve(checkout_id)
        if session.status == "open":
            session = client.v1.checkout.sessions.expire(checkout_id)
    except stripe.InvalidRequestError:
        # Paid between the two calls: Stripe refuses to expire a complete session.
        try:
            session = client.v1.checkout.sessions.retrieve(checkout_id)
        except stripe.StripeError as error:
            raise PaymentsUnavailable("Stripe did not answer.") from error
    except stripe.StripeError as error:
        raise PaymentsUnavailable("Stripe did not answer.") from error
    return str(session.status)


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


def refund_status(*, refund_id: str) -> str:
    """Stripe's word on one of its refunds: succeeded, pending, failed, canceled…"""
    try:
        refund = _client().v1.refunds.retrieve(refund_id)
    except stripe.StripeError as error:
        raise PaymentsUnavailable("Stripe did not answer about the refund.") from error
    return refund.status or ""


class BadEvent(ValueError):
    """Not a Stripe event we accept: a bad or stale signature, or a body of the wrong shape.
    The message says which."""


# Seconds a signature's timestamp may differ from our clock, either way (Stripe's default).
SIGNATURE_TOLERANCE = 300


def event_verify(*, payload: bytes, signature: str, now: float) -> tuple[str, str, dict]:
    """(event id, type, data.object) of a webhook whose signature is ours and recent, and
    whose body is an event's shape; raises BadEvent otherwise. ``now``: Unix seconds.
    Stripe signs the account's endpoint and the Connect endpoint (events about coaches'
    accounts) with a secret each; a signature by either configured secret is accepted."""
    secrets = [
        secret
        for secret in (settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_CONNECT_WEBHOOK_SECRET)
        if secret
    ]
    if not secrets:
        raise BadEvent("webhooks are not set up (STRIPE_WEBHOOK_SECRET)")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, secret, tolerance=SIGNATURE_TOLERANCE
            )
            break
        except (stripe.SignatureVerificationError, ValueError):
            continue
    else:
        raise BadEvent("invalid signature")
    # The SDK refuses a timestamp too old; one from the future is refused here.
    stamps = [part.strip()[2:] for part in signature.split(",") if part.strip().startswith("t=")]
    stamp = small_int(stamps[0], digits=12) if stamps else None
    if stamp is None:
        raise BadEvent("invalid signature")
    if stamp > now + SIGNATURE_TOLERANCE:
        raise BadEvent("signature timestamp is in the future")
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as error:
        raise BadEvent("the body is not JSON") from error
    if not isinstance(body, dict):
        raise BadEvent("not an event: it must be a JSON object")
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    event_id, event_type = body.get("id"), body.get("type")
    if not (isinstance(event_id, str) and event_id and isinstance(event_type, str) and event_type):
        raise BadEvent("not an event: it needs an id and a type")
    if not isinstance(obj, dict):
        raise BadEvent("not an event: it needs data.object")
    if len(event_id) > 255 or len(event_type) > 100:
        raise BadEvent("the event's id or type is too long")
    return event_id, event_type, obj
