"""Coaches get paid: the balance is the sum of the earning entries and never goes below zero
for a payout; requests are checked against it under the coach's lock; Stripe transfers go
once, however often the task runs or the webhook comes; a failed or reversed transfer puts
the money back once; a payout by hand is recorded with its reference; a refund after a
payout is absorbed by the next payout. The Stripe side runs against the stand-in."""

import csv
import http.server
import io
import itertools
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
import stripe
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from ledger import services as ledger
from ledger.models import EarningEntry
from ledger.services import wallet_post
from payments import refunds
from payments.services import order_start
from payments.webhooks import stripe_event_process
from payouts import selectors, services, stripe_connect
from payouts.models import Payout, PayoutAccount, PayoutEvent
from tests.factories import CoachFactory, UserFactory
from tests.payments_fixtures import NOW

pytestmark = pytest.mark.django_db
SHARE = 8500  # Bob's hour ($100) less the platform's 15 %
keys = itertools.count()


@pytest.fixture
def sam(db):
    return UserFactory(display_name="Sam Staff", email="sam@example.com", is_staff=True,
                       is_superuser=True)  # fmt: skip


def earn(alice, bob, skill, *, now=NOW, used: int = 5):
    """Alice buys five hours of Bob from her wallet; ``used`` of them take place."""
    wallet_post(user=alice, amount=50_000, reason="top_up", key=f"fund-{next(keys)}", now=now)
    order = order_start(
        client=alice, coach=bob, skill=skill, duration_minutes=60, quantity=5,
        method="wallet", now=now,
    )  # fmt: skip
    credits = list(order.credits.order_by("pk"))
    for credit in credits:
        ledger.credit_schedule(credit=credit, by=alice, now=now, why="booked")
    for credit in credits[:used]:
        ledger.credit_use(credit=credit, session_id=None, by=alice, now=now, why="held")
    return credits


def by_paypal(bob):
    services.manual_method_set(coach=bob, method="paypal", details="bob@paypal.example")


def total(bob) -> int:
    return EarningEntry.objects.filter(coach=bob).aggregate(t=Sum("amount"))["t"] or 0


# --- Balance and requests ------------------------------------------------------------------


def test_the_balance_is_the_sum_of_the_entries_and_pending_is_the_booked_share(
    alice, bob, leadership
):
    earn(alice, bob, leadership, used=3)

    balance = selectors.balance_of(coach=bob)

    assert balance.total == total(bob) == 3 * SHARE
    assert (balance.earned, balance.available, balance.pending) == (3 * SHARE, 3 * SHARE, 2 * SHARE)
    assert balance.paid_out == balance.owed_back == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("9.99", "The smallest payout is $10.00."),
        ("3000.01", "The largest payout is $3,000.00; ask for several."),
        ("425.01", "You can be paid out up to $425.00 now."),
        ("abc", "“abc” is not an amount."),
        ("1" * 500, "at most 40 characters"),
    ],
)
def test_a_request_below_the_least_above_the_most_or_beyond_the_balance_is_refused(
    client, alice, bob, leadership, amount, message
):
    earn(alice, bob, leadership)  # $425.00 available
    by_paypal(bob)
    client.force_login(bob.user)

    answer = client.post(reverse("payouts:request"), {"amount": amount})

    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not Payout.objects.exists()
    assert total(bob) == 5 * SHARE


def test_a_request_needs_a_method(client, alice, bob, leadership):
    earn(alice, bob, leadership)
    with pytest.raises(services.PayoutError, match="Set up how you are paid first"):
        services.payout_request(coach=bob, amount=5000, by=bob.user, now=NOW)


def test_two_requests_cannot_take_more_than_the_balance(alice, bob, leadership):
    earn(alice, bob, leadership)
    by_paypal(bob)
    services.payout_request(coach=bob, amount=30_000, by=bob.user, now=NOW)

    with pytest.raises(services.PayoutError, match=r"up to \$125.00"):
        services.payout_request(coach=bob, amount=30_000, by=bob.user, now=NOW)

    assert total(bob) == 5 * SHARE - 30_000
    assert Payout.objects.count() == 1


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_ten_requests_at_once_never_overdraw(alice, bob, leadership):
    with transaction.atomic():
        earn(alice, bob, leadership)  # $425.00: room for four payouts of $100.00
    by_paypal(bob)
    barrier = threading.Barrier(10)
    outcomes = []

    def ask():
        try:
            barrier.wait()
            services.payout_request(coach=bob, amount=10_000, by=bob.user, now=NOW)
            outcomes.append("paid")
        except services.PayoutError as error:
            outcomes.append(str(error))
        except Exception as error:  # anything else would be a 500
            outcomes.append(f"crash: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("paid") == 4, outcomes
    assert outcomes.count("You can be paid out up to $25.00 now.") == 6, outcomes
    assert total(bob) == 2500


# --- By hand ---------------------------------------------------------------------------------


def test_a_paypal_payout_is_paid_by_hand_from_the_admin_with_a_reference(
    client, alice, bob, leadership, sam, mailoutbox, django_capture_on_commit_callbacks
):
    earn(alice, bob, leadership)
    by_paypal(bob)
    client.force_login(bob.user)
    answer = client.post(reverse("payouts:request"), {"amount": "100"}, follow=True)
    assert "Payout of $100.00 requested; an admin will pay it." in answer.content.decode()
    payout = Payout.objects.get()
    assert (payout.status, payout.method, payout.destination) == (
        "requested", "paypal", "bob@paypal.example",
    )  # fmt: skip
    by_paypal(bob)  # details changed later do not move this payout
    assert total(bob) == 5 * SHARE - 10_000

    client.force_login(sam)
    desk = reverse("admin:payouts_payout_changelist")
    form = client.post(desk, {"action": "mark_paid_by_hand", ACTION_CHECKBOX_NAME: [payout.pk]})
    assert "Record payouts paid by hand" in form.content.decode()
    assert Payout.objects.get().status == "requested"  # the form asks first
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            desk,
            {"action": "mark_paid_by_hand", ACTION_CHECKBOX_NAME: [payout.pk], "confirm": "yes",
             f"reference-{payout.pk}": "PAYPAL-7XK2"},
        )  # fmt: skip

    payout.refresh_from_db()
    assert (payout.status, payout.reference) == ("paid_by_hand", "PAYPAL-7XK2")
    assert total(bob) == 5 * SHARE - 10_000  # taken once, when asked
    assert "reference PAYPAL-7XK2" in mailoutbox[-1].body
    with pytest.raises(services.PayoutError):
        services.payout_mark_paid(payout=payout, reference="again", by=sam, now=NOW)


