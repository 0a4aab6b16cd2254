"""Stripe Connect in the stand-in: Express accounts, Account Links with a hosted onboarding
page, transfers to connected accounts and their reversals, in Stripe's API shapes.

The stand-in's own controls for tests and for trying things by hand live outside Stripe's
namespace, under ``/_standin/`` (see the package's docstring).
"""

import html
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass

from aiohttp import web
from localstripe import server as localstripe
from localstripe.errors import UserError
from localstripe.resources import Event, List, StripeObject, random_id, store
from localstripe.webhooks import schedule_webhook

# Stripe's own limits on metadata and amounts (eight digits in minor units).
METADATA_KEYS = 50
METADATA_KEY_LENGTH = 40
METADATA_VALUE_LENGTH = 500
MAX_AMOUNT = 99_999_999
TEXT_LENGTH = 5000
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Stripe's Account Links expire a few minutes after they are made (--account-link-seconds).
ACCOUNT_LINK_SECONDS = 300

# What Stripe lists as due for a new Express account before onboarding.
ONBOARDING_DUE = [
    "business_profile.mcc",
    "business_profile.url",
    "external_account",
    "individual.address.city",
    "individual.address.line1",
    "individual.address.postal_code",
    "individual.dob.day",
    "individual.dob.month",
    "individual.dob.year",
    "individual.email",
    "individual.first_name",
    "individual.last_name",
    "individual.phone",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]
DEFAULT_CURRENCIES = {
    "US": "usd", "CA": "cad", "GB": "gbp", "AU": "aud", "CH": "chf", "JP": "jpy",
    "DE": "eur", "FR": "eur", "ES": "eur", "IT": "eur", "NL": "eur", "IE": "eur",
    "AT": "eur", "BE": "eur", "PT": "eur", "FI": "eur",
}  # fmt: skip
FAILURE_MESSAGES = {
    "balance_insufficient": "You have insufficient available funds in your Stripe account. "
    "Try adding funds directly to your available balance by creating Charges using the "
    "4000000000000077 test card.",
}


class StripeError(UserError):
    """An error in Stripe's shape: {"error": {type, code, message, param, doc_url}}.

    ``executed``: the request got past validation, so Stripe keeps this answer for its
    idempotency key (a retry with that key gets the same error back); errors in the
    parameters themselves are not kept, and a corrected retry with the key runs anew."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        kind: str = "invalid_request_error",
        executed: bool = False,
    ):
        contents: dict = {}
        if code:
            contents["code"] = code
            contents["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            contents["param"] = param
        super().__init__(status, message, contents)
        self.body["error"]["type"] = kind
        self.executed = executed


def _missing(kind: str, value: str, *, param: str, status: int = 404) -> StripeError:
    return StripeError(status, f"No such {kind}: '{value}'", code="resource_missing", param=param)


def _only(data: dict, allowed: set[str]) -> None:
    for name in data:
        if name not in allowed:
            raise StripeError(400, f"Received unknown parameter: {name}", param=name)


def _text(data: dict, name: str, *, required: bool = False, limit: int = TEXT_LENGTH):
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise StripeError(400, f"Missing required param: {name}.", param=name)
        return None
    if not isinstance(value, str) or len(value) > limit or CONTROL.search(value):
        raise StripeError(400, f"Invalid string: {name} (at most {limit} characters)", param=name)
    return value


def _amount(data: dict, name: str = "amount", *, required: bool = True):
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise StripeError(400, f"Missing required param: {name}.", param=name)
        return None
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,9}", str(value)):
        raise StripeError(400, f"Invalid integer: {value}", param=name)
    amount = int(value)
    if not 1 <= amount <= MAX_AMOUNT:
        raise StripeError(
            400, f"This value must be between 1 and {MAX_AMOUNT}.", param=name,
            code="parameter_invalid_integer",
        )  # fmt: skip
    return amount


def _metadata(data: dict) -> dict | None:
    """Metadata as Stripe takes it; an empty string for a key (or for the whole) unsets."""
    value = data.get("metadata")
    if value is None:
        return None
    if value == "":
        return {}
    if not isinstance(value, dict) or len(value) > METADATA_KEYS:
        raise StripeError(400, f"Invalid metadata: at most {METADATA_KEYS} keys.", param="metadata")
    for key, item in value.items():
        if len(key) > METADATA_KEY_LENGTH or not isinstance(item, str):
            raise StripeError(400, f"Invalid metadata key: {key[:60]}", param=f"metadata[{key}]")
        if len(item) > METADATA_VALUE_LENGTH:
            raise StripeError(
                400, f"Metadata values can have up to {METADATA_VALUE_LENGTH} characters.",
                param=f"metadata[{key}]",
            )  # fmt: skip
    return value


def _merge_metadata(current: dict, update: dict | None) -> dict:
    if update is None:
        return current
    if update == {}:
        return {}
    merged = {**current, **update}
    return {key: item for key, item in merged.items() if item != ""}


def _url(data: dict, name: str) -> str:
    value = _text(data, name, required=True, limit=2048)
    if not re.match(r"^https?://[^\s/]+", value):
        raise StripeError(400, f"Not a valid URL: {name}", param=name, code="url_invalid")
    return value


def _list(url: str, items: list, query: dict, *, filters: tuple[str, ...] = ()) -> dict:
    """A page of ``items`` (newest first, as Stripe lists) in Stripe's list shape."""
    _only(query, {"limit", "starting_after", "expand", *filters})
    limit = query.get("limit")
    if limit is not None and not re.fullmatch(r"[0-9]{1,3}", str(limit)):
        raise StripeError(400, f"Invalid integer: {limit}", param="limit")
    if limit is not None and not 1 <= int(limit) <= 100:
        raise StripeError(400, "This value must be between 1 and 100.", param="limit")
    page = List(url, limit=limit, starting_after=query.get("starting_after"))
    page._list = list(reversed(items))
    return page._export()


