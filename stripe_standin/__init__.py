"""A local stand-in for Stripe's API, for development and tests (Stripe is unreachable here).

Built on the ``localstripe`` package, which provides customers, payment intents, charges,
refunds and signed webhooks. This package adds what localstripe lacks: Checkout Sessions
(create, retrieve, expire, and their expiry by time), a hosted checkout page with Pay and
Cancel buttons, ``charge.refunded`` events, idempotency keys, and listening on 127.0.0.1
only. The application talks to it through the official SDK; only the base address differs.
"""