def test_a_reference_is_required_and_a_cancelled_payout_returns_its_money_once(
    alice, bob, leadership, sam
):
    earn(alice, bob, leadership)
    by_paypal(bob)
    payout = services.payout_request(coach=bob, amount=10_000, by=bob.user, now=NOW)
    with pytest.raises(services.PayoutError, match="Enter the PayPal or Wise reference"):
        services.payout_mark_paid(payout=payout, reference=" \x00 ", by=sam, now=NOW)

    services.payout_cancel(payout=payout, by=sam, now=NOW)
    with pytest.raises(services.PayoutError, match="cancelled"):
        services.payout_cancel(payout=payout, by=sam, now=NOW)

    assert total(bob) == 5 * SHARE
    assert list(
        EarningEntry.objects.filter(payout=payout).order_by("id").values_list("kind", "amount")
    ) == [("payout", -10_000), ("returned", 10_000)]


# --- Stripe Connect ------------------------------------------------------------------------


def _no_redirects():
    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    return urllib.request.build_opener(Stay)


def onboard(client, bob):
    """Bob presses "Set up payouts", completes the stand-in's hosted onboarding, and comes
    back to the return address."""
    client.force_login(bob.user)
    answer = client.post(reverse("payouts:stripe_setup"))
    assert answer.status_code == 302
    link = answer["Location"]
    urllib.request.urlopen(link, timeout=10).read()  # the page is opened first, as a browser does
    with pytest.raises(urllib.error.HTTPError) as back:
        _no_redirects().open(urllib.request.Request(f"{link}/complete", data=b"", method="POST"))
    assert back.value.code == 303
    assert back.value.headers["Location"].endswith(reverse("payouts:stripe_return"))
    page = client.get(reverse("payouts:stripe_return"), follow=True)
    assert "Stripe payouts are set up." in page.content.decode()
    return PayoutAccount.objects.get(coach=bob)


def standin(settings, path: str) -> None:
    request = urllib.request.Request(f"{settings.STRIPE_API_BASE}{path}", data=b"", method="POST")
    urllib.request.urlopen(request, timeout=10).read()


def transfers_to(settings, account: str) -> list:
    client = stripe.StripeClient("sk_test_suite", base_addresses={"api": settings.STRIPE_API_BASE})
    return list(client.v1.transfers.list({"destination": account}).data)


def test_set_up_payouts_makes_one_account_and_records_when_payouts_are_enabled(
    client, bob, stripe_settings
):
    account = onboard(client, bob)
    assert account.stripe_account_id.startswith("acct_")
    assert (account.stripe_payouts_enabled, account.method) == (True, "stripe")

    client.post(reverse("payouts:stripe_setup"))  # a second click: the same account
    assert PayoutAccount.objects.get().stripe_account_id == account.stripe_account_id


def test_a_coach_of_the_same_number_on_another_site_gets_an_account_of_their_own(
    client, bob, stripe_settings
):
    """A database reset (or a staging site on the same Stripe account) numbers its coaches
    from 1 again: the account made for the first coach 1 must not be replayed for this one."""
    first = onboard(client, bob).stripe_account_id
    PayoutAccount.objects.all().delete()  # the same coach row, a new site's payout row

    assert onboard(client, bob).stripe_account_id != first


