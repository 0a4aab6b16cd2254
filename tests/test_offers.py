"""A coach's offers (issue 22): one trial session per client (free or at the coach's price)
and a discount per package size, priced on the server from our rows."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from freezegun import freeze_time

from coaching.services import CoachingError, coach_offers_update
from hse.money import format_money
from ledger import services as ledger
from ledger.models import EarningEntry, WalletEntry
from payments import packages
from payments.models import Order
from payments.refunds import credit_refund
from payments.services import PaymentError, order_expire, order_start
from sessions_app.models import Session
from tests.test_session_lifecycle import BOOKED_AT, T

pytestmark = pytest.mark.django_db


def _offers(bob, *, trial=True, price=0, discounts=None):
    return coach_offers_update(
        profile=bob, trial_offered=trial, trial_price=price,
        discounts=discounts if discounts is not None else {5: 5, 10: 10, 20: 20},
    )  # fmt: skip


def _trial(alice, bob, leadership, *, at=T, method="wallet"):
    return order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=30, quantity=1,
        method=method, starts_at=at, now=BOOKED_AT, trial=True,
    )  # fmt: skip


def _fund(user, amount=1_000_000):
    ledger.wallet_post(user=user, amount=amount, reason="top_up", key=f"f{user.pk}", now=BOOKED_AT)


# --- Package discounts ---------------------------------------------------------------------


def test_a_package_is_priced_at_the_coachs_discount_for_its_size(alice, bob, leadership):
    _offers(bob, discounts={5: 5, 10: 12, 20: 20})
    _fund(alice)
    hour = bob.hourly_price
    for size, percent in ((5, 5), (10, 12), (20, 20)):
        order = order_start(
            client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=size,
            method="wallet", now=BOOKED_AT,
        )  # fmt: skip
        assert order.discount_percent == percent
        assert order.unit_price == round(hour * (100 - percent) / 100)
        assert order.total_price == size * order.unit_price
        assert set(order.credits.values_list("price_paid", flat=True)) == {order.unit_price}
    # A single session is never discounted.
    assert bob.unit_price(minutes=60, quantity=1) == hour


def test_the_checkout_ignores_any_price_the_form_sends(client, alice, bob, leadership):
    _offers(bob, discounts={10: 10})
    _fund(alice)
    client.force_login(alice)
    form = {
        "skill": leadership.slug, "duration": 60, "quantity": 10, "method": "wallet",
        "unit_price": 1, "total": 1, "discount": 50, "price": 1,
    }  # fmt: skip
    client.post(reverse("payments:checkout", args=[bob.pk]), form)
    order = Order.objects.get()
    assert order.unit_price == bob.hourly_price * 9 // 10 and order.discount_percent == 10


@pytest.mark.parametrize(
    "discounts",
    [{5: 51}, {5: -1}, {10: 10**9}, {7: 10}, {5: "10"}, {5: 1.5}],
)
def test_absurd_discounts_are_refused_and_change_nothing(bob, discounts):
    _offers(bob, discounts={5: 5})
    with pytest.raises(CoachingError):
        _offers(bob, discounts=discounts)
    bob.refresh_from_db()
    assert bob.package_discounts == {"5": 5}


def test_a_discount_written_out_of_bounds_in_the_database_is_ignored(bob):
    bob.package_discounts = {"5": 90, "10": "x", "20": True}
    assert [bob.discount_for(size) for size in (5, 10, 20)] == [0, 0, 0]
    bob.package_discounts = ["not", "a", "dict"]
    assert bob.discount_for(5) == 0


@pytest.mark.parametrize(
    "form",
    [
        {"discount_5": "51"},
        {"discount_10": "-3"},
        {"discount_20": "1e9"},
        {"discount_5": "9" * 500},
        {"trial_offered": "on", "trial_price": "-5"},
        {"trial_offered": "on", "trial_price": "1e999"},
        {"trial_offered": "on", "trial_price": "12.345"},
        {"trial_offered": "on", "trial_price": "\x00"},
    ],
)
def test_the_offers_form_answers_absurd_input_with_a_message(client, bob, form):
    client.force_login(bob.user)
    response = client.post(reverse("coaching:offers_edit"), form)
    assert response.status_code == 400
    assert b"errorlist" in response.content
    bob.refresh_from_db()
    assert bob.package_discounts == {} and not bob.trial_offered


def test_the_profile_page_saves_offers_and_the_coach_page_shows_them_with_the_saving(
    client, alice, bob, leadership
):
    client.force_login(bob.user)
    page = client.get(reverse("coaching:profile_edit")).content.decode()
    assert "Trial and package discounts" in page
    response = client.post(
        reverse("coaching:offers_edit"),
        {"trial_offered": "on", "trial_price": "", "discount_5": "5", "discount_10": "10",
         "discount_20": ""},
    )  # fmt: skip
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.trial_offered and bob.trial_price == 0
    assert bob.package_discounts == {"5": 5, "10": 10}

    client.force_login(alice)
    html = client.get(reverse("marketplace:coach_detail", args=[bob.pk])).content.decode()
    assert "Trial session: 30 min, free, once per client" in html
    assert "Book a free trial" in html and "?trial=1" in html
    saving = format_money(10 * bob.hourly_price // 10, bob.currency)
    assert f"save {saving} (10 %)" in html
    catalog = client.get(reverse("coaching:catalog")).content.decode()
    assert "Free trial" in catalog and "Packages up to 10 % off" in catalog

    buy = client.get(
        reverse("payments:buy", args=[bob.pk]), {"skill": leadership.slug, "duration": 60}
    ).content.decode()
    assert "10 % off: save" in buy
    summary = client.get(
        reverse("payments:buy", args=[bob.pk]),
        {"skill": leadership.slug, "duration": 60, "quantity": 10},
    ).content.decode()
    assert f"10 % off: you save {saving}" in summary


# --- Trials --------------------------------------------------------------------------------


def test_a_free_trial_needs_no_payment_and_issues_a_credit_at_zero(alice, bob, leadership):
    _offers(bob)
    order = _trial(alice, bob, leadership, method="stripe")  # nothing to pay: no Stripe
    assert (order.status, order.method, order.total_price) == ("paid", "free", 0)
    assert order.is_trial and order.duration_minutes == 30
    assert not WalletEntry.objects.filter(user=alice).exists()
    credit = order.credits.get()
    assert credit.price_paid == 0 and credit.status == "scheduled"
    session = Session.objects.get(credit=credit)
    assert session.status == "scheduled" and session.duration_minutes == 30


def test_every_money_path_copes_with_a_free_credit(alice, bob, leadership):
    _offers(bob)
    credit = _trial(alice, bob, leadership).credits.get()
    # Used: the coach earns nothing, once; refunded after: nothing moves, no error.
    assert ledger.credit_use(credit=credit, session_id=None, by=None, now=T, why="held")
    assert EarningEntry.objects.get(credit=credit).amount == 0
    with transaction.atomic():
        refund = credit_refund(credit=credit, to_card=True, by=None, now=T, why="report")
    assert refund.amount == 0 and refund.status == "succeeded"
    assert not WalletEntry.objects.filter(user=alice).exists()
    assert EarningEntry.objects.filter(credit=credit).count() == 2  # earned 0, reversed 0


def test_a_paid_trial_costs_the_coachs_trial_price(alice, bob, leadership):
    _offers(bob, price=1500)
    _fund(alice, 5000)
    order = _trial(alice, bob, leadership)
    assert (order.total_price, order.method) == (1500, "wallet")
    assert ledger.wallet_balance(user=alice) == 3500


def test_a_trial_is_once_per_client_and_coach(alice, carol, bob, dora, leadership):
    _offers(bob)
    _trial(alice, bob, leadership)
    with pytest.raises(PaymentError, match="had your trial session with Bob Coach"):
        _trial(alice, bob, leadership, at=T + timedelta(hours=1))
    # Another client may; and a trial with another coach is another trial.
    _trial(carol, bob, leadership, at=T + timedelta(hours=1))
    assert Order.objects.filter(is_trial=True).count() == 2


def test_a_trial_that_was_never_paid_may_be_tried_again(alice, bob, leadership, stripe_settings):
    _offers(bob, price=1500)
    order = _trial(alice, bob, leadership, method="stripe")
    assert order.status == "pending"
    with pytest.raises(PaymentError, match="had your trial"):
        _trial(alice, bob, leadership, at=T + timedelta(hours=1), method="stripe")
    order_expire(order=order, now=BOOKED_AT, why="not paid")
    assert _trial(alice, bob, leadership, at=T + timedelta(hours=1), method="stripe")


def test_the_database_refuses_a_second_trial_whatever_the_code_does(alice, bob, leadership):
    _offers(bob)
    first = _trial(alice, bob, leadership)
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            client=alice, coach=bob, skill=leadership, duration_minutes=30, quantity=1,
            unit_price=0, total_price=0, currency="USD", method="free", status="paid",
            expires_at=first.expires_at, is_trial=True,
        )  # fmt: skip


def test_no_trial_unless_the_coach_offers_one_and_only_one_30_minute_session(
    alice, bob, leadership
):
    with pytest.raises(PaymentError, match="does not offer a trial"):
        _trial(alice, bob, leadership)
    _offers(bob)
    with pytest.raises(PaymentError, match="A trial is one session of 30 minutes"):
        order_start(
            client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=1,
            method="wallet", starts_at=T, now=BOOKED_AT, trial=True,
        )  # fmt: skip


def test_the_buy_page_books_a_trial_and_then_says_it_was_had(client, alice, bob, leadership):
    _offers(bob)
    client.force_login(alice)
    url = reverse("payments:buy", args=[bob.pk])
    with freeze_time(BOOKED_AT):
        page = client.get(url, {"trial": "1", "skill": leadership.slug}).content.decode()
        assert "Book a trial session" in page and "Trial, 30 minutes" in page
        assert "How many" not in page
        start = T.strftime("%Y-%m-%dT%H:%M:%SZ")
        summary = client.get(
            url, {"trial": "1", "skill": leadership.slug, "start": start}
        ).content.decode()
        assert "Book the free trial" in summary
        response = client.post(
            reverse("payments:checkout", args=[bob.pk]),
            {"skill": leadership.slug, "duration": 30, "quantity": 1, "start": start,
             "method": "wallet", "trial": "on"},
        )  # fmt: skip
        assert response.status_code == 302
        assert Order.objects.get().is_trial
        again = client.get(url, {"trial": "1", "skill": leadership.slug}).content.decode()
        assert "You have had your trial session with Bob Coach already" in again


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_ten_threads_asking_for_one_clients_trial_at_once_make_one(alice, bob, leadership):
    _offers(bob)
    starts = [T + timedelta(minutes=30 * n) for n in range(6)] + [
        T + timedelta(days=1, minutes=30 * n) for n in range(4)
    ]
    barrier = threading.Barrier(len(starts))
    outcomes = []

    def buy(start):
        try:
            barrier.wait()
            _trial(alice, bob, leadership, at=start)
            outcomes.append("booked")
        except PaymentError as error:
            outcomes.append(str(error))
        except Exception as error:  # anything else would be a 500
            outcomes.append(f"crash: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=(start,)) for start in starts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("booked") == 1, outcomes
    assert all("had your trial" in o for o in outcomes if o != "booked"), outcomes
    assert Order.objects.filter(is_trial=True).count() == 1


def test_a_free_trial_credit_that_expires_or_ends_moves_no_money(alice, bob, leadership):
    _offers(bob)
    order = _trial(alice, bob, leadership)
    credit = order.credits.get()
    ledger.credit_give_back(credit=credit, by=None, now=BOOKED_AT, why="the coach cancelled")
    assert packages.package_end(order=order, by=alice, now=BOOKED_AT) == (1, 0)
    assert order.credits.get().status == "ended"
    assert not WalletEntry.objects.filter(user=alice).exists()