def _stored(cls) -> list:
    return [item for key, item in store.items() if key.startswith(f"{cls.object}:")]


class Account(StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(self, **data):
        _only(
            data,
            {"type", "email", "country", "capabilities", "business_type", "metadata",
             "default_currency"},
        )  # fmt: skip
        kind = data.get("type")
        if kind not in ("express", "standard", "custom"):
            raise StripeError(400, "Missing required param: type.", param="type")
        country = (data.get("country") or "US").upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise StripeError(400, f"Invalid country: {country[:10]}", param="country")
        business_type = data.get("business_type")
        if business_type not in (None, "individual", "company", "non_profit", "government_entity"):
            raise StripeError(400, "Invalid business_type.", param="business_type")
        capabilities = data.get("capabilities") or {}
        if not isinstance(capabilities, dict):
            raise StripeError(400, "Invalid capabilities.", param="capabilities")
        requested = []
        for name, ask in capabilities.items():
            if not re.fullmatch(r"[a-z_]{1,60}", name) or not isinstance(ask, dict):
                raise StripeError(400, f"Invalid capability: {name[:60]}", param="capabilities")
            if str(ask.get("requested")).lower() == "true":
                requested.append(name)
        email = _text(data, "email", limit=800)
        metadata = _metadata(data) or {}
        currency = data.get("default_currency") or DEFAULT_CURRENCIES.get(country, "usd")
        if not re.fullmatch(r"[a-zA-Z]{3}", str(currency)):
            raise StripeError(400, "Invalid currency.", param="default_currency")
        # All validation before this point: creating stores the object.
        super().__init__()
        self.type = kind
        self.email = email
        self.country = country
        self.default_currency = currency.lower()
        self.business_type = business_type
        self.metadata = metadata
        self.charges_enabled = False
        self.payouts_enabled = False
        self.details_submitted = False
        self.capabilities = {name: "inactive" for name in requested}
        self.requirements = {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": list(ONBOARDING_DUE),
            "disabled_reason": "requirements.past_due",
            "errors": [],
            "eventually_due": list(ONBOARDING_DUE),
            "past_due": list(ONBOARDING_DUE),
            "pending_verification": [],
        }
        self.future_requirements = {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": [],
            "disabled_reason": None,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        }
        self.business_profile = {
            "mcc": None, "name": None, "product_description": None, "support_email": None,
            "support_phone": None, "support_url": None, "url": None,
        }  # fmt: skip
        self.settings = {
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            }
        }
        self.tos_acceptance = {"date": None, "ip": None, "user_agent": None}
        self.external_accounts = {
            "object": "list", "data": [], "has_more": False, "total_count": 0,
            "url": f"/v1/accounts/{self.id}/external_accounts",
        }  # fmt: skip
        if kind == "express":
            self.controller = {
                "fees": {"payer": "application_express"},
                "is_controller": True,
                "losses": {"payments": "application"},
                "requirement_collection": "stripe",
                "stripe_dashboard": {"type": "express"},
                "type": "application",
            }
        else:
            self.controller = {"is_controller": True, "type": "application"}

    @classmethod
    def _api_retrieve(cls, id):
        found = store.get(f"{cls.object}:{id}")
        if found is None:
            raise _missing("account", id, param="account")
        return found

    def _complete_onboarding(self, *, now: int) -> None:
        """What finishing Stripe's hosted onboarding does; sends account.updated once."""
        if self.details_submitted:
            return
        before = {
            "capabilities": dict(self.capabilities),
            "charges_enabled": self.charges_enabled,
            "details_submitted": self.details_submitted,
            "payouts_enabled": self.payouts_enabled,
            "requirements": dict(self.requirements),
            "tos_acceptance": dict(self.tos_acceptance),
        }
        self.details_submitted = True
        self.charges_enabled = True
        self.payouts_enabled = True
        self.capabilities = {name: "active" for name in self.capabilities}
        self.requirements = {
            **self.requirements,
            "currently_due": [],
            "disabled_reason": None,
            "eventually_due": [],
            "past_due": [],
        }
        self.tos_acceptance = {"date": now, "ip": "127.0.0.1", "user_agent": "stripe-standin"}
        _send("account.updated", self, account=self.id, previous=before)


