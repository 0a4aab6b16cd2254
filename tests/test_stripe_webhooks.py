"""The webhook: signed, recorded once per event id, idempotent in any order."""

import random
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from ledger.models import Credit, WalletEntry
from ledger.services import wallet_balance
from payments.models import Order, StripeEvent, TopUp
from payments.services import order_start
from sessions_app.models import Session
from tests.payments_fixtures import NINE_AM, NOW
from tests.stripe_helpers import checkout_completed, event, sign

WEBHOOK = reverse("payments:stripe_webhook")
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    """The orders are made at NOW; their webhooks come a minute later, whatever today is
    (the signature's timestamp and Stripe's tolerance follow the same clock)."""
    with freeze_time(NOW + timedelta(minutes=1), tick=True):
        yield


def post(client, payload: bytes, signature: str | None = None):
    return client.post(
        WEBHOOK,
        payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature or sign(payload)},
    )


def card_order(alice, bob, skill, quantity=1):
    return order_start(
        client=alice, coach=bob, skill=skill, duration_minutes=60, quantity=quantity,
        method="stripe", starts_at=NINE_AM if quantity == 1 else None, now=NOW,
    )  # fmt: skip


def test_checkout_completed_pays_the_order_and_schedules_the_session(
    client, alice, bob, leadership, mailoutbox, django_capture_on_commit_callbacks
):
    order = card_order(alice, bob, leadership)
    payload = event(
        "evt_1", "checkout.session.completed", checkout_completed(f"order-{order.pk}", amount=10000)
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, payload)

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.stripe_payment_intent == "pi_test_1"
    assert Session.objects.get().status == Session.Status.SCHEDULED
    assert Credit.objects.get().status == Credit.Status.SCHEDULED
    assert len(mailoutbox) == 3  # receipt, and the booking for the client and the coach


@pytest.mark.parametrize(
    "signature",
    [
        "t=1,v1=deadbeef",
        "garbage",
        "",
        sign(b"{}", secret="whsec_someone_else"),
    ],
)
def test_a_bad_signature_is_refused_and_changes_nothing(client, alice, bob, leadership, signature):
    order = card_order(alice, bob, leadership)
    payload = event(
        "evt_1", "checkout.session.completed", checkout_completed(f"order-{order.pk}", amount=10000)
    )
    if signature.startswith("t=") and "v1=" in signature and "deadbeef" not in signature:
        signature = sign(payload, secret="whsec_someone_else")

    response = client.post(
        WEBHOOK, payload, content_type="application/json", headers={"Stripe-Signature": signature}
    )

    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert not StripeEvent.objects.exists()


def test_a_stale_signature_is_refused(client, alice, bob, leadership):
    order = card_order(alice, bob, leadership)
    payload = event(
        "evt_1", "checkout.session.completed", checkout_completed(f"order-{order.pk}", amount=10000)
    )

    response = post(client, payload, sign(payload, at=int(time.time()) - 3600))

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_tampered_payload_is_refused(client, alice, bob, leadership):
    order = card_order(alice, bob, leadership)
    payload = event(
        "evt_1", "checkout.session.completed", checkout_completed(f"order-{order.pk}", amount=10000)
    )
    signature = sign(payload)

    response = post(client, payload.replace(b"10000", b"10"), signature)

    assert response.status_code == 400


def test_a_get_is_not_allowed(client):
    assert client.get(WEBHOOK).status_code == 405


def test_expired_then_completed_still_honours_the_payment(client, alice, bob, leadership):
    order = card_order(alice, bob, leadership)
    ref = f"order-{order.pk}"
    expired = {
        **checkout_completed(ref, amount=10000),
        "status": "expired",
        "payment_status": "unpaid",
    }

    post(client, event("evt_exp", "checkout.session.expired", expired))
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    post(
        client,
        event("evt_done", "checkout.session.completed", checkout_completed(ref, amount=10000)),
    )

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    # The slot was still free, so the session is booked again rather than lost.
    assert Session.objects.filter(status="scheduled").count() == 1
    assert Credit.objects.get().status == Credit.Status.SCHEDULED


def test_completed_then_expired_leaves_the_order_paid(client, alice, bob, leadership):
    order = card_order(alice, bob, leadership, quantity=5)
    ref = f"order-{order.pk}"
    post(
        client,
        event("evt_done", "checkout.session.completed", checkout_completed(ref, amount=50000)),
    )
    post(
        client,
        event(
            "evt_exp",
            "checkout.session.expired",
            {**checkout_completed(ref, amount=50000), "status": "expired"},
        ),
    )

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert Credit.objects.filter(status="available").count() == 5


