import argparse
import asyncio
import html
import json
import logging
import time
import urllib.parse

from aiohttp import web
from localstripe import server as localstripe
from localstripe.errors import UserError
from localstripe.resources import Charge, Event, PaymentIntent, Store, StripeObject
from localstripe.webhooks import register_webhook, schedule_webhook

from stripe_standin import connect

log = logging.getLogger("stripe_standin")

# localstripe pickles its store to one shared file in /tmp after every write; several
# stand-ins (tests, a developer's run) must not share or clobber each other's state.
Store.dump_to_disk = lambda self: None
Store.try_load_from_disk = lambda self: None


class CheckoutSession(StripeObject):
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(self, *, base_url: str, **data):
        line_items = data.get("line_items") or []
        amount = 0
        currency = data.get("currency")
        names = []
        for item in line_items:
            price = item.get("price_data") or {}
            quantity = int(item.get("quantity") or 1)
            amount += int(price.get("unit_amount") or 0) * quantity
            currency = currency or price.get("currency")
            names.append((price.get("product_data") or {}).get("name") or "Item")
        if amount <= 0 or not currency:
            raise UserError(400, "line_items with price_data are required")
        for required in ("success_url", "cancel_url"):
            if not data.get(required):
                raise UserError(400, f"Missing required param: {required}")
        super().__init__()
        self.mode = data.get("mode") or "payment"
        self.status = "open"
        self.payment_status = "unpaid"
        self.amount_total = amount
        self.amount_subtotal = amount
        self.currency = currency.lower()
        self.client_reference_id = data.get("client_reference_id")
        self.customer_email = data.get("customer_email")
        self.metadata = data.get("metadata") or {}
        self.success_url = data["success_url"]
        self.cancel_url = data["cancel_url"]
        expires_at = int(data.get("expires_at") or time.time() + 24 * 3600)
        self.expires_at = expires_at
        self.payment_intent = None
        self.url = f"{base_url}/checkout/{self.id}"
        self._line_names = names

    def _pay(self) -> None:
        if self.status != "open":
            raise UserError(400, f"This Checkout Session is {self.status}.")
        intent = PaymentIntent._api_create(
            amount=self.amount_total,
            currency=self.currency,
            payment_method="pm_card_visa",
            confirm=True,
        )
        self.payment_intent = intent.id
        self.status = "complete"
        self.payment_status = "paid"
        schedule_webhook(Event("checkout.session.completed", self))

    def _expire(self) -> None:
        if self.status == "complete":
            raise UserError(400, "A completed Checkout Session cannot be expired.")
        if self.status == "open":
            self.status = "expired"
            schedule_webhook(Event("checkout.session.expired", self))


# Answers kept per (path, Idempotency-Key): the request's parameters, status and body.
_idempotent: dict[tuple[str, str], tuple[str, int, bytes]] = {}
_in_flight: set[tuple[str, str]] = set()


async def _fingerprint(request) -> str:
    """The request's parameters, whatever order the client encoded them in."""
    body = await request.read()
    try:
        return json.dumps(json.loads(body), sort_keys=True)
    except ValueError:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return json.dumps(sorted(pairs))


def _idempotency_error(status: int, message: str, *, code: str | None = None) -> web.Response:
    error = {"type": "idempotency_error", "message": message}
    if code:
        error = {**error, "type": "invalid_request_error", "code": code}
    return localstripe.json_response({"error": error}, status=status)


@web.middleware
async def idempotency(request, handler):
    """Stripe's idempotency keys: a POST repeated with the same key and parameters gets the
    first answer again (marked Idempotent-Replayed) and does nothing twice; the same key
    with other parameters is refused. As at Stripe, an answer is kept once the request got
    past validating its parameters (successes, and errors such as a refused transfer);
    an error in the parameters is not kept, so the corrected request may reuse the key."""
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await handler(request)
    if len(key) > 255:
        return localstripe.json_response(
            {"error": {"type": "invalid_request_error", "param": "Idempotency-Key",
                       "message": "Idempotency keys can be at most 255 characters long."}},
            status=400,
        )  # fmt: skip
    fingerprint = await _fingerprint(request)
    cache_key = (request.path, key)
    if cache_key in _idempotent:
        kept, status, body = _idempotent[cache_key]
        if kept != fingerprint:
            return _idempotency_error(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
            )
        return web.Response(
            status=status, body=body, content_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )  # fmt: skip
    if cache_key in _in_flight:
        return _idempotency_error(
            409,
            "There is currently another in-progress request using this Stripe API key and "
            "idempotency key. Please try again later.",
            code="idempotency_key_in_use",
        )
    _in_flight.add(cache_key)
    try:
        try:
            response = await handler(request)
            keep = response.status < 500
        except UserError as error:
            response = error.to_response()
            keep = bool(getattr(error, "executed", False))
    finally:
        _in_flight.discard(cache_key)
    if keep:
        _idempotent[cache_key] = (fingerprint, response.status, response.body)
    return response


@web.middleware
async def refund_events(request, handler):
    """localstripe records refunds but sends no event; Stripe sends charge.refunded."""
    response = await handler(request)
    if request.method == "POST" and request.path == "/v1/refunds" and response.status == 200:
        refund = json.loads(response.body)
        schedule_webhook(Event("charge.refunded", Charge._api_retrieve(refund["charge"])))
    return response


