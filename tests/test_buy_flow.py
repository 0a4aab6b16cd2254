"""The buy flow's pages: each step, both payment methods, lost races, and who may see what."""

from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.urls import reverse
from freezegun import freeze_time

from ledger.models import Credit
from ledger.services import wallet_balance, wallet_post
from payments.models import Order, TopUp
from payments.services import order_start
from sessions_app.models import PreSessionSurvey, Session
from tests.factories import CoachFactory, SkillFactory, UserFactory
from tests.payments_fixtures import NINE_AM, NOW
from tests.stripe_helpers import checkout_completed, event, sign
from tests.waiting import PATIENCE

pytestmark = pytest.mark.django_db
ISO_NINE = "2026-11-23T14:00:00Z"


def buy_url(coach):
    return reverse("payments:buy", args=[coach.pk])


def checkout(client, coach, **data):
    form = {
        "skill": "leadership",
        "duration": "60",
        "quantity": "1",
        "start": ISO_NINE,
        "method": "wallet",
    }
    form.update(data)
    return client.post(reverse("payments:checkout", args=[coach.pk]), form)


def fund(user, amount):
    wallet_post(
        user=user,
        amount=amount,
        reason="top_up",
        key=f"fund-{user.pk}-{amount}",
        now=NOW,
    )


@freeze_time(NOW)
def test_each_step_adds_the_next_choice(client, alice, bob, leadership):
    bob.skills.add(SkillFactory(name="Stagecraft"))  # two skills: the first step is a choice
    client.force_login(alice)

    start = client.get(buy_url(bob))
    skill = client.get(buy_url(bob), {"skill": "leadership"})
    duration = client.get(buy_url(bob), {"skill": "leadership", "duration": "45"})
    single = client.get(buy_url(bob), {"skill": "leadership", "duration": "45", "quantity": "1"})
    package = client.get(buy_url(bob), {"skill": "leadership", "duration": "45", "quantity": "10"})
    picked = client.get(
        buy_url(bob), {"skill": "leadership", "duration": "60", "quantity": "1", "start": ISO_NINE}
    )

    assert "Choose a skill in the menu" in start.content.decode()
    assert "Session length" in skill.content.decode() and "How many" not in skill.content.decode()
    assert [q[0] for q in duration.context["quantities"]] == [1, 5, 10, 20]
    assert duration.context["quantities"][2][:3] == (10, "7.5", 75000)  # 10 × 45 min, $750
    assert single.context["week_days"] and not single.context["ready"]
    assert package.context["ready"] and package.context["total"] == 75000
    assert picked.context["ready"] and picked.context["start"] == NINE_AM
    assert "Monday 23 November, 15:00" in picked.content.decode()  # Alice's zone, Berlin


@freeze_time(NOW)
def test_a_step_requested_by_htmx_renders_only_the_main_part(client, alice, bob, leadership):
    client.force_login(alice)

    response = client.get(
        buy_url(bob),
        {"skill": "leadership"},
        headers={"HX-Request": "true", "HX-Target": "buy-main"},
    )

    assert response.content.decode().lstrip().startswith('<div class="buy-layout" id="buy-main"')


def test_coaches_cannot_buy_and_strangers_must_log_in(client, bob, dora, leadership):
    assert client.get(buy_url(bob)).status_code == 302
    client.force_login(dora.user)
    assert client.get(buy_url(bob)).status_code == 302  # back to the coach page, with a message
    assert checkout(client, bob).status_code == 404


def test_an_unknown_or_unlisted_coach_is_not_found(client, alice):
    hidden = CoachFactory(is_listed=False, hourly_price=None)
    client.force_login(alice)
    assert client.get(buy_url(hidden)).status_code == 404
    assert client.get(reverse("payments:buy", args=[424242])).status_code == 404


@freeze_time(NOW)
def test_paying_a_single_session_from_the_wallet_lands_on_the_booking_with_the_survey(
    client, alice, bob, leadership
):
    fund(alice, 10000)
    client.force_login(alice)

    response = checkout(client, bob)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("payments:order_detail", args=[order.pk])
    page = client.get(response.url).content.decode()
    assert "Paid — thank you!" in page
    assert "Your session is booked" in page
    assert "Before you meet: a short survey" in page
    assert wallet_balance(user=alice) == 0


