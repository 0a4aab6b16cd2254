"""Refunds move money exactly once, however often they are asked for; a card refund reaches
Stripe only after its decision commits, and a failed one is owed until an admin retries it."""

import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import stripe
from django.db import transaction
from django.urls import reverse

from ledger.models import Credit, EarningEntry, WalletEntry
from ledger.services import LedgerError, credit_give_back, wallet_balance, wallet_post
from payments import refunds
from payments.models import Order, Refund
from payments.services import order_checkout_url, order_start
from payments.webhooks import stripe_event_process
from sessions_app import services
from sessions_app.booking import session_schedule_from_credit
from sessions_app.models import Report
from tests.factories import UserFactory
from tests.payments_fixtures import NINE_AM, NOW
from tests.stripe_helpers import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(db):
    return UserFactory(display_name="Sam Staff", is_staff=True, is_superuser=True)


def wallet_package(alice, bob, skill):
    wallet_post(user=alice, amount=50000, reason="top_up", key="fund", now=NOW)
    return order_start(
        client=alice, coach=bob, skill=skill, duration_minutes=60, quantity=5,
        method="wallet", now=NOW,
    )  # fmt: skip


def stripe_client(settings):
    return stripe.StripeClient("sk_test_suite", base_addresses={"api": settings.STRIPE_API_BASE})


def card_package(alice, bob, skill, settings):
    """Five sessions paid by card on the stand-in's hosted page, as a browser would."""
    order = order_start(
        client=alice, coach=bob, skill=skill, duration_minutes=60, quantity=5,
        method="stripe", now=NOW,
    )  # fmt: skip
    url = order_checkout_url(order=order)

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None  # the stand-in sends the browser back to the site: not needed here

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.build_opener(Stay).open(
            urllib.request.Request(f"{url}/pay", data=b"", method="POST")
        )
    assert answer.value.code == 303
    checkout = stripe_client(settings).v1.checkout.sessions.retrieve(order.stripe_checkout_id)
    stripe_event_process(
        event_id=f"evt_paid_{order.pk}", event_type="checkout.session.completed",
        obj=checkout.to_dict(), now=NOW,
    )  # fmt: skip
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.stripe_payment_intent.startswith("pi_")
    return order


def charge_of(order, settings):
    client = stripe_client(settings)
    intent = client.v1.payment_intents.retrieve(order.stripe_payment_intent)
    latest = intent.latest_charge
    return client.v1.charges.retrieve(latest if isinstance(latest, str) else latest.id)


def test_refund_to_wallet_pays_back_once(alice, bob, leadership, sam):
    credit = wallet_package(alice, bob, leadership).credits.first()

    made = {
        refunds.credit_refund(credit=credit, to_card=False, by=sam, now=NOW, why="t").pk
        for _ in range(3)
    }

    assert len(made) == 1
    assert wallet_balance(user=alice) == 10000
    assert WalletEntry.objects.filter(reason="refund").count() == 1
    credit.refresh_from_db()
    assert credit.status == Credit.Status.REFUNDED
    refund = Refund.objects.get()
    assert (refund.by, refund.status, refund.kind) == (sam, "succeeded", "wallet")
    assert list(refund.events.values_list("to_status", flat=True)) == ["requested", "succeeded"]


def test_refund_to_the_original_payment_of_a_wallet_order_goes_to_the_wallet(
    alice, bob, leadership, sam
):
    credit = wallet_package(alice, bob, leadership).credits.first()

    refunds.credit_refund(credit=credit, to_card=True, by=sam, now=NOW, why="t")
    refunds.credit_refund(credit=credit, to_card=True, by=sam, now=NOW, why="t")
    # A different button, same credit: still once.
    refunds.credit_refund(credit=credit, to_card=False, by=sam, now=NOW, why="t")

    assert wallet_balance(user=alice) == 10000
    assert WalletEntry.objects.filter(reason="refund").count() == 1


