"""A local stand-in for Stripe's API, for development and tests (Stripe is unreachable here).

Built on the ``localstripe`` package, which provides customers, payment intents, charges,
refunds and signed webhooks. This package adds what localstripe lacks: Checkout Sessions
(create, retrieve, expire, and their expiry by time), a hosted checkout page with Pay and
Cancel buttons, ``charge.refunded`` events, idempotency keys as Stripe keeps them (the same
key with other parameters is refused), and listening on 127.0.0.1 only. The application
talks to it through the official SDK; only the base address differs.

Stripe Connect (``connect.py``): Express accounts (``/v1/accounts``), Account Links to a
hosted onboarding page (``/connect/onboarding/<token>``, single-use, with "Complete
onboarding", which enables the account and sends ``account.updated``, and "Leave for
later"), transfers (``/v1/transfers``, refused with ``insufficient_capabilities_for_transfer``
until the destination is onboarded; ``transfer.created``) and their reversals
(``/v1/transfers/<id>/reversals``; ``transfer.reversed``).

The stand-in's own controls, outside Stripe's API (no API key, like localstripe's
``/_config/``):

``POST /_standin/transfers/fail_next`` (form field ``code``, default
``balance_insufficient``)
    The next ``POST /v1/transfers`` that passes validation and is not an idempotent replay
    answers Stripe's error (400, ``invalid_request_error``, that code) and creates nothing.
    Each call arms one more failure. As at Stripe, the failure is kept for its idempotency
    key: a retry needs a new key.
``POST /_standin/transfers/<id>/reverse``
    Reverses what is left of a transfer, as the platform would in Stripe's dashboard, and
    sends ``transfer.reversed``.

For example: ``curl -d code=balance_insufficient
http://127.0.0.1:8420/_standin/transfers/fail_next``.
"""
