"""Package validity (issue 22): credits expire HSE_PACKAGE_VALIDITY_MONTHS after purchase,
clients are reminded 14 and 3 days before, may ask the coach for more time or end the
package; unused credits at expiry or at the end go back to the wallet at their price, once."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum
from django.urls import reverse
from freezegun import freeze_time

from hse.emails import build_email
from hse.money import format_money
from ledger import services as ledger
from ledger.models import Credit, CreditEvent, WalletEntry
from ledger.sweeps import credits_expire_due, expiry_reminders_due
from payments import packages
from payments.models import PackageExtension
from payments.services import PaymentError, order_start

pytestmark = pytest.mark.django_db
BOUGHT = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)  # six months later, same wall time


@pytest.fixture
def package(alice, bob, leadership):
    """Alice's 5 × 60-minute package with Bob, paid from her wallet."""
    ledger.wallet_post(user=alice, amount=100_000, reason="top_up", key="fund", now=BOUGHT)
    return order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=5,
        method="wallet", now=BOUGHT,
    )  # fmt: skip


def _returned(user) -> int:
    entries = WalletEntry.objects.filter(user=user, reason=WalletEntry.Reason.UNUSED)
    return entries.aggregate(total=Sum("amount"))["total"] or 0


def test_credits_carry_their_expiry_from_the_purchase(package):
    assert set(package.credits.values_list("expires_at", flat=True)) == {EXPIRES}
    # The last day of a shorter month, not an overflow into the next one.
    assert ledger.valid_until(datetime(2026, 8, 31, 9, tzinfo=UTC)) == datetime(
        2027, 2, 28, 9, tzinfo=UTC
    )


def test_unused_credits_expire_at_their_expiry_and_go_back_to_the_wallet_once(
    alice, package, mailoutbox, django_capture_on_commit_callbacks
):
    credits = list(package.credits.order_by("pk"))
    ledger.credit_schedule(credit=credits[0], by=alice, now=BOUGHT, why="booked")
    ledger.credit_hold(credit=credits[1], by=alice, now=BOUGHT, why="a request")
    price = credits[0].price_paid
    balance = ledger.wallet_balance(user=alice)

    assert credits_expire_due(now=EXPIRES - timedelta(seconds=1)) == 0
    with freeze_time(EXPIRES), django_capture_on_commit_callbacks(execute=True):
        assert credits_expire_due(now=EXPIRES) == 3
        assert credits_expire_due(now=EXPIRES) == 0  # the sweep again: nothing moves twice
    statuses = dict(package.credits.values_list("pk", "status"))
    assert statuses[credits[0].pk] == "scheduled"  # booked in time: it stays
    assert statuses[credits[1].pk] == "held"  # under a request: it waits for its answer
    assert sorted(statuses.values()).count("expired") == 3
    assert ledger.wallet_balance(user=alice) == balance + 3 * price
    assert _returned(alice) == 3 * price
    entry = WalletEntry.objects.get(user=alice, reason="unused")
    assert entry.order_id == package.pk
    events = CreditEvent.objects.filter(action="expire", credit__order=package)
    assert events.count() == 3 and {e.to_status for e in events} == {"expired"}
    [email] = [m for m in mailoutbox if "refunded" in m.subject]
    assert email.to == ["alice@example.com"]
    assert "3 sessions of your package with Bob Coach were not scheduled" in email.body
    assert format_money(3 * price, "USD") in email.body

    # The held credit comes back when its request closes, with the grace a given-back
    # credit gets to be scheduled again; unscheduled by then, it expires too, once.
    ledger.credit_release(credit=credits[1], by=None, now=EXPIRES, why="rejected")
    assert credits_expire_due(now=EXPIRES + timedelta(minutes=1)) == 0
    later = EXPIRES + timedelta(days=14)
    assert credits_expire_due(now=later) == 1
    assert _returned(alice) == 4 * price
    assert WalletEntry.objects.filter(user=alice, reason="unused").count() == 2


def test_a_free_credit_expires_without_moving_money(alice, package):
    credit = package.credits.first()
    Credit.objects.filter(pk=credit.pk).update(price_paid=0)
    Credit.objects.exclude(pk=credit.pk).update(expires_at=EXPIRES + timedelta(days=30))
    assert credits_expire_due(now=EXPIRES) == 1
    assert Credit.objects.get(pk=credit.pk).status == "expired"
    assert _returned(alice) == 0


