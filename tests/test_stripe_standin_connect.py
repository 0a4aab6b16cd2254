"""Stripe Connect in the local stand-in, through the official SDK as the application uses it:
Express accounts, single-use onboarding links, transfers with idempotency keys, failures on
demand and reversals, and their signed webhooks."""

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from payments.stripe_gateway import event_verify
from tests.stripe_helpers import StandIn, free_port
from tests.waiting import wait_for


class Receiver:
    """An HTTP endpoint collecting the webhooks the stand-in signs and sends."""

    def __init__(self):
        self.deliveries: list[tuple[bytes, str]] = []
        received = self.deliveries

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, kind: str, object_id: str) -> list[dict]:
        """The events of ``kind`` about ``object_id``, each checked as the application checks
        a webhook (signature, freshness, shape) before it is read."""
        found = []
        for body, signature in list(self.deliveries):
            _id, event_type, obj = event_verify(payload=body, signature=signature, now=time.time())
            if event_type == kind and obj.get("id") == object_id:
                found.append(json.loads(body))
        return found

    def wait_for(self, kind: str, object_id: str) -> dict:
        return wait_for(lambda: self.events(kind, object_id), f"{kind} for {object_id}")[0]


@pytest.fixture(scope="module")
def standin():
    # A stand-in of its own: armed failures and registered webhooks stay in this module.
    server = StandIn()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def receiver(standin):
    receiver = Receiver()
    standin.deliver_webhooks_to(receiver.url)
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def api(standin) -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_suite", base_addresses={"api": standin.url}, max_network_retries=0
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browse(url: str, *, post: bool = False) -> tuple[int, str, str]:
    """(status, Location, body) of one request, without following redirects, as a browser
    sees the hosted pages (no API key)."""
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(url, data=b"" if post else None, timeout=30) as response:
            return response.status, "", response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers.get("Location", ""), answer.read().decode()