def test_account_updated_records_what_stripe_says_now_not_what_the_event_says(
    client, bob, dora, stripe_settings, django_capture_on_commit_callbacks
):
    """Events come out of order: an old "payouts off" after a newer "on" must not turn a
    coach's payouts off. The event is a trigger; the account is read from Stripe."""
    account = onboard(client, bob)  # on at Stripe, and here
    stale = {"id": account.stripe_account_id, "object": "account", "payouts_enabled": False,
             "details_submitted": False}  # fmt: skip
    stranger = {**stale, "id": "acct_stranger", "payouts_enabled": True}
    with django_capture_on_commit_callbacks(execute=True):
        stripe_event_process(event_id="evt_acct_old", event_type="account.updated", obj=stale,
                             now=NOW)  # fmt: skip
        stripe_event_process(event_id="evt_acct_x", event_type="account.updated", obj=stranger,
                             now=NOW)  # fmt: skip

    account.refresh_from_db()
    assert (account.stripe_payouts_enabled, account.stripe_details_submitted) == (True, True)
    assert PayoutAccount.objects.count() == 1

    # Dora started onboarding and left: an event claiming she is enabled records what
    # Stripe says (not enabled).
    client.force_login(dora.user)
    client.post(reverse("payouts:stripe_setup"))
    theirs = PayoutAccount.objects.get(coach=dora)
    forged = {**stale, "id": theirs.stripe_account_id, "payouts_enabled": True}
    with django_capture_on_commit_callbacks(execute=True):
        stripe_event_process(event_id="evt_acct_d", event_type="account.updated", obj=forged,
                             now=NOW)  # fmt: skip
    theirs.refresh_from_db()
    assert not theirs.stripe_payouts_enabled


def test_a_stripe_payout_is_one_transfer_when_the_task_runs_twice_and_the_webhook_five_times(
    client, alice, bob, leadership, stripe_settings, django_capture_on_commit_callbacks,
    mailoutbox,
):  # fmt: skip
    earn(alice, bob, leadership)
    account = onboard(client, bob)

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("payouts:request"), {"amount": "200"})
    assert answer.status_code == 302
    payout = Payout.objects.get()
    assert payout.status == "sent" and payout.stripe_transfer_id.startswith("tr_")
    services.payout_send(payout_id=payout.pk, now=NOW)  # the task again (a redelivery)

    transfer = stripe.StripeClient(
        "sk_test_suite", base_addresses={"api": stripe_settings.STRIPE_API_BASE}
    ).v1.transfers.retrieve(payout.stripe_transfer_id)
    for n in range(5):  # the webhook, five times (Stripe's retries, and replays)
        stripe_event_process(
            event_id=f"evt_tr_{payout.pk}_{n}", event_type="transfer.created",
            obj=transfer.to_dict(), now=NOW,
        )  # fmt: skip

    assert [t.amount for t in transfers_to(stripe_settings, account.stripe_account_id)] == [20_000]
    payout.refresh_from_db()
    assert payout.status == "sent"
    assert list(payout.events.values_list("action", flat=True)) == ["request", "send", "succeed"]
    assert total(bob) == 5 * SHARE - 20_000
    assert [m.subject for m in mailoutbox if "Payout" in m.subject] == [
        "[HSE] Payout of $200.00 sent"
    ]


def test_a_transfer_stripe_refuses_restores_the_balance_once_and_tells_the_coach(
    client, alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks,
    mailoutbox,
):  # fmt: skip
    earn(alice, bob, leadership)
    account = onboard(client, bob)
    standin(stripe_settings, "/_standin/transfers/fail_next")

    with django_capture_on_commit_callbacks(execute=True):
        payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    services.payout_send(payout_id=payout.pk, now=NOW)  # again: nothing more

    payout.refresh_from_db()
    assert payout.status == "failed" and "balance_insufficient" in payout.failure
    assert total(bob) == 5 * SHARE
    assert EarningEntry.objects.filter(payout=payout, kind="returned").count() == 1
    assert transfers_to(stripe_settings, account.stripe_account_id) == []
    assert "did not go through" in mailoutbox[-1].subject
    assert "back on your HSE balance" in mailoutbox[-1].body

    # Retried from the admin's desk: a new attempt with a new key, taken off again, sent.
    with django_capture_on_commit_callbacks(execute=True):
        services.payout_retry(payout=payout, by=sam, now=NOW)
    payout.refresh_from_db()
    assert (payout.status, payout.attempt) == ("sent", 2)
    assert total(bob) == 5 * SHARE - 20_000
    assert len(transfers_to(stripe_settings, account.stripe_account_id)) == 1


def test_a_reversed_transfer_restores_the_balance_once(
    client, alice, bob, leadership, stripe_settings, django_capture_on_commit_callbacks
):
    earn(alice, bob, leadership)
    onboard(client, bob)
    with django_capture_on_commit_callbacks(execute=True):
        payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    payout.refresh_from_db()
    standin(stripe_settings, f"/_standin/transfers/{payout.stripe_transfer_id}/reverse")
    transfer = stripe.StripeClient(
        "sk_test_suite", base_addresses={"api": stripe_settings.STRIPE_API_BASE}
    ).v1.transfers.retrieve(payout.stripe_transfer_id)
    assert transfer.reversed

    for n in range(3):
        stripe_event_process(
            event_id=f"evt_rev_{payout.pk}_{n}", event_type="transfer.reversed",
            obj=transfer.to_dict(), now=NOW,
        )  # fmt: skip

    payout.refresh_from_db()
    assert payout.status == "failed"
    assert total(bob) == 5 * SHARE
    assert EarningEntry.objects.filter(payout=payout, kind="returned").count() == 1


def test_a_transfer_event_that_is_not_our_payout_changes_nothing(alice, bob, leadership):
    earn(alice, bob, leadership)
    PayoutAccount.objects.create(
        coach=bob, method="stripe", stripe_account_id="acct_bob", stripe_payouts_enabled=True
    )
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    forged = {
        "id": "tr_forged", "object": "transfer", "amount": 99_999, "currency": "usd",
        "destination": "acct_bob", "metadata": {"payout": str(payout.pk)}, "reversed": False,
    }  # fmt: skip
    stripe_event_process(event_id="evt_forged", event_type="transfer.created", obj=forged, now=NOW)
    other = {**forged, "amount": 20_000, "destination": "acct_someone_else"}
    stripe_event_process(event_id="evt_other", event_type="transfer.created", obj=other, now=NOW)

    payout.refresh_from_db()
    assert (payout.status, payout.stripe_transfer_id) == ("requested", "")