def test_reminders_go_14_and_3_days_before_once_each_and_again_after_an_extension(
    alice, bob, package, mailoutbox, django_capture_on_commit_callbacks
):
    early = EXPIRES - timedelta(days=15)
    assert expiry_reminders_due(now=early) == 0
    fortnight = EXPIRES - timedelta(days=14)
    with freeze_time(fortnight), django_capture_on_commit_callbacks(execute=True):
        assert expiry_reminders_due(now=fortnight) == 5
        assert expiry_reminders_due(now=fortnight + timedelta(hours=1)) == 0
    [email] = mailoutbox
    assert email.subject == "[HSE] 5 session(s) with Bob Coach expire soon"
    # Alice's zone (Berlin): 12:00 UTC is 14:00 CEST.
    assert "may be scheduled until Friday 10 July, 14:00 CEST (14 days from now)" in email.body
    assert format_money(5 * package.unit_price, "USD") in email.body

    three = EXPIRES - timedelta(days=3)
    with freeze_time(three), django_capture_on_commit_callbacks(execute=True):
        assert expiry_reminders_due(now=three) == 5
        assert expiry_reminders_due(now=three) == 0
    assert len(mailoutbox) == 2 and "(3 days from now)" in mailoutbox[1].body

    # Extended by three months: the reminders are due again before the new expiry.
    extension = packages.extension_ask(order=package, by=alice, now=three)
    packages.extension_answer(extension=extension, accept=True, by=bob.user, now=three)
    new = EXPIRES + timedelta(days=92)  # 10 October, same wall time in UTC
    assert set(package.credits.values_list("expires_at", flat=True)) == {new}
    assert expiry_reminders_due(now=three) == 0
    assert expiry_reminders_due(now=new - timedelta(days=14)) == 5


def test_after_downtime_only_the_nearer_reminder_goes(package):
    two_days = EXPIRES - timedelta(days=2)
    assert expiry_reminders_due(now=two_days) == 5
    assert set(package.credits.values_list("expiry_reminded", flat=True)) == {3}
    assert expiry_reminders_due(now=two_days) == 0


def test_an_extension_is_asked_once_answered_by_the_coach_and_moves_the_expiry(
    alice, bob, dora, package, mailoutbox, django_capture_on_commit_callbacks
):
    now = EXPIRES - timedelta(days=10)
    with freeze_time(now), django_capture_on_commit_callbacks(execute=True):
        extension = packages.extension_ask(order=package, by=alice, now=now)
    assert mailoutbox[-1].to == ["bob@example.com"]
    assert "asks for 3 more months" in mailoutbox[-1].body
    with pytest.raises(PaymentError, match="asked already"):
        packages.extension_ask(order=package, by=alice, now=now)
    with pytest.raises(PaymentError, match="Only the package's coach"):
        packages.extension_answer(extension=extension, accept=True, by=dora.user, now=now)
    with freeze_time(now), django_capture_on_commit_callbacks(execute=True):
        packages.extension_answer(extension=extension, accept=False, by=bob.user, now=now)
    assert "did not extend" in mailoutbox[-1].body
    assert set(package.credits.values_list("expires_at", flat=True)) == {EXPIRES}
    with pytest.raises(PaymentError, match="declined"):
        packages.extension_answer(extension=extension, accept=True, by=bob.user, now=now)
    # Asked again after a decline, and accepted this time.
    again = packages.extension_ask(order=package, by=alice, now=now)
    packages.extension_answer(extension=again, accept=True, by=bob.user, now=now)
    again.refresh_from_db()
    assert again.status == "accepted" and again.new_expires_at == EXPIRES + timedelta(days=92)


def test_ending_a_package_returns_the_unused_credits_once(
    alice, package, mailoutbox, django_capture_on_commit_callbacks
):
    credits = list(package.credits.order_by("pk"))
    ledger.credit_schedule(credit=credits[0], by=alice, now=BOUGHT, why="booked")
    price = credits[0].price_paid
    now = BOUGHT + timedelta(days=30)
    with freeze_time(now), django_capture_on_commit_callbacks(execute=True):
        assert packages.package_end(order=package, by=alice, now=now) == (4, 4 * price)
    assert _returned(alice) == 4 * price
    assert package.credits.filter(status="ended").count() == 4
    assert package.credits.get(pk=credits[0].pk).status == "scheduled"
    with pytest.raises(PaymentError, match="nothing was ended"):
        packages.package_end(order=package, by=alice, now=now)
    assert _returned(alice) == 4 * price
    # An ended credit never expires later.
    assert credits_expire_due(now=EXPIRES) == 0
    assert f"{format_money(4 * price, 'USD')} back in your wallet" in mailoutbox[-1].subject


