"""Refund services move money exactly once, however often they are called."""

import pytest

from payments.models import Credit, Order, Refund, WalletEntry
from payments.services import (
    PaymentError,
    _wallet_post,
    credit_return,
    order_checkout_url,
    order_pay_with_wallet,
    order_start,
    refund_to_original_payment,
    refund_to_wallet,
    stripe_event_process,
    wallet_balance,
)
from tests.factories import UserFactory
from tests.payments_fixtures import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(db):
    return UserFactory(display_name="Sam Staff", is_staff=True)


def wallet_package(alice, bob, skill):
    _wallet_post(user=alice, amount=50000, reason="top_up", idempotency_key="fund", now=NOW)
    order = order_start(
        client=alice,
        coach=bob,
        skill=skill,
        duration_minutes=60,
        quantity=5,
        method="wallet",
        now=NOW,
    )
    order_pay_with_wallet(order=order, now=NOW)
    return order


def test_refund_to_wallet_pays_back_once(alice, bob, leadership, sam):
    order = wallet_package(alice, bob, leadership)
    credit = order.credits.first()

    refunds = {refund_to_wallet(credit=credit, by=sam, now=NOW).pk for _ in range(3)}

    assert len(refunds) == 1
    assert wallet_balance(user=alice) == 10000
    assert WalletEntry.objects.filter(reason="refund").count() == 1
    credit.refresh_from_db()
    assert credit.status == Credit.Status.REFUNDED
    assert Refund.objects.get().by == sam


def test_refund_to_the_original_payment_of_a_wallet_order_goes_to_the_wallet(
    alice, bob, leadership, sam
):
    order = wallet_package(alice, bob, leadership)
    credit = order.credits.first()

    refund_to_original_payment(credit=credit, by=sam, now=NOW)
    refund_to_original_payment(credit=credit, by=sam, now=NOW)
    refund_to_wallet(credit=credit, by=sam, now=NOW)  # a different button, same credit: still once

    assert wallet_balance(user=alice) == 10000
    assert WalletEntry.objects.filter(reason="refund").count() == 1


def test_a_card_refund_goes_to_stripe_once_and_charge_refunded_confirms_it(
    alice, bob, leadership, sam, stripe_settings
):
    import stripe

    order = order_start(
        client=alice,
        coach=bob,
        skill=leadership,
        duration_minutes=60,
        quantity=5,
        method="stripe",
        now=NOW,
    )
    url = order_checkout_url(order=order)
    # Pay on the stand-in's hosted page, as the client's browser would.
    import urllib.error
    import urllib.request

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None  # the stand-in sends the browser back to the site: not needed here

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(Stay).open(
            urllib.request.Request(f"{url}/pay", data=b"", method="POST")
        )
    assert answer.value.code == 303
    client = stripe.StripeClient(
        "sk_test_suite", base_addresses={"api": stripe_settings.STRIPE_API_BASE}
    )
    checkout = client.v1.checkout.sessions.retrieve(order.stripe_checkout_id)
    stripe_event_process(
        event_id="evt_paid",
        event_type="checkout.session.completed",
        obj=checkout.to_dict(),
        now=NOW,
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.stripe_payment_intent.startswith("pi_")
    credit = order.credits.first()

    first = refund_to_original_payment(credit=credit, by=sam, now=NOW)
    second = refund_to_original_payment(credit=credit, by=sam, now=NOW)

    assert first.pk == second.pk
    assert (
        first.stripe_refund_id.startswith("re_")
        and first.stripe_refund_id == second.stripe_refund_id
    )
    intent = client.v1.payment_intents.retrieve(order.stripe_payment_intent)
    charge = client.v1.charges.retrieve(
        intent.latest_charge if isinstance(intent.latest_charge, str) else intent.latest_charge.id
    )
    assert charge.amount_refunded == 10000  # one session's price, once
    assert wallet_balance(user=alice) == 0  # card money goes back to the card, not the wallet

    stripe_event_process(
        event_id="evt_refunded", event_type="charge.refunded", obj=charge.to_dict(), now=NOW
    )
    first.refresh_from_db()
    assert first.stripe_status == "succeeded"


def test_return_a_credit_makes_it_schedulable_again(alice, bob, leadership, sam):
    order = wallet_package(alice, bob, leadership)
    credit = order.credits.first()
    Credit.objects.filter(pk=credit.pk).update(status=Credit.Status.USED)

    credit_return(credit=credit, now=NOW)
    credit_return(credit=credit, now=NOW)

    credit.refresh_from_db()
    assert credit.status == Credit.Status.AVAILABLE
    refund_to_wallet(credit=credit, by=sam, now=NOW)
    with pytest.raises(PaymentError):
        credit_return(credit=credit, now=NOW)
