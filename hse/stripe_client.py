"""The one place a Stripe client is built, for the apps that talk to Stripe (payments and
payouts). The same code serves real Stripe and the local stand-in (``stripe_standin/``):
only the API base address differs (``STRIPE_API_BASE``)."""

import stripe
from django.conf import settings


def stripe_client() -> stripe.StripeClient | None:
    """A client for the configured account, or None when Stripe is not set up here; each
    caller says in its own words what that means for the person waiting."""
    if not settings.STRIPE_SECRET_KEY:
        return None
    options = {}
    if settings.STRIPE_API_BASE:
        options["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, max_network_retries=2, **options)