@freeze_time(NOW)
def test_a_lost_race_says_so_and_offers_fresh_slots(client, alice, carol, bob, leadership):
    order_start(
        client=carol,
        coach=bob,
        skill=leadership,
        duration_minutes=60,
        quantity=1,
        method="stripe",
        starts_at=NINE_AM,
        now=NOW,
    )
    fund(alice, 10000)
    client.force_login(alice)

    answer = checkout(client, bob)

    # Sent back at once, in few bytes, to the same choices; the page says why.
    assert answer.status_code == 302 and len(answer.content) < 1000
    assert answer.url == buy_url(bob) + "?skill=leadership&duration=60&quantity=1"
    response = client.get(answer.url)
    body = response.content.decode()
    assert "not available any more" in body or "just taken" in body
    offered = [t for _, times in response.context["week_days"] for t, _ in times]
    assert NINE_AM not in offered and offered
    assert Order.objects.count() == 1
    assert wallet_balance(user=alice) == 10000


@freeze_time(NOW)
def test_a_short_wallet_says_so_and_releases_the_slot(client, alice, bob, leadership):
    fund(alice, 500)
    client.force_login(alice)

    response = checkout(client, bob)

    assert response.status_code == 200
    assert "Your wallet has $5.00; this needs $100.00" in response.content.decode()
    assert not Session.objects.occupying(NOW).exists()
    # The order and its payment are one transaction: a refused payment leaves no order.
    assert not Order.objects.exists()
    assert wallet_balance(user=alice) == 500


@freeze_time(NOW)
@pytest.mark.parametrize(("quantity", "start", "queries"), [("1", ISO_NINE, 34), ("5", "", 17)])
def test_a_wallet_purchase_costs_a_fixed_number_of_queries(
    client, alice, bob, leadership, django_assert_num_queries, quantity, start, queries
):
    fund(alice, 100000)
    client.force_login(alice)
    client.get(buy_url(bob))  # the session and the user are read as on any page
    # Counted with savepoints: the test runs in a transaction, so atomic blocks are those. A
    # package: the client's and the coach's rows locked (the price is read there), the coach's
    # skills, the order and its event, the wallet's entry (four, in a savepoint), the credits
    # and their events, the receipt. A single session adds its open checkouts counted, its
    # slot's check, hold and scheduling, with their events and the booking's emails.

    with django_assert_num_queries(queries):
        response = checkout(client, bob, quantity=quantity, start=start)

    assert response.status_code == 302 and Order.objects.get().status == Order.Status.PAID


@freeze_time(NOW)
@pytest.mark.parametrize(
    "data",
    [
        {"duration": "50"},
        {"quantity": "3"},
        {"method": "bitcoin"},
        {"start": "tomorrow at nine"},
        {"start": ""},
        {"skill": "juggling"},
    ],
)
def test_bad_checkout_input_gets_a_message_and_changes_nothing(
    client, alice, bob, leadership, data
):
    fund(alice, 100000)
    client.force_login(alice)

    response = checkout(client, bob, **data)

    assert response.status_code == 200
    assert response.context["error"]
    assert not Order.objects.exists()
    assert not Session.objects.exists()


@freeze_time(NOW)
def test_paying_by_card_goes_to_the_stripe_checkout_page(
    client, alice, bob, leadership, stripe_settings
):
    client.force_login(alice)

    response = checkout(client, bob, method="stripe")

    order = Order.objects.get()
    assert response.status_code == 302
    assert response.url == order.stripe_checkout_url
    assert response.url.startswith(stripe_settings.STRIPE_API_BASE + "/checkout/cs_test_")
    assert order.held_session.status == Session.Status.HELD
    # The order page shows the real state, whatever the query string says.
    page = client.get(reverse("payments:order_detail", args=[order.pk]) + "?paid=1&status=paid")
    assert "Waiting for the payment confirmation" in page.content.decode()