def test_the_follow_up_sends_a_payout_whose_hand_over_was_lost_once(
    client, alice, bob, leadership, stripe_settings
):
    earn(alice, bob, leadership)
    account = onboard(client, bob)
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    # No commit callbacks ran: the task was never queued (a crash, a broker away).

    assert services.payouts_follow_up(now=NOW + timedelta(minutes=1)) == 0  # too soon
    assert services.payouts_follow_up(now=NOW + timedelta(minutes=6)) == 1
    assert services.payouts_follow_up(now=NOW + timedelta(minutes=20)) == 0

    payout.refresh_from_db()
    assert payout.status == "sent"
    assert len(transfers_to(stripe_settings, account.stripe_account_id)) == 1


# --- A refund after a payout ---------------------------------------------------------------


def test_a_refund_after_a_payout_is_absorbed_by_the_next_payout(
    client, alice, bob, leadership, sam
):
    credits = earn(alice, bob, leadership)
    by_paypal(bob)
    services.payout_request(coach=bob, amount=5 * SHARE, by=bob.user, now=NOW)
    refunds.credit_refund(credit=credits[0], to_card=False, by=sam, now=NOW, why="goodwill")

    balance = selectors.balance_of(coach=bob)
    assert (balance.total, balance.available, balance.owed_back) == (-SHARE, 0, SHARE)
    with pytest.raises(services.PayoutError, match=r"up to \$0.00"):
        services.payout_request(coach=bob, amount=1000, by=bob.user, now=NOW)
    client.force_login(bob.user)
    assert (
        "will be taken from what you earn next"
        in client.get(reverse("payouts:payouts")).content.decode()
    )

    earn(alice, bob, leadership, used=2)  # two more sessions: $170.00, less the $85.00 owed
    assert selectors.balance_of(coach=bob).available == SHARE
    with pytest.raises(services.PayoutError):
        services.payout_request(coach=bob, amount=SHARE + 1, by=bob.user, now=NOW)
    services.payout_request(coach=bob, amount=SHARE, by=bob.user, now=NOW)
    assert total(bob) == 0


# --- Weekly payouts and reminders ----------------------------------------------------------


def test_the_weekly_payout_pays_what_is_available_once_a_week(alice, bob, leadership, dora):
    earn(alice, bob, leadership)
    PayoutAccount.objects.create(
        coach=bob, method="stripe", stripe_account_id="acct_weekly", stripe_payouts_enabled=True,
        auto_weekly=True,
    )  # fmt: skip
    PayoutAccount.objects.create(  # Dora has less than the least payout
        coach=dora, method="stripe", stripe_account_id="acct_dora", stripe_payouts_enabled=True,
        auto_weekly=True,
    )  # fmt: skip
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    assert services.payouts_auto_weekly(now=monday - timedelta(days=1)) == 0  # a Sunday
    assert services.payouts_auto_weekly(now=monday) == 1
    assert services.payouts_auto_weekly(now=monday + timedelta(hours=1)) == 0

    payout = Payout.objects.get()
    assert (payout.coach, payout.amount, payout.auto_key) == (
        bob,
        5 * SHARE,
        f"auto-{bob.pk}-2026-W49",
    )


def test_weekly_payouts_need_stripe_payouts_on_and_chosen(client, bob):
    by_paypal(bob)
    with pytest.raises(services.PayoutError, match="need Stripe payouts set up and chosen"):
        services.auto_weekly_set(coach=bob, on=True)
    client.force_login(bob.user)
    page = client.post(reverse("payouts:auto_weekly"), {"auto_weekly": "on"}, follow=True)
    assert "need Stripe payouts set up and chosen" in page.content.decode()
    assert not PayoutAccount.objects.get(coach=bob).auto_weekly


def test_an_unfinished_onboarding_is_reminded_once_after_a_day(
    bob, dora, mailoutbox, django_capture_on_commit_callbacks
):
    PayoutAccount.objects.create(coach=bob, stripe_account_id="acct_b", onboarding_started_at=NOW)
    PayoutAccount.objects.create(
        coach=dora, stripe_account_id="acct_d", onboarding_started_at=NOW,
        stripe_payouts_enabled=True,
    )  # fmt: skip
    # Eve started Stripe's onboarding, then chose PayPal: no reminder about Stripe.
    eve = CoachFactory(user__email="eve@example.com")
    PayoutAccount.objects.create(
        coach=eve, stripe_account_id="acct_e", onboarding_started_at=NOW, method="paypal",
        manual_details="eve@paypal.example",
    )  # fmt: skip

    assert services.onboarding_reminders_due(now=NOW + timedelta(hours=23)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.onboarding_reminders_due(now=NOW + timedelta(hours=25)) == 1
    assert services.onboarding_reminders_due(now=NOW + timedelta(hours=49)) == 0
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]
    assert "did not finish" in mailoutbox[0].body


# --- Pages ---------------------------------------------------------------------------------