def _send(kind: str, obj: StripeObject, *, account: str | None = None, previous=None) -> None:
    event = Event(kind, obj)
    if account:
        # Events about a connected account say which one, as Connect webhooks do.
        event.account = account
    if previous is not None:
        event.data["previous_attributes"] = previous
    schedule_webhook(event)


@dataclass
class AccountLink:
    account: str
    refresh_url: str
    return_url: str
    created: int
    expires_at: int
    url: str
    opened: bool = False
    finished: bool = False

    def _export(self) -> dict:
        return {
            "object": "account_link",
            "created": self.created,
            "expires_at": self.expires_at,
            "url": self.url,
        }


# Onboarding links by their secret token (Stripe has no API to read them back).
_links: dict[str, AccountLink] = {}


class TransferReversal(StripeObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, *, transfer: "Transfer", amount: int, metadata: dict):
        super().__init__()
        self.amount = amount
        self.currency = transfer.currency
        self.transfer = transfer.id
        self.metadata = metadata
        self.balance_transaction = "txn_" + random_id(24)
        self.destination_payment_refund = "pyr_" + random_id(24)
        self.source_refund = None


class Transfer(StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(self, **fields):
        super().__init__()
        self.amount = fields["amount"]
        self.amount_reversed = 0
        self.currency = fields["currency"]
        self.description = fields["description"]
        self.destination = fields["destination"]
        self.metadata = fields["metadata"]
        self.transfer_group = fields["transfer_group"]
        self.balance_transaction = "txn_" + random_id(24)
        self.destination_payment = "py_" + random_id(24)
        self.source_transaction = None
        self.source_type = "card"
        self._reversals: list[TransferReversal] = []

    @classmethod
    def _api_retrieve(cls, id):
        found = store.get(f"{cls.object}:{id}")
        if found is None:
            raise _missing("transfer", id, param="id")
        return found

    @property
    def reversed(self) -> bool:
        return self.amount_reversed >= self.amount

    @property
    def reversals(self) -> dict:
        return {
            "object": "list",
            "data": [item._export() for item in reversed(self._reversals)],
            "has_more": False,
            "total_count": len(self._reversals),
            "url": f"/v1/transfers/{self.id}/reversals",
        }

    def _reverse(self, amount: int | None, metadata: dict | None = None) -> TransferReversal:
        left = self.amount - self.amount_reversed
        if left <= 0:
            raise StripeError(400, f"Transfer {self.id} has already been fully reversed.")
        amount = left if amount is None else amount
        if amount > left:
            raise StripeError(
                400, f"The amount to reverse ({amount}) is more than the {left} left of "
                f"transfer {self.id}.", param="amount",
            )  # fmt: skip
        reversal = TransferReversal(transfer=self, amount=amount, metadata=metadata or {})
        self._reversals.append(reversal)
        self.amount_reversed += amount
        _send("transfer.reversed", self)
        return reversal


# Failures armed by POST /_standin/transfers/fail_next, used one per transfer, in order.
_failures: deque[str] = deque()


def _base_url(request) -> str:
    return f"{request.scheme}://{request.host}"


def _json(obj: dict) -> web.Response:
    return localstripe.json_response(obj)


async def _post_data(request) -> dict:
    data = await localstripe.get_post_data(request) or {}
    if not isinstance(data, dict):
        raise StripeError(400, "The request body must be form-encoded parameters.")
    return data


def _query(request) -> dict:
    return localstripe.unflatten_data(request.query)


# -- Accounts -------------------------------------------------------------------------------


async def account_create(request):
    data = await _post_data(request)
    expand = data.pop("expand", None)
    return _json(Account(**data)._export(expand=expand))


async def account_retrieve(request):
    expand = _query(request).get("expand")
    return _json(Account._api_retrieve(request.match_info["id"])._export(expand=expand))


async def account_update(request):
    account = Account._api_retrieve(request.match_info["id"])
    data = await _post_data(request)
    expand = data.pop("expand", None)
    _only(data, {"metadata", "email"})
    metadata = _metadata(data)
    email = _text(data, "email", limit=800) if "email" in data else account.email
    account.metadata = _merge_metadata(account.metadata, metadata)
    account.email = email
    return _json(account._export(expand=expand))


async def account_list(request):
    return _json(_list("/v1/accounts", _stored(Account), _query(request)))


# -- Account Links and the hosted onboarding page -------------------------------------------


async def account_link_create(request):
    data = await _post_data(request)
    _only(data, {"account", "refresh_url", "return_url", "type", "collect", "expand"})
    account_id = _text(data, "account", required=True, limit=255)
    refresh_url = _url(data, "refresh_url")
    return_url = _url(data, "return_url")
    if data.get("type") not in ("account_onboarding", "account_update"):
        raise StripeError(400, "Missing required param: type.", param="type")
    if data.get("collect") not in (None, "currently_due", "eventually_due"):
        raise StripeError(400, "Invalid collect.", param="collect")
    if store.get(f"account:{account_id}") is None:
        raise _missing("account", account_id, param="account", status=400)
    token = secrets.token_urlsafe(24)
    now = int(time.time())
    link = AccountLink(
        account=account_id, refresh_url=refresh_url, return_url=return_url, created=now,
        expires_at=now + ACCOUNT_LINK_SECONDS,
        url=f"{_base_url(request)}/connect/onboarding/{token}",
    )  # fmt: skip
    _links[token] = link
    return _json(link._export())


ONBOARDING_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Set up payouts (test mode)</title>
<style>body{{margin:0;font:16px/1.5 system-ui,sans-serif;background:#f6f9fc;color:#1a1f36}}
main{{max-width:440px;margin:48px auto;background:#fff;border-radius:12px;padding:28px;
box-shadow:0 6px 24px rgba(50,50,93,.12)}}@media (max-width:480px){{main{{margin:16px;
padding:20px}}}}.test{{display:inline-block;background:#fff3cd;color:#6b4f00;
border-radius:6px;padding:2px 8px;font-size:13px;font-weight:600}}
h1{{font-size:24px;margin:14px 0 6px}}p{{margin:0 0 12px}}
dl{{margin:16px 0;padding:12px 14px;background:#f6f9fc;border-radius:8px}}
dt{{font-size:13px;color:#4f566b}}dd{{margin:0 0 8px;font-weight:600;overflow-wrap:anywhere}}
dd:last-child{{margin-bottom:0}}button{{width:100%;padding:12px;border:0;border-radius:8px;
font:inherit;font-weight:600;cursor:pointer;margin-top:10px}}
button:focus-visible{{outline:3px solid #1a1f36;outline-offset:2px}}
.primary{{background:#635bff;color:#fff}}
.secondary{{background:#fff;color:#1a1f36;border:1px solid #c1c9d2}}
.muted{{color:#4f566b;font-size:14px}}</style></head><body><main>
<span class="test">TEST MODE · local Stripe stand-in</span>
<h1>Set up payouts</h1>
<p class="muted">This page stands in for Stripe's hosted onboarding of a connected account.
Nothing is checked and no real details are asked for.</p>
<dl><dt>Email</dt><dd>{email}</dd><dt>Account</dt><dd>{account}</dd></dl>
{body}</main></body></html>"""


def _onboarding_link(request) -> AccountLink:
    link = _links.get(request.match_info["token"])
    if link is None:
        raise web.HTTPNotFound(text="This onboarding link does not exist.")
    return link


async def onboarding_page(request):
    link = _onboarding_link(request)
    # Like Stripe's, a link opens once and only while fresh; otherwise the platform is
    # asked for a new one through refresh_url.
    if link.opened or time.time() >= link.expires_at:
        raise web.HTTPSeeOther(link.refresh_url)
    account = store.get(f"account:{link.account}")
    if account is None:
        raise web.HTTPNotFound(text="This onboarding link's account no longer exists.")
    link.opened = True
    token = request.match_info["token"]
    if account.details_submitted:
        intro = "<p>This account's details are already submitted.</p>"
    else:
        intro = (
            '<p class="muted">Complete onboarding verifies the account at once: charges and '
            "payouts are enabled and the transfers capability becomes active.</p>"
        )
    body = (
        f"{intro}"
        f'<form method="post" action="/connect/onboarding/{token}/complete">'
        '<button class="primary" type="submit">Complete onboarding</button></form>'
        f'<form method="post" action="/connect/onboarding/{token}/later">'
        '<button class="secondary" type="submit">Leave for later</button></form>'
    )
    page = ONBOARDING_PAGE.format(
        email=html.escape(account.email or "(no email)"), account=html.escape(account.id), body=body
    )
    return web.Response(text=page, content_type="text/html")


def _finish(request) -> tuple[AccountLink, StripeObject | None]:
    link = _onboarding_link(request)
    if not link.opened or link.finished:
        raise web.HTTPSeeOther(link.refresh_url)
    link.finished = True
    return link, store.get(f"account:{link.account}")


async def onboarding_complete(request):
    link, account = _finish(request)
    if account is not None:
        account._complete_onboarding(now=int(time.time()))
    raise web.HTTPSeeOther(link.return_url)


async def onboarding_later(request):
    link, _account = _finish(request)
    raise web.HTTPSeeOther(link.return_url)


# -- Transfers ------------------------------------------------------------------------------


async def transfer_create(request):
    data = await _post_data(request)
    expand = data.pop("expand", None)
    _only(
        data,
        {"amount", "currency", "destination", "description", "metadata", "transfer_group"},
    )
    amount = _amount(data)
    currency = _text(data, "currency", required=True, limit=3)
    if not re.fullmatch(r"[a-zA-Z]{3}", currency):
        raise StripeError(400, f"Invalid currency: {currency}.", param="currency")
    destination_id = _text(data, "destination", required=True, limit=255)
    description = _text(data, "description")
    transfer_group = _text(data, "transfer_group", limit=255)
    metadata = _metadata(data) or {}
    destination = store.get(f"account:{destination_id}")
    if destination is None:
        raise _missing("destination", destination_id, param="destination", status=400)
    if destination.capabilities.get("transfers") != "active":
        raise StripeError(
            400, "Your destination account needs to have at least one of the following "
            "capabilities enabled: transfers, crypto_transfers, legacy_payments",
            code="insufficient_capabilities_for_transfer", param="destination",
        )  # fmt: skip
    if _failures:
        code = _failures.popleft()
        message = FAILURE_MESSAGES.get(code, f"The transfer could not be made ({code}).")
        raise StripeError(400, message, code=code, executed=True)
    transfer = Transfer(
        amount=amount, currency=currency.lower(), description=description,
        destination=destination.id, metadata=metadata, transfer_group=transfer_group,
    )  # fmt: skip
    _send("transfer.created", transfer)
    return _json(transfer._export(expand=expand))


async def transfer_retrieve(request):
    expand = _query(request).get("expand")
    return _json(Transfer._api_retrieve(request.match_info["id"])._export(expand=expand))


async def transfer_update(request):
    transfer = Transfer._api_retrieve(request.match_info["id"])
    data = await _post_data(request)
    expand = data.pop("expand", None)
    _only(data, {"description", "metadata"})
    if "description" in data:
        transfer.description = _text(data, "description")
    transfer.metadata = _merge_metadata(transfer.metadata, _metadata(data))
    return _json(transfer._export(expand=expand))


async def transfer_list(request):
    query = _query(request)
    transfers = _stored(Transfer)
    for name in ("destination", "transfer_group"):
        if query.get(name):
            transfers = [item for item in transfers if getattr(item, name) == query[name]]
    return _json(
        _list("/v1/transfers", transfers, query, filters=("destination", "transfer_group"))
    )


async def reversal_create(request):
    transfer = Transfer._api_retrieve(request.match_info["id"])
    data = await _post_data(request)
    expand = data.pop("expand", None)
    _only(data, {"amount", "description", "metadata", "refund_application_fee"})
    amount = _amount(data, required=False)
    reversal = transfer._reverse(amount, _metadata(data))
    return _json(reversal._export(expand=expand))


async def reversal_list(request):
    transfer = Transfer._api_retrieve(request.match_info["id"])
    return _json(
        _list(f"/v1/transfers/{transfer.id}/reversals", transfer._reversals, _query(request))
    )


# -- The stand-in's own controls ------------------------------------------------------------


async def control_fail_next(request):
    data = await _post_data(request)
    code = data.get("code") or "balance_insufficient"
    if not isinstance(code, str) or not re.fullmatch(r"[a-z_]{1,64}", code):
        raise StripeError(400, "code must be a Stripe error code such as balance_insufficient.")
    _failures.append(code)
    return _json({"armed": list(_failures)})


async def control_reverse(request):
    transfer = Transfer._api_retrieve(request.match_info["id"])
    transfer._reverse(None)
    return _json(transfer._export())


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_post("/v1/accounts", account_create)
    router.add_get("/v1/accounts", account_list)
    router.add_get("/v1/accounts/{id}", account_retrieve)
    router.add_post("/v1/accounts/{id}", account_update)
    router.add_post("/v1/account_links", account_link_create)
    router.add_get("/connect/onboarding/{token}", onboarding_page)
    router.add_post("/connect/onboarding/{token}/complete", onboarding_complete)
    router.add_post("/connect/onboarding/{token}/later", onboarding_later)
    router.add_post("/v1/transfers", transfer_create)
    router.add_get("/v1/transfers", transfer_list)
    router.add_get("/v1/transfers/{id}", transfer_retrieve)
    router.add_post("/v1/transfers/{id}", transfer_update)
    router.add_post("/v1/transfers/{id}/reversals", reversal_create)
    router.add_get("/v1/transfers/{id}/reversals", reversal_list)
    router.add_post("/_standin/transfers/fail_next", control_fail_next)
    router.add_post("/_standin/transfers/{id}/reverse", control_reverse)