@freeze_time(NOW)
def test_card_payments_unavailable_says_so_and_frees_the_slot(
    client, alice, bob, leadership, settings
):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    client.force_login(alice)

    response = checkout(client, bob, method="stripe")

    assert response.status_code == 200
    assert "Card payments are unavailable right now" in response.content.decode()
    assert Order.objects.get().status == Order.Status.EXPIRED
    assert not Session.objects.occupying(NOW).exists()


def test_another_clients_order_is_not_found(client, alice, carol, bob, leadership):
    order = order_start(
        client=carol,
        coach=bob,
        skill=leadership,
        duration_minutes=60,
        quantity=5,
        method="stripe",
        now=NOW,
    )
    client.force_login(alice)
    assert client.get(reverse("payments:order_detail", args=[order.pk])).status_code == 404


@freeze_time(NOW)
def test_scheduling_a_package_credit_and_answering_the_survey(client, alice, bob, leadership):
    fund(alice, 50000)
    client.force_login(alice)
    checkout(client, bob, quantity="5", start="")
    credit = Credit.objects.filter(client=alice).first()

    sessions_page = client.get(reverse("sessions:list")).content.decode()
    schedule_page = client.get(reverse("sessions:schedule", args=[credit.pk]))
    scheduled = client.post(reverse("sessions:schedule", args=[credit.pk]), {"start": ISO_NINE})

    assert "5 × 60 min Leadership" in sessions_page
    assert NINE_AM in [t for _, times in schedule_page.context["slot_days"] for t in times]
    session = Session.objects.get()
    assert scheduled.url == reverse("sessions:survey", args=[session.pk])
    assert session.credit_id == credit.pk and session.status == Session.Status.SCHEDULED
    assert Credit.objects.filter(client=alice, status="available").count() == 4
    # The unanswered survey is a pending action until it is answered.
    assert client.get("/").context["pending_count"] == 1

    answered = client.post(
        scheduled.url, {"goals": "Lead my first team", "challenges": "Giving feedback"}
    )

    assert answered.status_code == 302
    assert PreSessionSurvey.objects.get(session=session).goals == "Lead my first team"
    assert client.get("/").context["pending_count"] == 0
    client.force_login(bob.user)
    coach_view = client.get(reverse("sessions:detail", args=[session.pk])).content.decode()
    assert "Lead my first team" in coach_view and "Giving feedback" in coach_view


@freeze_time(NOW)
def test_scheduling_a_taken_time_says_so(client, alice, carol, bob, leadership):
    fund(alice, 50000)
    client.force_login(alice)
    checkout(client, bob, quantity="5", start="")
    order_start(
        client=carol,
        coach=bob,
        skill=leadership,
        duration_minutes=60,
        quantity=1,
        method="stripe",
        starts_at=NINE_AM,
        now=NOW,
    )
    credit = Credit.objects.filter(client=alice).first()

    response = client.post(reverse("sessions:schedule", args=[credit.pk]), {"start": ISO_NINE})

    assert response.status_code == 409
    assert "not available any more" in response.content.decode()
    assert Credit.objects.filter(client=alice, status="available").count() == 5


def test_other_peoples_sessions_credits_and_surveys_are_not_found(
    client, alice, carol, bob, leadership
):
    fund(carol, 50000)
    order_start(
        client=carol,
        coach=bob,
        skill=leadership,
        duration_minutes=60,
        quantity=1,
        method="wallet",
        starts_at=NINE_AM,
        now=NOW,
    )

    session = Session.objects.get()
    client.force_login(alice)

    assert client.get(reverse("sessions:detail", args=[session.pk])).status_code == 404
    assert client.get(reverse("sessions:survey", args=[session.pk])).status_code == 404
    assert client.get(reverse("sessions:schedule", args=[session.credit_id])).status_code == 404
    client.force_login(bob.user)
    assert client.get(reverse("sessions:detail", args=[session.pk])).status_code == 200
    assert client.get(reverse("sessions:survey", args=[session.pk])).status_code == 404


@freeze_time(NOW)
def test_survey_needs_both_answers(client, alice, bob, leadership):
    fund(alice, 10000)
    client.force_login(alice)
    checkout(client, bob)
    session = Session.objects.get()

    response = client.post(
        reverse("sessions:survey", args=[session.pk]), {"goals": "x", "challenges": ""}
    )

    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not PreSessionSurvey.objects.exists()