def test_a_credit_given_back_near_its_expiry_gets_time_to_be_scheduled_again(alice, package):
    credit = package.credits.first()
    ledger.credit_schedule(credit=credit, by=alice, now=BOUGHT, why="booked")
    late = EXPIRES - timedelta(days=1)
    ledger.credit_give_back(credit=credit, by=None, now=late, why="the coach cancelled")
    credit.refresh_from_db()
    assert credit.expires_at == late + timedelta(days=14)
    assert credits_expire_due(now=EXPIRES) == 4
    assert Credit.objects.get(pk=credit.pk).status == "available"


# --- Pages --------------------------------------------------------------------------------


def test_the_order_page_shows_the_validity_and_the_client_can_ask_and_end(
    client, alice, bob, package
):
    client.force_login(alice)
    page = reverse("payments:order_detail", args=[package.pk])
    with freeze_time(BOUGHT + timedelta(days=1)):
        html = client.get(page).content.decode()
        assert "Schedule them by <b>Friday 10 July, 14:00 CEST</b>" in html
        assert "Ask for 3 more months" in html
        response = client.post(reverse("payments:package_extend", args=[package.pk]), follow=True)
        assert "Asked Bob Coach" in response.content.decode()
        assert "waiting for the answer" in response.content.decode()
        confirm = client.get(reverse("payments:package_end", args=[package.pk])).content.decode()
        total = format_money(package.total_price, "USD")
        assert f"Yes, end it and refund {total}" in confirm
        done = client.post(reverse("payments:package_end", args=[package.pk]), follow=True)
        assert f"Package ended: 5 unused session(s), {total} back in your wallet." in (
            done.content.decode()
        )
        assert "Nothing is left to schedule" in done.content.decode()
    # Nothing left to extend: the open question was closed with the package.
    assert PackageExtension.objects.get().status == "declined"


def test_the_coach_answers_on_the_extension_page_and_nobody_else_sees_it(
    client, alice, bob, dora, package
):
    extension = packages.extension_ask(order=package, by=alice, now=BOUGHT)
    page = reverse("payments:extension_detail", args=[extension.pk])
    answer = reverse("payments:extension_answer", args=[extension.pk])
    for other in (alice, dora.user):
        client.force_login(other)
        assert client.get(page).status_code == 404
        assert client.post(answer, {"decision": "accept"}).status_code == 404
    client.force_login(bob.user)
    assert "Alice Client asks for more time" in client.get(page).content.decode()
    for junk in ("", "yes", "accept\x00", "x" * 10_000):
        response = client.post(answer, {"decision": junk}, follow=True)
        assert response.status_code == 200 and "Choose Accept or Decline." in (
            response.content.decode()
        )
    assert PackageExtension.objects.get().status == "pending"
    response = client.post(answer, {"decision": "accept"}, follow=True)
    assert "Extended: we told the client." in response.content.decode()
    assert PackageExtension.objects.get().status == "accepted"


def test_others_cannot_extend_or_end_a_package(client, carol, bob, package):
    for person in (carol, bob.user):
        client.force_login(person)
        assert client.post(reverse("payments:package_extend", args=[package.pk])).status_code == 404
        assert client.get(reverse("payments:package_end", args=[package.pk])).status_code == 404
        assert client.post(reverse("payments:package_end", args=[package.pk])).status_code == 404
    assert not PackageExtension.objects.exists()
    assert package.credits.filter(status="available").count() == 5


def test_an_unpaid_order_has_no_package_to_manage(client, alice, bob, leadership):
    order = order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=5,
        method="stripe", now=BOUGHT,
    )  # fmt: skip
    with pytest.raises(PaymentError, match="not paid"):
        packages.extension_ask(order=order, by=alice, now=BOUGHT)
    client.force_login(alice)
    response = client.post(reverse("payments:package_end", args=[order.pk]), follow=True)
    assert "not paid" in response.content.decode()