def test_the_statement_lists_every_entry_with_its_running_balance_in_few_queries(
    client, alice, bob, leadership, sam, django_assert_max_num_queries
):
    with freeze_time("2026-11-23 06:00:00"):
        credits = earn(alice, bob, leadership)
        by_paypal(bob)
        services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
        refunds.credit_refund(credit=credits[0], to_card=False, by=sam, now=NOW, why="goodwill")
        client.force_login(bob.user)
        with django_assert_max_num_queries(12):
            page = client.get(reverse("payouts:statement"), {"month": "2026-11"})
        earn(alice, bob, leadership)  # five more entries: the same queries
        with django_assert_max_num_queries(12):
            page = client.get(reverse("payouts:statement"), {"month": "2026-11"})

    text = page.content.decode()
    lines = page.context["lines"]
    assert len(lines) == 12
    assert [line.balance for line, _ in lines][-1] == total(bob)
    assert f"#{Payout.objects.get().pk} to PayPal (by hand)" in text
    assert "Refund: " in text and "chart-month" in text


@pytest.mark.parametrize("month", ["2026-13", "0000-01", "9999-01", "2026-1", "x" * 5000, "20261"])
def test_an_absurd_month_is_a_400_with_a_reason(client, bob, month):
    client.force_login(bob.user)
    for name in ("payouts:statement", "payouts:statement_csv"):
        answer = client.get(reverse(name), {"month": month})
        assert answer.status_code == 400
        assert "YYYY-MM" in answer.content.decode()


def test_the_csv_has_the_month_s_entries_with_the_running_balance(
    client, alice, bob, leadership, sam
):
    credits = earn(alice, bob, leadership, now=NOW)
    bob.user.display_name = "=HYPERLINK(evil)"
    bob.user.save()
    alice.display_name = "=cmd|calc"
    alice.save()
    by_paypal(bob)
    services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    refunds.credit_refund(credit=credits[0], to_card=False, by=sam, now=NOW, why="goodwill")
    earn(alice, bob, leadership, now=NOW + timedelta(days=40))  # another month: not in it
    client.force_login(bob.user)

    answer = client.get(reverse("payouts:statement_csv"), {"month": "2026-11"})

    assert answer["Content-Disposition"] == 'attachment; filename="earnings-2026-11.csv"'
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0] == [
        "date",
        "kind",
        "description",
        "gross",
        "fee",
        "amount",
        "balance",
        "currency",
    ]
    assert rows[1][1:] == ["opening balance", "", "", "", "", "0.00", "USD"]
    assert [row[1] for row in rows[2:]] == ["Earned"] * 5 + ["Payout", "Reversed by a refund"]
    assert rows[2][3:] == ["100.00", "15.00", "85.00", "85.00", "USD"]
    assert rows[-1][5:7] == ["-85.00", "140.00"]  # 425 - 200 - 85
    assert all(not row[2].startswith("=") for row in rows)


def test_clients_find_no_payout_pages(client, alice):
    client.force_login(alice)
    for name in ("payouts:statement", "payouts:payouts", "payouts:statement_csv"):
        assert client.get(reverse(name)).status_code == 404
    assert client.post(reverse("payouts:request"), {"amount": "50"}).status_code == 404


def test_the_admin_report_sums_the_month(client, alice, bob, leadership, sam):
    credits = earn(alice, bob, leadership)
    by_paypal(bob)
    paid = services.payout_request(coach=bob, amount=30_000, by=bob.user, now=NOW)
    services.payout_mark_paid(payout=paid, reference="PP-1", by=sam, now=NOW)
    # Requested and not paid yet: it has not reached the coach, so it is no payout yet.
    services.payout_request(coach=bob, amount=10_000, by=bob.user, now=NOW)
    refunds.credit_refund(credit=credits[0], to_card=False, by=sam, now=NOW, why="goodwill")
    client.force_login(sam)

    page = client.get(reverse("admin:payouts_report"), {"month": "2026-11"})

    report = page.context["report"]
    assert (report.gross_sales, report.platform_fees, report.refunds, report.payouts) == (
        50_000, 6000, 10_000, 30_000,
    )  # fmt: skip
    assert (report.owed_to_coaches, report.owed_back_by_coaches) == (0, 6000)
    bad = client.get(reverse("admin:payouts_report"), {"month": "99999-99"})
    assert bad.status_code == 200 and "YYYY-MM" in bad.content.decode()


# --- Attempts, keys and stuck payouts (issue 20 review) ------------------------------------


def stripe_api(settings) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_suite", base_addresses={"api": settings.STRIPE_API_BASE})


def sent_then_reversed(client, alice, bob, leadership, settings, capture):
    """Bob is paid $200 by transfer tr_1 (first try), which is then reversed: the payout
    failed and its money is back. Returns the payout and tr_1 as it was when made (the
    body of its transfer.created) and once reversed."""
    earn(alice, bob, leadership)
    onboard(client, bob)
    with capture(execute=True):
        payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    payout.refresh_from_db()
    made = stripe_api(settings).v1.transfers.retrieve(payout.stripe_transfer_id).to_dict()
    standin(settings, f"/_standin/transfers/{payout.stripe_transfer_id}/reverse")
    reversed_ = stripe_api(settings).v1.transfers.retrieve(payout.stripe_transfer_id).to_dict()
    stripe_event_process(event_id="evt_rev_1", event_type="transfer.reversed", obj=reversed_,
                         now=NOW)  # fmt: skip
    payout.refresh_from_db()
    assert payout.status == "failed" and total(bob) == 5 * SHARE
    return payout, made, reversed_