@freeze_time(NOW)
def test_wallet_page_and_top_up_through_the_stand_in(client, alice, stripe_settings):
    client.force_login(alice)

    page = client.get(reverse("payments:wallet"))
    bad = client.post(reverse("payments:top_up"), {"amount": "-5"})
    too_small = client.post(reverse("payments:top_up"), {"amount": "1"})
    good = client.post(reverse("payments:top_up"), {"amount": "50"})

    assert "$0.00" in page.content.decode()
    assert "Enter an amount above zero." in bad.content.decode()
    assert "Top up between $5.00 and $1,000.00." in too_small.content.decode()
    assert good.status_code == 302
    assert good.url.startswith(stripe_settings.STRIPE_API_BASE + "/checkout/")


def test_pages_need_a_login(client):
    pages = ["payments:wallet", "sessions:list", "marketplace:pending"]
    for url in [reverse(name) for name in pages]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


@freeze_time(NOW)
def test_sessions_page_query_count_is_fixed(
    client, alice, bob, leadership, django_assert_max_num_queries
):
    fund(alice, 1_000_000)
    client.force_login(alice)
    for count in (5, 10):
        checkout(client, bob, quantity=str(count), start="")
    credits = list(Credit.objects.filter(client=alice)[:6])
    for hour, credit in enumerate(credits):
        client.post(
            reverse("sessions:schedule", args=[credit.pk]),
            {"start": (NINE_AM + timedelta(days=hour + 1)).strftime("%Y-%m-%dT%H:%M:%S%z")},
        )
    assert Session.objects.count() >= 4

    with django_assert_max_num_queries(10):
        assert client.get(reverse("sessions:list")).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(reverse("payments:wallet")).status_code == 200


@freeze_time(NOW)
def test_the_same_buy_form_sent_twice_buys_once(client, alice, bob, leadership):
    fund(alice, 100000)
    client.force_login(alice)
    token = client.get(
        buy_url(bob), {"skill": "leadership", "duration": "60", "quantity": "5"}
    ).context["token"]

    first = checkout(client, bob, quantity="5", start="", token=token)
    second = checkout(client, bob, quantity="5", start="", token=token)

    assert Order.objects.count() == 1
    assert (
        first.url == second.url == reverse("payments:order_detail", args=[Order.objects.get().pk])
    )
    assert wallet_balance(user=alice) == 100000 - 50000
    assert Credit.objects.filter(client=alice).count() == 5
    other = checkout(client, bob, quantity="5", start="", token="another-form")
    assert other.status_code == 302 and Order.objects.count() == 2


@freeze_time(NOW)
def test_a_price_changed_while_the_old_one_is_cached_is_charged_at_the_new_price(
    client, alice, bob, leadership
):
    from coaching.models import CoachProfile

    fund(alice, 100000)
    client.force_login(alice)
    assert "$100.00 per hour" in client.get(buy_url(bob)).content.decode()  # now in the cache
    # Changed behind the cache's back (no signal renews it): the page may lag, the price not.
    CoachProfile.objects.filter(pk=bob.pk).update(hourly_price=12000)
    assert "$100.00 per hour" in client.get(buy_url(bob)).content.decode()

    checkout(client, bob, quantity="5", start="")

    order = Order.objects.get()
    assert (order.unit_price, order.total_price) == (12000, 60000)
    assert wallet_balance(user=alice) == 100000 - 60000


@freeze_time(NOW)
def test_a_coach_delisted_while_the_cache_still_lists_them_sells_nothing(
    client, alice, bob, leadership
):
    from coaching.models import CoachProfile

    fund(alice, 100000)
    client.force_login(alice)
    client.get(buy_url(bob))
    CoachProfile.objects.filter(pk=bob.pk).update(is_listed=False)

    response = checkout(client, bob, quantity="5", start="")

    assert "does not offer" in response.content.decode()
    assert not Order.objects.exists()
    assert wallet_balance(user=alice) == 100000


def cancel_on_stripes_page(checkout_url: str) -> str:
    """Presses Cancel on the stand-in's hosted page; returns where it sends the browser."""
    response = requests.post(f"{checkout_url}/cancel", allow_redirects=False, timeout=PATIENCE)
    assert response.status_code == 303
    return response.headers["Location"]