def test_a_card_refund_goes_to_stripe_once_after_commit_and_charge_refunded_confirms_it(
    alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks, mailoutbox
):
    order = card_package(alice, bob, leadership, stripe_settings)
    credit = order.credits.first()

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            first = refunds.credit_refund(credit=credit, to_card=True, by=sam, now=NOW, why="t")
            # Not sent while the decision's transaction is open.
            assert charge_of(order, stripe_settings).amount_refunded == 0
            assert Refund.objects.get().status == "requested"
        again = refunds.credit_refund(credit=credit, to_card=True, by=sam, now=NOW, why="t")

    first.refresh_from_db()
    assert first.pk == again.pk and first.stripe_refund_id.startswith("re_")
    assert first.status in ("sent", "succeeded") and first.attempts == 1
    charge = charge_of(order, stripe_settings)
    assert charge.amount_refunded == 10000  # one session's price, once
    assert wallet_balance(user=alice) == 0  # card money goes back to the card, not the wallet

    stripe_event_process(
        event_id="evt_refunded", event_type="charge.refunded", obj=charge.to_dict(), now=NOW
    )
    first.refresh_from_db()
    assert first.status == "succeeded" and first.stripe_status == "succeeded"
    assert [m.subject for m in mailoutbox if "Refund" in m.subject] == ["[HSE] Refund of $100.00"]
    assert "refunded to the card you paid with" in mailoutbox[-1].body


def test_a_card_refund_whose_stripe_call_fails_is_owed_and_retried_from_the_admin_once(
    client, alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks
):
    order = card_package(alice, bob, leadership, stripe_settings)
    credit = order.credits.first()
    reachable = stripe_settings.STRIPE_API_BASE
    stripe_settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # Stripe is away

    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.credit_refund(credit=credit, to_card=True, by=sam, now=NOW, why="t")

    refund.refresh_from_db()
    assert refund.status == "failed" and refund.failure and not refund.stripe_refund_id
    client.force_login(sam)
    listed = client.get(reverse("admin:payments_refund_changelist"), {"status__exact": "failed"})
    assert f"#{refund.pk}" in listed.content.decode() or str(refund.pk) in listed.content.decode()

    stripe_settings.STRIPE_API_BASE = reachable  # back again
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):  # a second click finds nothing failed to retry
            client.post(
                reverse("admin:payments_refund_changelist"),
                {"action": "retry", "_selected_action": [refund.pk]},
            )

    refund.refresh_from_db()
    assert refund.status in ("sent", "succeeded") and refund.attempts == 2
    assert charge_of(order, stripe_settings).amount_refunded == 10000
    actions = list(refund.events.values_list("action", flat=True))
    assert actions == ["request", "fail", "retry", "send" if refund.status == "sent" else "succeed"]


def reported(alice, bob, leadership):
    """Alice's scheduled session with Bob (paid from a wallet package), reported."""
    credit = wallet_package(alice, bob, leadership).credits.first()
    session = session_schedule_from_credit(
        credit=credit, starts_at=NINE_AM + timedelta(days=7), by=alice, now=NOW
    )
    return services.session_report(
        session=session, by=alice, now=session.starts_at + timedelta(minutes=10),
        reason="no_show", details="Bob never came.",
    )  # fmt: skip


def test_a_decision_rolled_back_sends_nothing_to_stripe(
    alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks
):
    order = card_package(alice, bob, leadership, stripe_settings)
    session = session_schedule_from_credit(
        credit=order.credits.first(), starts_at=NINE_AM + timedelta(days=7), by=alice, now=NOW
    )
    report = services.session_report(
        session=session, by=alice, now=session.starts_at + timedelta(minutes=10),
        reason="no_show", details="Bob never came.",
    )  # fmt: skip

    class Undo(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as sent,
        pytest.raises(Undo),
        transaction.atomic(),
    ):
        refunds.report_decide(
            report=report, decision=Report.Decision.REFUND_ORIGINAL, by=sam, now=NOW
        )
        raise Undo  # the admin's page failed after the decision

    assert sent == []
    assert charge_of(order, stripe_settings).amount_refunded == 0
    assert not Refund.objects.exists()
    report.refresh_from_db()
    assert report.state == Report.State.OPEN

    with django_capture_on_commit_callbacks(execute=True):
        refunds.report_decide(
            report=report, decision=Report.Decision.REFUND_ORIGINAL, by=sam,
            now=report.created_at + timedelta(hours=1),
        )  # fmt: skip
    assert charge_of(order, stripe_settings).amount_refunded == 10000
    report.refresh_from_db()
    assert report.state == Report.State.REFUNDED
    assert list(report.events.values_list("action", flat=True)) == ["file", "refund"]