def control(standin, path: str, **fields) -> tuple[int, dict]:
    data = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.urlopen(f"{standin.url}{path}", data=data, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as answer:
        return answer.code, json.loads(answer.read())


def new_account(api, email="coach@example.com") -> stripe.Account:
    return api.v1.accounts.create(
        {
            "type": "express",
            "email": email,
            "country": "US",
            "capabilities": {"transfers": {"requested": True}},
            "business_type": "individual",
            "metadata": {"coach": "7"},
        }
    )


def onboard(api, account_id: str) -> None:
    link = api.v1.account_links.create(
        {
            "account": account_id,
            "refresh_url": "http://127.0.0.1:9/refresh",
            "return_url": "http://127.0.0.1:9/return",
            "type": "account_onboarding",
        }
    )
    browse(link.url)
    status, location, _ = browse(f"{link.url}/complete", post=True)
    assert (status, location) == (303, "http://127.0.0.1:9/return")


def pay(api, account_id: str, key: str, amount: int = 8500) -> stripe.Transfer:
    return api.v1.transfers.create(
        {
            "amount": amount,
            "currency": "usd",
            "destination": account_id,
            "description": "Earnings for November",
            "metadata": {"payout": key},
            "transfer_group": f"payout-{key}",
        },
        {"idempotency_key": key},
    )


def created_events(api, transfer_id: str) -> int:
    events = api.v1.events.list({"type": "transfer.created", "limit": 100}).data
    return sum(1 for item in events if item.data.object["id"] == transfer_id)


def test_a_new_express_account_waits_for_onboarding(api):
    account = new_account(api)

    assert account.id.startswith("acct_")
    assert isinstance(account, stripe.Account)
    assert (account.type, account.email, account.country) == ("express", "coach@example.com", "US")
    assert account.charges_enabled is False
    assert account.payouts_enabled is False
    assert account.details_submitted is False
    assert account.capabilities.transfers == "inactive"
    assert account.requirements.disabled_reason == "requirements.past_due"
    assert "external_account" in account.requirements.currently_due
    assert account.metadata.to_dict() == {"coach": "7"}

    updated = api.v1.accounts.update(account.id, {"metadata": {"user": "12", "coach": ""}})
    assert updated.metadata.to_dict() == {"user": "12"}
    assert api.v1.accounts.retrieve(account.id).metadata.to_dict() == {"user": "12"}


def test_an_unknown_account_is_missing_as_at_stripe(api):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        api.v1.accounts.retrieve("acct_nosuchaccount")

    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
    assert "acct_nosuchaccount" in missing.value.user_message


def test_onboarding_enables_transfers_and_says_so_in_a_signed_webhook(api, receiver):
    account = new_account(api, email="bob@example.com")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        pay(api, account.id, "payout-1-before")
    assert refused.value.http_status == 400
    assert refused.value.code == "insufficient_capabilities_for_transfer"
    assert api.v1.transfers.list({"destination": account.id}).data == []

    link = api.v1.account_links.create(
        {
            "account": account.id,
            "refresh_url": "https://hse.example/payouts/refresh",
            "return_url": "https://hse.example/payouts/return",
            "type": "account_onboarding",
        }
    )
    assert link.object == "account_link"
    assert link.created < link.expires_at

    status, _, page = browse(link.url)
    assert status == 200
    assert "bob@example.com" in page and account.id in page
    assert "TEST MODE" in page
    assert ">Complete onboarding</button>" in page and ">Leave for later</button>" in page

    status, location, _ = browse(f"{link.url}/complete", post=True)
    assert (status, location) == (303, "https://hse.example/payouts/return")

    onboarded = api.v1.accounts.retrieve(account.id)
    assert onboarded.details_submitted and onboarded.charges_enabled and onboarded.payouts_enabled
    assert onboarded.capabilities.transfers == "active"
    assert onboarded.requirements.currently_due == []
    assert onboarded.requirements.disabled_reason is None

    event = receiver.wait_for("account.updated", account.id)
    assert event["account"] == account.id
    assert event["data"]["object"]["payouts_enabled"] is True
    assert event["data"]["previous_attributes"]["payouts_enabled"] is False

    # Like Stripe's, the link is used: opening it again, or posting again, asks the platform
    # for a fresh one.
    assert browse(link.url)[:2] == (303, "https://hse.example/payouts/refresh")
    again = browse(f"{link.url}/complete", post=True)
    assert again[:2] == (303, "https://hse.example/payouts/refresh")

    # The refusal was a check of the parameters, not kept for its key: the same key now pays.
    transfer = pay(api, account.id, "payout-1-before")
    assert transfer.destination == account.id
    assert (transfer.amount, transfer.currency, transfer.amount_reversed) == (8500, "usd", 0)
    assert transfer.metadata.to_dict() == {"payout": "payout-1-before"}
    assert transfer.transfer_group == "payout-payout-1-before"
    created = receiver.wait_for("transfer.created", transfer.id)
    assert "account" not in created


def test_leave_for_later_changes_nothing(api, standin):
    account = new_account(api)
    link = api.v1.account_links.create(
        {
            "account": account.id,
            "refresh_url": "https://hse.example/refresh",
            "return_url": "https://hse.example/return",
            "type": "account_onboarding",
        }
    )
    assert browse(link.url)[0] == 200

    assert browse(f"{link.url}/later", post=True)[:2] == (303, "https://hse.example/return")

    after = api.v1.accounts.retrieve(account.id)
    assert after.details_submitted is False
    assert after.capabilities.transfers == "inactive"
    updates = api.v1.events.list({"type": "account.updated", "limit": 100}).data
    assert [item for item in updates if item.data.object["id"] == account.id] == []
    assert browse(f"{standin.url}/connect/onboarding/no-such-link")[0] == 404


def test_a_replayed_transfer_is_the_same_transfer_and_other_parameters_are_refused(api, receiver):
    account = new_account(api)
    onboard(api, account.id)

    first = pay(api, account.id, "payout-2")
    replay = pay(api, account.id, "payout-2")

    assert replay.id == first.id
    assert [item.id for item in api.v1.transfers.list({"destination": account.id}).data] == [
        first.id
    ]
    receiver.wait_for("transfer.created", first.id)
    assert created_events(api, first.id) == 1

    with pytest.raises(stripe.IdempotencyError) as mismatch:
        pay(api, account.id, "payout-2", amount=9000)
    assert mismatch.value.http_status == 400
    assert len(api.v1.transfers.list({"destination": account.id}).data) == 1


def test_fail_next_fails_exactly_one_transfer(api, standin):
    account = new_account(api)
    onboard(api, account.id)
    earlier = pay(api, account.id, "payout-3-earlier")

    assert control(standin, "/_standin/transfers/fail_next") == (
        200,
        {"armed": ["balance_insufficient"]},
    )
    # A replay is the earlier answer and leaves the failure armed for a new transfer.
    assert pay(api, account.id, "payout-3-earlier").id == earlier.id
    with pytest.raises(stripe.InvalidRequestError) as failed:
        pay(api, account.id, "payout-3")
    assert failed.value.http_status == 400
    assert failed.value.code == "balance_insufficient"
    assert "insufficient available funds" in failed.value.user_message
    assert failed.value.error.type == "invalid_request_error"

    # As at Stripe the failure is kept for its key; a new attempt takes a new key.
    with pytest.raises(stripe.InvalidRequestError):
        pay(api, account.id, "payout-3")
    paid = pay(api, account.id, "payout-3-retry")
    assert [item.id for item in api.v1.transfers.list({"destination": account.id}).data] == [
        paid.id,
        earlier.id,
    ]


def test_fail_next_takes_another_code(api, standin):
    account = new_account(api)
    onboard(api, account.id)
    control(standin, "/_standin/transfers/fail_next", code="account_closed")

    with pytest.raises(stripe.InvalidRequestError) as failed:
        pay(api, account.id, "payout-4")

    assert failed.value.code == "account_closed"
    assert pay(api, account.id, "payout-4-retry").amount == 8500


def test_reversals_update_the_transfer_and_send_transfer_reversed(api, standin, receiver):
    account = new_account(api)
    onboard(api, account.id)
    transfer = pay(api, account.id, "payout-5")

    reversal = api.v1.transfers.reversals.create(transfer.id, {"amount": 2000})
    assert (reversal.object, reversal.amount, reversal.transfer) == (
        "transfer_reversal",
        2000,
        transfer.id,
    )
    partly = api.v1.transfers.retrieve(transfer.id)
    assert (partly.amount_reversed, partly.reversed) == (2000, False)
    assert [item.id for item in partly.reversals.data] == [reversal.id]
    event = receiver.wait_for("transfer.reversed", transfer.id)
    assert event["data"]["object"]["amount_reversed"] == 2000

    status, body = control(standin, f"/_standin/transfers/{transfer.id}/reverse")
    assert status == 200
    assert (body["amount_reversed"], body["reversed"]) == (8500, True)
    whole = api.v1.transfers.retrieve(transfer.id)
    assert whole.reversed is True and len(whole.reversals.data) == 2
    wait_for(
        lambda: any(
            item["data"]["object"]["reversed"]
            for item in receiver.events("transfer.reversed", transfer.id)
        ),
        "the full reversal's transfer.reversed",
    )

    assert control(standin, f"/_standin/transfers/{transfer.id}/reverse")[0] == 400
    with pytest.raises(stripe.InvalidRequestError):
        api.v1.transfers.reversals.create(transfer.id, {"amount": 1})


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"amount": -5}, "amount"),
        ({"amount": 10**12}, "amount"),
        ({"amount": "12abc"}, "amount"),
        ({"currency": "dollars"}, "currency"),
        ({"destination": "acct_nosuchaccount"}, "destination"),
        ({"metadata": {f"k{n}": "v" for n in range(51)}}, "metadata"),
        ({"description": "bell\x07"}, "description"),
        ({"surprise": "yes"}, "surprise"),
    ],
)
def test_bad_transfer_parameters_are_refused_with_the_parameter_named(api, params, param):
    account = new_account(api)
    onboard(api, account.id)
    request = {"amount": 100, "currency": "usd", "destination": account.id, **params}

    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.transfers.create(request)

    assert refused.value.http_status == 400
    assert refused.value.param == param
    assert api.v1.transfers.list({"destination": account.id}).data == []