@freeze_time(NOW)
def test_cancel_on_stripes_page_closes_the_checkout_and_frees_the_time_at_once(
    client, alice, bob, leadership, stripe_settings
):
    client.force_login(alice)
    checkout(client, bob, method="stripe")
    order = Order.objects.get()
    back = cancel_on_stripes_page(order.stripe_checkout_url)
    assert back.startswith(f"{settings.SITE_URL}/orders/{order.pk}/cancel/?token=")

    response = client.get(back.removeprefix(settings.SITE_URL), follow=True)

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.held_session.status == Session.Status.EXPIRED
    assert not Session.objects.occupying(NOW).exists()
    stripe_page = requests.get(order.stripe_checkout_url, timeout=PATIENCE).text
    assert "This checkout is <strong>expired</strong>" in stripe_page
    # Back on the buy page with the same choices and the reason, to pick a time again.
    assert response.redirect_chain[-1][0].startswith(buy_url(bob) + "?skill=leadership")
    assert "You cancelled the payment: nothing was charged, and" in response.content.decode()
    assert "is free again." in response.content.decode()
    # Another client can book that very time now.
    carol = UserFactory(email="carol@example.com")
    fund(carol, 100000)
    client.force_login(carol)
    assert checkout(client, bob).status_code == 302
    assert Order.objects.get(client=carol).status == Order.Status.PAID


@freeze_time(NOW)
def test_a_cancel_link_without_its_signature_or_of_another_client_changes_nothing(
    client, alice, bob, leadership, stripe_settings
):
    client.force_login(alice)
    checkout(client, bob, method="stripe")
    order = Order.objects.get()
    cancel = reverse("payments:order_cancel", args=[order.pk])

    for query in ("", "?token=", "?token=forged", "?token=" + "x" * 5000):
        response = client.get(cancel + query)
        assert response.status_code == 302
        assert response.url == reverse("payments:order_detail", args=[order.pk])
    client.force_login(UserFactory(email="mallory@example.com"))
    assert client.get(cancel_on_stripes_page(order.stripe_checkout_url)).status_code == 404
    assert client.post(cancel).status_code == 404

    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert order.held_session.status == Session.Status.HELD


@freeze_time(NOW)
def test_the_order_page_cancels_a_pending_payment_and_a_late_payment_is_still_honoured(
    client, alice, bob, leadership, stripe_settings
):
    client.force_login(alice)
    checkout(client, bob, method="stripe")
    order = Order.objects.get()
    page = client.get(reverse("payments:order_detail", args=[order.pk])).content.decode()
    assert "Cancel this payment" in page

    client.post(reverse("payments:order_cancel", args=[order.pk]))

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    page = client.get(reverse("payments:order_detail", args=[order.pk])).content.decode()
    assert "You cancelled this payment" in page
    # Stripe paid it before the cancel reached it: the money is not lost.
    payload = event("evt_late", "checkout.session.completed", checkout_completed(
        f"order-{order.pk}", amount=order.total_price
    ))  # fmt: skip
    webhook = client.post(
        reverse("payments:stripe_webhook"), payload, content_type="application/json",
        headers={"Stripe-Signature": sign(payload)},
    )  # fmt: skip
    assert webhook.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert Credit.objects.get(order=order).status == Credit.Status.SCHEDULED


@freeze_time(NOW)
def test_cancel_on_stripes_page_for_a_top_up_says_so_and_credits_nothing(
    client, alice, stripe_settings
):
    client.force_login(alice)
    client.post(reverse("payments:top_up"), {"amount": "50"})
    top_up = TopUp.objects.get()

    response = client.get(
        cancel_on_stripes_page(top_up.stripe_checkout_url).removeprefix(settings.SITE_URL),
        follow=True,
    )

    top_up.refresh_from_db()
    assert top_up.status == TopUp.Status.CANCELLED
    assert "You cancelled the top-up: nothing was charged." in response.content.decode()
    assert "Waiting for Stripe" not in response.content.decode()
    assert wallet_balance(user=alice) == 0