def test_a_returned_credit_can_be_scheduled_again_and_a_refunded_one_not(
    alice, bob, leadership, sam
):
    report = reported(alice, bob, leadership)
    credit = report.session.credit

    refunds.report_decide(report=report, decision=Report.Decision.RETURN_CREDIT, by=sam, now=NOW)
    refunds.report_decide(report=report, decision=Report.Decision.RETURN_CREDIT, by=sam, now=NOW)

    credit.refresh_from_db()
    assert credit.status == Credit.Status.AVAILABLE
    assert not EarningEntry.objects.exists()  # the session did not stand
    refunds.credit_refund(credit=credit, to_card=False, by=sam, now=NOW, why="goodwill")
    with pytest.raises(LedgerError):
        credit_give_back(credit=credit, by=sam, now=NOW, why="again")
    assert list(credit.events.values_list("action", flat=True)) == [
        "issue",
        "schedule",
        "give_back",
        "refund",
    ]


def test_a_card_refund_whose_hand_over_was_lost_is_sent_by_the_timer_once(
    alice, bob, leadership, sam, stripe_settings
):
    """The decision committed but its task never ran (broker away, worker killed): the
    timer sends it after a while, and running it again, or beside the task, sends nothing
    more."""
    order = card_package(alice, bob, leadership, stripe_settings)
    with transaction.atomic():  # no on-commit callbacks run here: the hand-over is lost
        refund = refunds.credit_refund(
            credit=order.credits.first(), to_card=True, by=sam, now=NOW, why="t"
        )
    assert refunds.refunds_follow_up(now=NOW + timedelta(minutes=1)) == 0  # not yet
    later = NOW + refunds.FOLLOW_UP_AFTER
    assert refunds.refunds_follow_up(now=later) == 1
    assert refunds.refunds_follow_up(now=later) == 0
    refunds.refund_send(refund_id=refund.pk, now=later)  # the lost task, late after all
    refund.refresh_from_db()
    assert refund.status in ("sent", "succeeded") and refund.attempts == 1
    assert charge_of(order, stripe_settings).amount_refunded == 10000


def test_a_refund_left_pending_is_asked_about_and_a_refund_event_settles_it(
    alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks, mailoutbox
):
    order = card_package(alice, bob, leadership, stripe_settings)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.credit_refund(
            credit=order.credits.first(), to_card=True, by=sam, now=NOW, why="t"
        )
    refund.refresh_from_db()
    if refund.status == "succeeded":  # the stand-in settled it at once: make it pending
        Refund.objects.filter(pk=refund.pk).update(status="sent", settled_at=None)
    # A charge without its refunds listed (newer API versions) is accepted and changes nothing.
    stripe_event_process(
        event_id="evt_bare", event_type="charge.refunded", obj={"id": "ch_1"}, now=NOW
    )
    assert Refund.objects.get().status == "sent"
    # An hour on, the timer asks Stripe, which says it reached the card.
    assert refunds.refunds_follow_up(now=NOW + refunds.ASK_STRIPE_AFTER) == 1
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert refunds.refunds_follow_up(now=NOW + refunds.ASK_STRIPE_AFTER) == 0
    # A late refund.updated for it changes nothing more and emails nobody again.
    sent = len(mailoutbox)
    stripe_event_process(
        event_id="evt_updated", event_type="refund.updated",
        obj={"id": refund.stripe_refund_id, "status": "succeeded"}, now=NOW,
    )  # fmt: skip
    assert Refund.objects.get().status == "succeeded" and len(mailoutbox) == sent


def test_a_retry_after_stripe_refused_is_a_new_refund_at_stripe(
    alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks
):
    order = card_package(alice, bob, leadership, stripe_settings)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.credit_refund(
            credit=order.credits.first(), to_card=True, by=sam, now=NOW, why="t"
        )
    refund.refresh_from_db()
    first_id = refund.stripe_refund_id
    # Stripe reports the refund failed (the card was closed); an admin retries it.
    Refund.objects.filter(pk=refund.pk).update(status="sent")
    stripe_event_process(
        event_id="evt_failed", event_type="refund.updated",
        obj={"id": first_id, "status": "failed"}, now=NOW,
    )  # fmt: skip
    refund.refresh_from_db()
    assert refund.status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        refunds.refund_retry(refund=refund, by=sam, now=NOW)
    refund.refresh_from_db()
    assert refund.stripe_refund_id and refund.stripe_refund_id != first_id