def test_bad_control_input_is_refused_and_arms_nothing(api, standin):
    assert control(standin, "/_standin/transfers/fail_next", code="DROP TABLE")[0] == 400
    assert control(standin, "/_standin/transfers/tr_nosuchtransfer/reverse")[0] == 404
    account = new_account(api)
    onboard(api, account.id)
    assert pay(api, account.id, "payout-6").amount == 8500


def test_an_expired_onboarding_link_sends_the_browser_to_refresh_url():
    short = StandIn("--account-link-seconds", "1")
    try:
        api = stripe.StripeClient(
            "sk_test_suite", base_addresses={"api": short.url}, max_network_retries=0
        )
        account = new_account(api)
        link = api.v1.account_links.create(
            {
                "account": account.id,
                "refresh_url": "https://hse.example/refresh",
                "return_url": "https://hse.example/return",
                "type": "account_onboarding",
            }
        )
        assert link.expires_at == link.created + 1

        wait_for(lambda: time.time() >= link.expires_at + 1, "the link's expiry")
        assert browse(link.url)[:2] == (303, "https://hse.example/refresh")
        # Never opened, so it cannot be completed either.
        assert browse(f"{link.url}/complete", post=True)[:2] == (303, "https://hse.example/refresh")
        assert api.v1.accounts.retrieve(account.id).details_submitted is False
    finally:
        short.stop()