def lose_the_answer(settings, payout, now=NOW):
    """The task hands the payout to Stripe and hears nothing back (Stripe unreachable)."""
    base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    try:
        services.payout_send(payout_id=payout.pk, now=now)
    finally:
        settings.STRIPE_API_BASE = base
    payout.refresh_from_db()
    assert payout.status == "sending"


def test_a_late_reversal_of_the_first_try_does_not_fail_the_retry(
    client, alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks,
    caplog,
):  # fmt: skip
    payout, _made, reversed_ = sent_then_reversed(
        client, alice, bob, leadership, stripe_settings, django_capture_on_commit_callbacks
    )
    first = payout.stripe_transfer_id
    services.payout_retry(payout=payout, by=sam, now=NOW)  # the task is not run yet
    lose_the_answer(stripe_settings, payout)  # try 2 is sending

    # Stripe redelivers tr_1's reversal (a new delivery id): it is about try 1 only.
    stripe_event_process(event_id="evt_rev_1_again", event_type="transfer.reversed",
                         obj=reversed_, now=NOW)  # fmt: skip
    payout.refresh_from_db()
    assert (payout.status, payout.attempt) == ("sending", 2)
    assert total(bob) == 5 * SHARE - 20_000  # try 2's debit stands
    assert "earlier attempt" in caplog.text

    services.payout_send(payout_id=payout.pk, now=NOW + timedelta(minutes=6))
    payout.refresh_from_db()
    assert payout.status == "sent" and payout.stripe_transfer_id not in ("", first)
    assert total(bob) == 5 * SHARE - 20_000
    made = stripe_api(stripe_settings).v1.transfers.list({"transfer_group": payout.transfer_group})
    assert [t.id for t in made.data] == [payout.stripe_transfer_id]


def test_a_late_transfer_created_of_the_first_try_does_not_settle_the_retry(
    client, alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks,
):  # fmt: skip
    payout, made, _reversed = sent_then_reversed(
        client, alice, bob, leadership, stripe_settings, django_capture_on_commit_callbacks
    )
    services.payout_retry(payout=payout, by=sam, now=NOW)
    assert payout.events.get(action="retry").stripe_transfer_id == made["id"]

    # tr_1's transfer.created, redelivered days later, while try 2 waits for its task.
    stripe_event_process(event_id="evt_tr_1_late", event_type="transfer.created", obj=made,
                         now=NOW)  # fmt: skip
    payout.refresh_from_db()
    assert (payout.status, payout.stripe_transfer_id) == ("requested", "")

    # Even a copy without the earlier-attempt record (only its metadata) names try 1.
    PayoutEvent.objects.filter(payout=payout).update(stripe_transfer_id="")
    stripe_event_process(event_id="evt_tr_1_later", event_type="transfer.created", obj=made,
                         now=NOW)  # fmt: skip
    payout.refresh_from_db()
    assert (payout.status, payout.stripe_transfer_id) == ("requested", "")

    services.payout_send(payout_id=payout.pk, now=NOW)
    payout.refresh_from_db()
    assert payout.status == "sent" and payout.stripe_transfer_id != made["id"]
    accounts = transfers_to(stripe_settings, payout.destination)
    assert sorted(t.amount_reversed for t in accounts) == [0, 20_000]  # tr_2 made, tr_1 back