def test_a_payment_after_the_slot_went_to_someone_else_keeps_the_credit(
    client, alice, carol, bob, leadership
):
    order = card_order(alice, bob, leadership)
    later = NOW + timedelta(minutes=45)
    order_start(
        client=carol,
        coach=bob,
        skill=leadership,
        duration_minutes=60,
        quantity=1,
        method="stripe",
        starts_at=NINE_AM,
        now=later,
    )

    with freeze_time(later + timedelta(minutes=1)):  # the payment arrives after Carol's
        post(
            client,
            event(
                "evt_done",
                "checkout.session.completed",
                checkout_completed(f"order-{order.pk}", amount=10000),
            ),
        )

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    credit = Credit.objects.get(order=order)
    assert credit.status == Credit.Status.AVAILABLE  # money is never lost: schedule it again


def test_a_top_up_is_credited_in_a_fixed_number_of_statements_and_once(
    client, alice, django_assert_num_queries
):
    top_up = TopUp.objects.create(user=alice, amount=2500, currency="USD")
    payload = event(
        "evt_topup",
        "checkout.session.completed",
        checkout_completed(f"topup-{top_up.pk}", amount=2500, payment_intent="pi_t"),
    )

    # The event (in a savepoint: a replay's insert fails), the top-up and its owner, the top-up
    # paid and its event, the wallet's entry in a savepoint (the owner's row locked, the key
    # looked up, the balance, the entry) and the receipt, in the webhook's transaction (a
    # savepoint here: the test runs in a transaction).
    with django_assert_num_queries(15):
        assert post(client, payload).status_code == 200
    assert post(client, payload).status_code == 200  # a replay

    assert wallet_balance(user=alice) == 2500
    assert WalletEntry.objects.get().idempotency_key == f"topup-{top_up.pk}"
    top_up.refresh_from_db()
    assert top_up.status == TopUp.Status.PAID and top_up.stripe_payment_intent == "pi_t"


@pytest.mark.django_db(transaction=True)
def test_each_event_delivered_five_times_shuffled_from_threads_counts_once(
    alice, bob, leadership, mailoutbox
):
    order = card_order(alice, bob, leadership, quantity=5)
    top_up = TopUp.objects.create(user=alice, amount=2500, currency="USD")
    payloads = [
        event(
            "evt_order",
            "checkout.session.completed",
            checkout_completed(f"order-{order.pk}", amount=50000, payment_intent="pi_o"),
        ),
        event(
            "evt_topup",
            "checkout.session.completed",
            checkout_completed(f"topup-{top_up.pk}", amount=2500, payment_intent="pi_t"),
        ),
        event(
            "evt_late_expiry",
            "checkout.session.expired",
            {**checkout_completed(f"order-{order.pk}", amount=50000), "status": "expired"},
        ),
    ]
    deliveries = [payload for payload in payloads for _ in range(5)]
    # Signed here, on the test's clock: freezegun leaves a thread's shallow calls on the real one.
    signatures = {payload: sign(payload) for payload in payloads}
    random.Random(7).shuffle(deliveries)
    threads_count = 5 if settings.USES_POSTGRES else 1
    statuses = []

    def deliver(batch):
        client = Client()
        for payload in batch:
            statuses.append(post(client, payload, signatures[payload]).status_code)
        connection.close()

    batches = [deliveries[i::threads_count] for i in range(threads_count)]
    threads = [threading.Thread(target=deliver, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 15
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert Credit.objects.filter(order=order).count() == 5
    assert StripeEvent.objects.count() == 3
    assert WalletEntry.objects.filter(reason="top_up").count() == 1
    assert wallet_balance(user=alice) == 2500
    receipts = [m.subject for m in mailoutbox]
    assert sorted(receipts) == sorted(
        [f"[HSE] Receipt for order #{order.pk}", "[HSE] Your wallet was topped up"]
    )


@pytest.mark.parametrize(
    ("amount", "currency"), [(9999, "usd"), (10001, "usd"), (10000, "eur"), (None, "usd")]
)
def test_a_checkout_paid_with_another_amount_or_currency_fulfils_nothing_and_waits_for_review(
    client, alice, bob, leadership, amount, currency
):
    from django.contrib.auth import get_user_model

    order = card_order(alice, bob, leadership)
    paid = {**checkout_completed(f"order-{order.pk}", amount=amount), "currency": currency}

    assert post(client, event("evt_odd", "checkout.session.completed", paid)).status_code == 200

    order.refresh_from_db()
    assert order.status == Order.Status.REVIEW
    assert (order.stripe_amount, order.stripe_currency) == (amount, currency.upper())
    assert not Credit.objects.exists()
    assert Session.objects.get().status == Session.Status.EXPIRED  # its slot is let go
    staff = get_user_model().objects.create_superuser(email="sam@example.com", password="x")
    client.force_login(staff)
    desk = client.get(reverse("admin:payments_order_changelist"), {"status__exact": "review"})
    assert f">{order.pk}<" in desk.content.decode()


def test_an_admin_fulfils_a_reviewed_order_at_our_price(client, alice, bob, leadership):
    from django.contrib.auth import get_user_model

    order = card_order(alice, bob, leadership, quantity=5)
    odd = checkout_completed(f"order-{order.pk}", amount=1)
    post(client, event("evt_odd", "checkout.session.completed", odd))
    staff = get_user_model().objects.create_superuser(email="sam@example.com", password="x")
    client.force_login(staff)

    for _ in range(2):  # a second click finds nothing left to decide
        client.post(
            reverse("admin:payments_order_changelist"),
            {"action": "fulfil_reviewed", "_selected_action": [order.pk]},
        )

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert Credit.objects.filter(order=order, price_paid=order.unit_price).count() == 5
    assert list(order.events.values_list("action", flat=True)) == [
        "create",
        "hold_for_review",
        "fulfil_reviewed",
    ]


@pytest.mark.parametrize("paid", [250_000, 1, -2500, None])
def test_a_top_up_credits_its_own_amount_never_stripes(client, alice, paid):
    top_up = TopUp.objects.create(user=alice, amount=2500, currency="USD")
    obj = checkout_completed(f"topup-{top_up.pk}", amount=paid)

    post(client, event("evt_topup", "checkout.session.completed", obj))

    top_up.refresh_from_db()
    assert top_up.status == TopUp.Status.REVIEW
    assert wallet_balance(user=alice) == 0
    assert not WalletEntry.objects.exists()


def test_a_top_up_paid_its_amount_is_credited_exactly_that(client, alice):
    top_up = TopUp.objects.create(user=alice, amount=2500, currency="USD")
    obj = checkout_completed(f"topup-{top_up.pk}", amount=2500)
    post(client, event("evt_topup", "checkout.session.completed", obj))
    assert wallet_balance(user=alice) == 2500


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"[]",
        b"null",
        b'"text"',
        b'{"id": "evt_1", "type": "checkout.session.completed"}',
        b'{"id": "evt_1", "type": "checkout.session.completed", "data": []}',
        b'{"id": "evt_1", "type": "checkout.session.completed", "data": {"object": 7}}',
        b'{"id": 7, "type": "checkout.session.completed", "data": {"object": {}}}',
        b'{"type": "x", "data": {"object": {}}}',
        b"[" * 100_000 + b"]" * 100_000,
        b"\xff\xfe not utf-8",
        b"not json at all",
    ],
)
def test_a_signed_body_that_is_not_an_event_answers_400_and_changes_nothing(
    client, alice, bob, leadership, body
):
    order = card_order(alice, bob, leadership)

    response = post(client, body)

    assert response.status_code == 400
    assert response.content  # says why
    assert not StripeEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