def test_every_package_email_renders(alice, bob, package):
    extension = packages.extension_ask(order=package, by=alice, now=BOUGHT)
    base = {
        "order": package, "coach_name": "Bob Coach", "client_name": "Alice Client",
        "url": "/orders/1/", "count": 2, "amount": 12000, "currency": "USD", "days": 14,
        "months": 3, "first": package.credits.first(), "extension": extension,
    }  # fmt: skip
    for kind in (
        "reminder", "expired", "ended", "extension_asked", "extension_accepted",
        "extension_declined", "extension_unanswered",
    ):  # fmt: skip
        message = build_email(
            to=alice, subject="s", template="package_update", context={**base, "kind": kind}
        )
        assert message.body.count("\n") > 3
        html = message.alternatives[0][0]
        assert "{{" not in html and "Hello Alice Client" in html


def test_the_sessions_page_says_until_when_credits_may_be_scheduled(client, alice, package):
    client.force_login(alice)
    with freeze_time(BOUGHT + timedelta(days=1)):
        html = client.get(reverse("sessions:list")).content.decode()
    assert "valid until Fri 10 Jul" in html


def test_the_admin_reads_extensions_and_credit_expiries(client, alice, package, django_user_model):
    packages.extension_ask(order=package, by=alice, now=BOUGHT)
    admin = django_user_model.objects.create_superuser(
        email="root@example.com", password="x", display_name="Root"
    )
    client.force_login(admin)
    extensions = client.get(reverse("admin:payments_packageextension_changelist"))
    assert extensions.status_code == 200 and b"Waiting for the coach" in extensions.content
    credits = client.get(reverse("admin:ledger_credit_changelist"), {"status": "expired"})
    assert credits.status_code == 200


def test_an_unanswered_extension_lapses_after_its_days_and_the_expiry_goes_on(
    alice, bob, package, mailoutbox, django_capture_on_commit_callbacks
):
    asked = EXPIRES - timedelta(days=2)
    with freeze_time(asked):
        extension = packages.extension_ask(order=package, by=alice, now=asked)
    assert extension.answer_by == asked + timedelta(days=7)
    assert credits_expire_due(now=EXPIRES) == 0  # the expiry waits for the answer

    lapse = extension.answer_by
    assert packages.extensions_lapse_due(now=lapse - timedelta(seconds=1)) == 0
    with freeze_time(lapse), django_capture_on_commit_callbacks(execute=True):
        assert packages.extensions_lapse_due(now=lapse) == 1
        assert packages.extensions_lapse_due(now=lapse) == 0  # once
    extension.refresh_from_db()
    assert (extension.status, extension.decided_at) == ("declined", lapse)
    assert extension.events.order_by("pk").last().why == "not answered within 7 days"
    [email] = [m for m in mailoutbox if "did not answer" in m.subject]
    assert email.to == ["alice@example.com"]
    assert "did not answer your request for more time within 7 days" in email.body
    assert "It has expired" in email.body  # asked in its last week: expired by the lapse

    # Too late to answer, and too late to ask again: the package has expired.
    with pytest.raises(PaymentError, match="declined"):
        packages.extension_answer(extension=extension, accept=True, by=bob.user, now=lapse)
    with pytest.raises(PaymentError, match="expired"):
        packages.extension_ask(order=package, by=alice, now=lapse)
    # The expiry goes on: the unused sessions' price back in the wallet, once.
    assert credits_expire_due(now=lapse) == 5
    assert credits_expire_due(now=lapse) == 0
    assert _returned(alice) == 5 * package.unit_price


def test_the_coach_has_the_question_in_pending_actions_until_it_lapses(
    client, alice, bob, package, mailoutbox, django_capture_on_commit_callbacks
):
    from marketplace.selectors import header_counts

    asked = EXPIRES - timedelta(days=10)
    with freeze_time(asked):
        assert header_counts(user=bob.user, now=asked).pending == 0  # kept in the cache
        extension = packages.extension_ask(order=package, by=alice, now=asked)
        client.force_login(bob.user)
        page = client.get(reverse("marketplace:pending")).content.decode()
        assert header_counts(user=bob.user, now=asked).pending == 1
    assert "Alice Client asks for 3 more months" in page
    assert reverse("payments:extension_detail", args=[extension.pk]) in page
    assert "answer by" in page and "without an answer it lapses" in page

    lapse = extension.answer_by
    with freeze_time(lapse):
        assert header_counts(user=bob.user, now=lapse).pending == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert packages.extensions_lapse_due(now=lapse) == 1
        assert header_counts(user=bob.user, now=lapse).pending == 0
        page = client.get(reverse("marketplace:pending")).content.decode()
    assert "asks for 3 more months" not in page
    assert "Nothing is waiting for you." in page
    # Not expired yet: the client may still schedule, or end the package.
    assert "you can still schedule them until then" in mailoutbox[-1].body