def test_an_idempotency_error_fails_the_payout_once_and_the_follow_up_stops(
    client, alice, bob, leadership, stripe_settings, mailoutbox,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    earn(alice, bob, leadership)
    account = onboard(client, bob)
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    # Something else used this attempt's key with other parameters.
    stripe_api(stripe_settings).v1.transfers.create(
        {"amount": 1000, "currency": "usd", "destination": account.stripe_account_id},
        {"idempotency_key": payout.transfer_key},
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.payout_send(payout_id=payout.pk, now=NOW)
    payout.refresh_from_db()
    assert payout.status == "failed" and "idempotency_error" in payout.failure
    assert total(bob) == 5 * SHARE
    assert services.payouts_follow_up(now=NOW + timedelta(minutes=10)) == 0
    services.payout_send(payout_id=payout.pk, now=NOW + timedelta(minutes=20))
    assert EarningEntry.objects.filter(payout=payout, kind="returned").count() == 1
    assert "did not go through" in mailoutbox[-1].subject


def test_the_key_has_a_token_of_the_row_so_two_sites_on_one_stripe_account_never_collide(
    client, alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks
):
    earn(alice, bob, leadership)
    account = onboard(client, bob)
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    # Another site sharing the test account sent its payout with the same number, as a
    # key made of the number alone would be, with the same parameters even.
    stripe_api(stripe_settings).v1.transfers.create(
        {"amount": 20_000, "currency": "usd", "destination": account.stripe_account_id,
         "metadata": {"payout": str(payout.pk), "attempt": "1"}},
        {"idempotency_key": f"payout-{payout.pk}-1"},
    )  # fmt: skip
    key = payout.transfer_key
    assert key.startswith(f"payout-{payout.pk}-1-") and len(key) > len(f"payout-{payout.pk}-1-")

    lose_the_answer(stripe_settings, payout)
    payout.refresh_from_db()
    assert payout.transfer_key == key  # a resend of the same attempt: the same key
    services.payout_send(payout_id=payout.pk, now=NOW + timedelta(minutes=6))
    payout.refresh_from_db()
    assert payout.status == "sent"
    assert len(transfers_to(stripe_settings, account.stripe_account_id)) == 2  # theirs, ours

    with transaction.atomic():
        locked = Payout.objects.select_for_update().get(pk=payout.pk)
        services._fail(locked, now=NOW, why="test")
    services.payout_retry(payout=payout, by=sam, now=NOW)
    payout.refresh_from_db()
    assert payout.transfer_key.startswith(f"payout-{payout.pk}-2-")
    assert payout.transfer_token not in key


def test_an_admin_resolves_a_payout_stuck_sending_from_what_stripe_has(
    client, alice, bob, leadership, sam, stripe_settings, django_capture_on_commit_callbacks
):
    earn(alice, bob, leadership)
    onboard(client, bob)
    lost = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    never = services.payout_request(coach=bob, amount=10_000, by=bob.user, now=NOW)
    lose_the_answer(stripe_settings, lost)
    lose_the_answer(stripe_settings, never)
    # The first one's transfer was made at Stripe; its answer never came back.
    made = stripe_connect.transfer_create(
        amount=20_000, currency="USD", destination=lost.destination, payout_id=lost.pk,
        attempt=1, transfer_group=lost.transfer_group, idempotency_key=lost.transfer_key,
    )  # fmt: skip

    with pytest.raises(services.PayoutError, match="moments ago"):
        services.payout_resolve(payout=lost, by=sam, now=NOW)
    later = NOW + timedelta(minutes=10)
    services.payout_resolve(payout=lost, by=sam, now=later)
    services.payout_resolve(payout=never, by=sam, now=later)
    with pytest.raises(services.PayoutError, match="Only Stripe payouts sending"):
        services.payout_resolve(payout=never, by=sam, now=later)

    lost.refresh_from_db()
    never.refresh_from_db()
    assert (lost.status, lost.stripe_transfer_id) == ("sent", made.id)
    assert never.status == "failed" and "no transfer" in never.failure
    assert total(bob) == 5 * SHARE - 20_000  # the one never made is back, once
    assert EarningEntry.objects.filter(payout=never, kind="returned").count() == 1
    assert services.payouts_follow_up(now=later + timedelta(minutes=10)) == 0


def test_a_payout_sending_for_a_day_is_looked_up_before_it_is_sent_again(
    client, alice, bob, leadership, stripe_settings
):
    """Stripe forgets a key after 24 hours: resent after that, the same key would make a
    second transfer. The attempt is looked up first."""
    earn(alice, bob, leadership)
    account = onboard(client, bob)
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    lose_the_answer(stripe_settings, payout)
    # Made at Stripe under the key Stripe has since forgotten (here: another key).
    made = stripe_connect.transfer_create(
        amount=20_000, currency="USD", destination=payout.destination, payout_id=payout.pk,
        attempt=1, transfer_group=payout.transfer_group, idempotency_key=f"forgotten-{payout.pk}",
    )  # fmt: skip

    services.payouts_follow_up(now=NOW + timedelta(hours=25))

    payout.refresh_from_db()
    assert (payout.status, payout.stripe_transfer_id) == ("sent", made.id)
    assert len(transfers_to(stripe_settings, account.stripe_account_id)) == 1


def test_an_answer_that_fits_no_attempt_holds_the_payout_and_the_follow_up_stops(
    alice, bob, leadership, sam, stripe_settings, client
):
    earn(alice, bob, leadership)
    onboard(client, bob)
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    lose_the_answer(stripe_settings, payout)
    with transaction.atomic():
        locked = Payout.objects.select_for_update().get(pk=payout.pk)
        services._hold(locked, now=NOW, why="Stripe answered with transfer tr_x, not ours")

    assert services.payouts_follow_up(now=NOW + timedelta(minutes=10)) == 0
    payout.refresh_from_db()
    assert payout.status == "held"
    assert selectors.balance_of(coach=bob).in_flight == 20_000
    services.payout_resolve(payout=payout, by=sam, now=NOW + timedelta(minutes=10))
    payout.refresh_from_db()
    assert payout.status == "failed" and total(bob) == 5 * SHARE


def test_a_partial_reversal_puts_its_amount_back_once_and_tells_the_coach(
    client, alice, bob, leadership, stripe_settings, mailoutbox,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    earn(alice, bob, leadership)
    onboard(client, bob)
    with django_capture_on_commit_callbacks(execute=True):
        payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    payout.refresh_from_db()
    api = stripe_api(stripe_settings)
    api.v1.transfers.reversals.create(payout.stripe_transfer_id, {"amount": 5000})
    partly = api.v1.transfers.retrieve(payout.stripe_transfer_id).to_dict()

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3):
            stripe_event_process(event_id=f"evt_part_{n}", event_type="transfer.reversed",
                                 obj=partly, now=NOW)  # fmt: skip
    payout.refresh_from_db()
    assert payout.status == "sent"
    assert total(bob) == 5 * SHARE - 15_000
    assert "$50.00 of your payout was taken back" in mailoutbox[-1].subject

    # The rest is reversed too: the payout failed, and only what was still out comes back.
    standin(stripe_settings, f"/_standin/transfers/{payout.stripe_transfer_id}/reverse")
    whole = api.v1.transfers.retrieve(payout.stripe_transfer_id).to_dict()
    stripe_event_process(event_id="evt_whole", event_type="transfer.reversed", obj=whole, now=NOW)
    payout.refresh_from_db()
    assert payout.status == "failed"
    assert total(bob) == 5 * SHARE
    assert sorted(
        EarningEntry.objects.filter(payout=payout, kind="returned").values_list("amount", flat=True)
    ) == [5000, 15_000]


def test_admin_actions_need_the_change_permission(client, alice, bob, leadership):
    from django.contrib.auth.models import Permission

    earn(alice, bob, leadership)
    by_paypal(bob)
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    viewer = UserFactory(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_payout"))
    client.force_login(viewer)
    url = reverse("admin:payouts_payout_changelist")

    page = client.get(url)
    assert page.status_code == 200
    for action in ("mark_paid_by_hand", "retry_failed", "cancel_requested", "resolve_at_stripe"):
        assert f'value="{action}"' not in page.content.decode()
    client.post(url, {"action": "cancel_requested", ACTION_CHECKBOX_NAME: [payout.pk]})
    payout.refresh_from_db()
    assert payout.status == "requested"

    viewer.user_permissions.add(Permission.objects.get(codename="change_payout"))
    client.post(url, {"action": "cancel_requested", ACTION_CHECKBOX_NAME: [payout.pk]})
    payout.refresh_from_db()
    assert payout.status == "cancelled"


@pytest.mark.postgres("real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_transfer_task_run_twice_at_once_makes_one_transfer(
    client, alice, bob, leadership, stripe_settings
):
    with transaction.atomic():
        earn(alice, bob, leadership)
    account = onboard(client, bob)
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            services.send_payout(payout.pk)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    payout.refresh_from_db()
    assert payout.status == "sent"
    assert [t.id for t in transfers_to(stripe_settings, account.stripe_account_id)] == [
        payout.stripe_transfer_id
    ]
    assert total(bob) == 5 * SHARE - 20_000


def test_a_resend_after_a_lost_answer_replays_the_key_and_makes_one_transfer(
    client, alice, bob, leadership, stripe_settings
):
    earn(alice, bob, leadership)
    account = onboard(client, bob)
    payout = services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    lose_the_answer(stripe_settings, payout)
    # The call did reach Stripe after all, and made the transfer; its answer was lost.
    made = stripe_connect.transfer_create(
        amount=20_000, currency="USD", destination=payout.destination, payout_id=payout.pk,
        attempt=1, transfer_group=payout.transfer_group, idempotency_key=payout.transfer_key,
    )  # fmt: skip

    services.payouts_follow_up(now=NOW + timedelta(minutes=6))

    payout.refresh_from_db()
    assert (payout.status, payout.stripe_transfer_id) == ("sent", made.id)
    assert [t.id for t in transfers_to(stripe_settings, account.stripe_account_id)] == [made.id]


@pytest.mark.postgres("the admin acts from another connection while the task waits on Stripe")
@pytest.mark.django_db(transaction=True)
def test_a_transfer_made_for_a_payout_settled_meanwhile_is_logged_as_an_error(
    client, alice, bob, leadership, sam, stripe_settings, caplog
):
    """The task's call to Stripe is slow; meanwhile an admin resolves the payout (Stripe has
    no transfer yet, so it failed and its money is back). When the transfer then comes back,
    it is money nobody accounts for: logged as an error, and the failed payout is not
    changed. A proxy in front of the stand-in lets the admin act while the call is held."""
    with transaction.atomic():
        earn(alice, bob, leadership)
    onboard(client, bob)
    resolved = []
    upstream = stripe_settings.STRIPE_API_BASE

    class Proxy(http.server.BaseHTTPRequestHandler):
        def _forward(self, body):
            if self.command == "POST" and self.path == "/v1/transfers":
                try:  # the admin, while the transfer is on its way
                    services.payout_resolve(
                        payout=Payout.objects.get(), by=sam, now=timezone.now() + timedelta(hours=1)
                    )
                    resolved.append("resolved")
                except Exception as error:
                    resolved.append(repr(error))
                finally:
                    connection.close()
            request = urllib.request.Request(
                f"{upstream}{self.path}", data=body, method=self.command,
                headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
            )  # fmt: skip
            try:
                answer = urllib.request.urlopen(request, timeout=10)
                status, headers, data = answer.status, answer.headers, answer.read()
            except urllib.error.HTTPError as error:
                status, headers, data = error.code, error.headers, error.read()
            self.send_response(status)
            for name in ("Content-Type", "Request-Id", "Idempotent-Replayed"):
                if headers.get(name):
                    self.send_header(name, headers[name])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._forward(None)

        def do_POST(self):
            self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stripe_settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_port}"
    try:  # asked for and committed: the task sends it (Celery runs it eagerly here)
        services.payout_request(coach=bob, amount=20_000, by=bob.user, now=NOW)
    finally:
        server.shutdown()
        stripe_settings.STRIPE_API_BASE = upstream

    payout = Payout.objects.get()
    assert resolved == ["resolved"]
    assert payout.status == "failed" and payout.stripe_transfer_id == ""
    assert total(bob) == 5 * SHARE
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("check it in Stripe's dashboard" in message for message in errors)