@web.middleware
async def hosted_pages_are_public(request, handler):
    # The hosted checkout and onboarding pages are opened by a person's browser, without an
    # API key; the stand-in's own controls are as open as localstripe's /_config/.
    if request.path.startswith(("/checkout/", "/connect/", "/_standin/")):
        return await handler(request)
    return await localstripe.auth_middleware(request, handler)


def _base_url(request) -> str:
    return f"{request.scheme}://{request.host}"


def _session(request) -> CheckoutSession:
    return CheckoutSession._api_retrieve(request.match_info["id"])


async def create_session(request):
    data = await localstripe.get_post_data(request) or {}
    session = CheckoutSession(base_url=_base_url(request), **data)
    return localstripe.json_response(session._export())


async def retrieve_session(request):
    return localstripe.json_response(_session(request)._export())


async def expire_session(request):
    session = _session(request)
    session._expire()
    return localstripe.json_response(session._export())


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout (test mode)</title>
<style>body{{margin:0;font:16px/1.5 system-ui,sans-serif;background:#f6f9fc;color:#1a1f36}}
.box{{max-width:420px;margin:48px auto;background:#fff;border-radius:12px;padding:28px;
box-shadow:0 6px 24px rgba(50,50,93,.12)}}.test{{display:inline-block;background:#fff3cd;
color:#7a5b00;border-radius:6px;padding:2px 8px;font-size:12px;font-weight:600}}
.amount{{font-size:32px;font-weight:700;margin:8px 0}}button{{width:100%;padding:12px;border:0;
border-radius:8px;font:inherit;font-weight:600;cursor:pointer;margin-top:10px}}
.pay{{background:#635bff;color:#fff}}
.cancel{{background:#fff;color:#1a1f36;border:1px solid #e3e8ee}}
.muted{{color:#697386;font-size:14px}}</style></head><body><div class="box">
<span class="test">TEST MODE · local Stripe stand-in</span>
<p class="muted">{email}</p><div>{names}</div><div class="amount">{amount}</div>
{body}</div></body></html>"""


def _render(session: CheckoutSession, body: str) -> web.Response:
    amount = f"{session.amount_total / 100:,.2f} {session.currency.upper()}"
    names = "<br>".join(html.escape(name) for name in session._line_names)
    page = PAGE.format(
        email=html.escape(session.customer_email or ""), names=names, amount=amount, body=body
    )
    return web.Response(text=page, content_type="text/html")


async def checkout_page(request):
    session = _session(request)
    if session.status != "open":
        return _render(session, f"<p>This checkout is <strong>{session.status}</strong>.</p>")
    form = (
        f'<form method="post" action="/checkout/{session.id}/pay">'
        '<p class="muted">Card 4242 4242 4242 4242 · any date · any CVC</p>'
        '<button class="pay" type="submit">Pay</button></form>'
        f'<form method="post" action="/checkout/{session.id}/cancel">'
        '<button class="cancel" type="submit">Cancel</button></form>'
    )
    return _render(session, form)


async def checkout_pay(request):
    session = _session(request)
    session._pay()
    target = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id)
    raise web.HTTPSeeOther(target)


async def checkout_cancel(request):
    session = _session(request)
    raise web.HTTPSeeOther(session.cancel_url.replace("{CHECKOUT_SESSION_ID}", session.id))


async def expire_due_sessions(app):
    async def loop():
        while True:
            now = time.time()
            for value in list(localstripe.store.values()):
                if (
                    isinstance(value, CheckoutSession)
                    and value.status == "open"
                    and value.expires_at <= now
                ):
                    value._expire()
            await asyncio.sleep(2)

    task = asyncio.ensure_future(loop())
    yield
    task.cancel()


def build_app() -> web.Application:
    app = localstripe.app
    middlewares = app.middlewares
    middlewares[middlewares.index(localstripe.auth_middleware)] = hosted_pages_are_public
    middlewares.insert(1, idempotency)
    middlewares.append(refund_events)
    app.router.add_post("/v1/checkout/sessions", create_session)
    app.router.add_get("/v1/checkout/sessions/{id}", retrieve_session)
    app.router.add_post("/v1/checkout/sessions/{id}/expire", expire_session)
    app.router.add_get("/checkout/{id}", checkout_page)
    app.router.add_post("/checkout/{id}/pay", checkout_pay)
    app.router.add_post("/checkout/{id}/cancel", checkout_cancel)
    connect.add_routes(app)
    app.cleanup_ctx.append(expire_due_sessions)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Local Stripe stand-in (test mode).")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--webhook-url", help="where to deliver signed events")
    parser.add_argument("--webhook-secret", help="the whsec_... secret to sign them with")
    parser.add_argument(
        "--account-link-seconds", type=int, default=connect.ACCOUNT_LINK_SECONDS,
        help="how long an onboarding link stays usable (Stripe: a few minutes)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.account_link_seconds < 1:
        parser.error("--account-link-seconds must be at least 1")
    connect.ACCOUNT_LINK_SECONDS = args.account_link_seconds
    logging.basicConfig(level=logging.INFO, format="stripe-standin %(message)s")
    if args.webhook_url:
        if not args.webhook_secret:
            parser.error("--webhook-secret is needed with --webhook-url")
        register_webhook("hse", args.webhook_url, args.webhook_secret, None)
    web.run_app(build_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)