@pytest.mark.parametrize(
    "obj",
    [
        {"client_reference_id": 7, "payment_status": "paid", "amount_total": 10000},
        {"client_reference_id": "order-1", "payment_status": "paid", "amount_total": "10000"},
        {"client_reference_id": "order-1", "payment_status": "paid", "amount_total": True},
        {"client_reference_id": "order-1", "payment_status": "paid", "currency": 5},
        {"metadata": "order-1", "payment_status": "paid"},
        {"client_reference_id": "order-1", "payment_status": "paid", "payment_intent": 5},
    ],
)
def test_a_checkout_event_missing_what_we_need_answers_400(client, alice, bob, leadership, obj):
    card_order(alice, bob, leadership)

    response = post(client, event("evt_bad", "checkout.session.completed", obj))

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert Order.objects.get().status == Order.Status.PENDING


def test_a_signature_dated_in_the_future_is_refused(client, alice, bob, leadership):
    order = card_order(alice, bob, leadership)
    payload = event(
        "evt_1", "checkout.session.completed", checkout_completed(f"order-{order.pk}", amount=10000)
    )

    response = post(client, payload, sign(payload, at=int(time.time()) + 3600))

    assert response.status_code == 400
    assert b"future" in response.content
    assert not StripeEvent.objects.exists()


def test_a_webhook_signed_with_the_connect_endpoint_s_secret_is_accepted_when_it_is_set(
    client, settings
):
    """At Stripe the Connect endpoint (events about coaches' accounts) signs with its own
    secret: with STRIPE_CONNECT_WEBHOOK_SECRET set, either secret's signature is accepted,
    and any other still is not."""
    account = {"id": "acct_nobody", "object": "account", "payouts_enabled": True}
    connect = event("evt_connect_1", "account.updated", account)
    platform = event("evt_platform_1", "account.updated", account)

    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""
    assert post(client, connect, sign(connect, secret="whsec_connect")).status_code == 400

    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_connect"
    assert post(client, connect, sign(connect, secret="whsec_connect")).status_code == 200
    assert post(client, platform, sign(platform)).status_code == 200
    stranger = event("evt_stranger_1", "account.updated", account)
    assert post(client, stranger, sign(stranger, secret="whsec_someone_else")).status_code == 400
    assert set(StripeEvent.objects.values_list("event_id", flat=True)) == {
        "evt_connect_1", "evt_platform_1",
    }  # fmt: skip
