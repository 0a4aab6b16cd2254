"""The payouts' calls to Stripe Connect, through the official SDK: Express accounts, their
onboarding links, and transfers to them. Real Stripe and the stand-in answer the same."""

from dataclasses import dataclass

import stripe

from hse.stripe_client import stripe_client


class ConnectUnavailable(Exception):
    """Stripe is not set up or did not answer; try again later. The message is for people."""


class TransferRefused(Exception):
    """Stripe answered and refused the transfer (its balance, the account): not worth
    sending again with the same key. The message says why."""


@dataclass(frozen=True)
class AccountState:
    id: str
    payouts_enabled: bool
    details_submitted: bool


class TransferNeedsAdmin(TransferRefused):
    """Stripe refused the transfer's idempotency key (used before with other parameters):
    sending again cannot help, an admin has to look."""


@dataclass(frozen=True)
class Transfer:
    id: str
    amount: int
    currency: str
    destination: str
    reversed: bool
    # Which payout and which of its attempts the transfer was made for (its metadata);
    # None when it names none.
    payout_ref: int | None = None
    attempt: int | None = None
    # Partial reversals: (reversal id, amount) of each, as Stripe lists them.
    reversals: tuple[tuple[str, int], ...] = ()


def _number(text) -> int | None:
    text = text if isinstance(text, str) else ""
    return int(text) if text.isdecimal() and len(text) < 10 else None


def _client() -> stripe.StripeClient:
    client = stripe_client()
    if client is None:
        raise ConnectUnavailable("Stripe payouts are not set up on this site.")
    return client


def _state(account) -> AccountState:
    return AccountState(
        id=account.id,
        payouts_enabled=bool(getattr(account, "payouts_enabled", False)),
        details_submitted=bool(getattr(account, "details_submitted", False)),
    )


def account_create(*, email: str, coach_id: int, country: str, idempotency_key: str) -> str:
    """An Express account for one coach; the key makes a second click the same account."""
    params = {
        "type": "express",
        "email": email,
        "metadata": {"coach": str(coach_id)},
        "capabilities": {"transfers": {"requested": True}},
    }
    if country:
        params["country"] = country
    try:
        account = _client().v1.accounts.create(params, {"idempotency_key": idempotency_key})
    except stripe.StripeError as error:
        raise ConnectUnavailable("Stripe did not create your payout account; try again.") from error
    return account.id


def account_link(*, account_id: str, refresh_url: str, return_url: str) -> str:
    """The address of Stripe's hosted onboarding for the account (used once, short-lived)."""
    params = {
        "account": account_id,
        "refresh_url": refresh_url,
        "return_url": return_url,
        "type": "account_onboarding",
    }
    try:
        link = _client().v1.account_links.create(params)
    except stripe.StripeError as error:
        raise ConnectUnavailable("Stripe's onboarding is unavailable; try again.") from error
    return link.url


def account_state(*, account_id: str) -> AccountState:
    try:
        return _state(_client().v1.accounts.retrieve(account_id))
    except stripe.StripeError as error:
        raise ConnectUnavailable("Stripe did not answer about your payout account.") from error


def _transfer(obj) -> Transfer:
    destination = obj.destination
    metadata = getattr(obj, "metadata", None)
    metadata = metadata.to_dict() if isinstance(metadata, stripe.StripeObject) else {}
    listed = getattr(obj, "reversals", None)
    reversals = tuple(
        (str(item.id), int(item.amount)) for item in (getattr(listed, "data", None) or [])
    )
    return Transfer(
        id=obj.id,
        amount=int(obj.amount),
        currency=str(obj.currency or "").upper(),
        destination=destination if isinstance(destination, str) else destination.id,
        reversed=bool(getattr(obj, "reversed", False)),
        payout_ref=_number(metadata.get("payout")),
        attempt=_number(metadata.get("attempt")),
        reversals=reversals,
    )


def transfer_create(
    *, amount: int, currency: str, destination: str, payout_id: int, attempt: int,
    transfer_group: str, idempotency_key: str,
) -> Transfer:  # fmt: skip
    """One transfer to a connected account for one attempt of a payout. Sent again with the
    same key (a lost answer, a second worker), it is the same transfer at Stripe. The
    attempt is in its metadata and group, so events about it are matched to that attempt."""
    params = {
        "amount": amount,
        "currency": currency.lower(),
        "destination": destination,
        "metadata": {"payout": str(payout_id), "attempt": str(attempt)},
        "transfer_group": transfer_group,
    }
    try:
        transfer = _client().v1.transfers.create(params, {"idempotency_key": idempotency_key})
    except stripe.IdempotencyError as error:
        raise TransferNeedsAdmin(
            "Stripe refused the transfer's idempotency key (idempotency_error); "
            "an admin should check the payout before it is retried"
        ) from error
    except (stripe.InvalidRequestError, stripe.PermissionError, stripe.CardError) as error:
        code = getattr(error, "code", "") or ""
        message = getattr(error, "user_message", "") or str(error.user_message or "")
        raise TransferRefused(
            (f"Stripe refused the transfer ({code})" if code else "Stripe refused the transfer")
            + (f": {message}" if message else "")
        ) from error
    except stripe.StripeError as error:
        raise ConnectUnavailable("Stripe did not answer; the payout will be sent again.") from error
    return _transfer(transfer)


def transfer_get(*, transfer_id: str) -> Transfer:
    try:
        return _transfer(_client().v1.transfers.retrieve(transfer_id))
    except stripe.StripeError as error:
        raise ConnectUnavailable("Stripe did not answer about the transfer.") from error


def transfer_find(*, payout_id: int, attempt: int, transfer_group: str) -> Transfer | None:
    """The transfer Stripe made for this attempt of the payout, or None when it made none:
    looked up by the attempt's group and checked against its metadata."""
    try:
        found = _client().v1.transfers.list({"transfer_group": transfer_group, "limit": 10})
    except stripe.StripeError as error:
        raise ConnectUnavailable("Stripe did not answer about the transfer.") from error
    for obj in found.data:
        transfer = _transfer(obj)
        if transfer.payout_ref == payout_id and transfer.attempt == attempt:
            return transfer
    return None
