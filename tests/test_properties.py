"""Property tests (hypothesis): the ledger and the request machine keep their invariants
under any sequence of actions, and no form answers 500 to any input."""

import contextlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import services as ledger
from ledger.models import Credit, CreditEvent, EarningEntry, WalletEntry
from ledger.services import LedgerError, wallet_balance, wallet_post
from ledger.sweeps import credits_expire_due
from payments import packages
from payments.models import Order, StripeEvent, TopUp
from payments.refunds import credit_refund
from payments.services import PaymentError, order_start
from payments.sweeps import holds_expire_due
from payments.webhooks import stripe_event_process
from payouts import selectors as payout_selectors
from payouts import services as payouts
from payouts.models import Payout, PayoutAccount
from requests_app.models import RequestEvent, SeriesOccurrence, SessionRequest
from requests_app.services import (
    REQUEST,
    RequestError,
    request_accept,
    request_adjust,
    request_cancel,
    request_propose,
    request_reject,
    requests_expire_due,
    series_propose,
)
from sessions_app.lifecycle import BookingError
from sessions_app.models import Session
from tests.factories import CoachFactory, SkillFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
counter = itertools.count()
QUICK = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
EVERY_HOUR = [(day, 0, 1440) for day in range(7)]


class Ledger(RuleBasedStateMachine):
    """Top-ups by webhook (replayed, some with Stripe's amount not ours), wallet payments,
    credits used (earning their coach) and refunds, hold expiries, and the coach's payouts
    (asked for, paid by hand, cancelled; or by Stripe: made, wholly or partly reversed,
    retried, with Stripe's events about earlier attempts redelivered late), refunds coming
    before or after them."""

    def __init__(self):
        super().__init__()
        self.skill = SkillFactory()
        self.coach = CoachFactory(skills=[self.skill], windows=EVERY_HOUR)
        self.client = UserFactory()
        self.staff = UserFactory(is_staff=True)
        payouts.manual_method_set(coach=self.coach, method="wise", details="coach@wise.example")
        self.events: list[tuple[str, dict]] = []
        self.now = NOW

    @initialize(stripe=st.booleans())
    def some_money_to_start_with(self, stripe):
        """Enough for a few packages, so buying, using, ending and expiring are all reached
        (top-ups alone rarely add up to a package within a run's steps)."""
        wallet_post(
            user=self.client, amount=300_000, reason=WalletEntry.Reason.ADJUSTMENT,
            key=f"start-{next(counter)}", now=self.now,
        )  # fmt: skip
        self._some_earnings_to_start_with(stripe)

    def _some_earnings_to_start_with(self, stripe):
        """Three sessions held, so payouts (and Stripe's transfers, reversals and retries)
        are reached within a run's steps; the coach is paid by Stripe or by Wise."""
        order = order_start(
            client=self.client, coach=self.coach, skill=self.skill, duration_minutes=60,
            quantity=5, method="wallet", now=self.now,
        )  # fmt: skip
        for credit in list(order.credits.order_by("pk"))[:3]:
            ledger.credit_schedule(credit=credit, by=None, now=self.now, why="t")
            ledger.credit_use(credit=credit, session_id=None, by=None, now=self.now, why="t")
        self.choose_how_the_coach_is_paid(stripe)

    def _deliver(self, event_id, obj):
        stripe_event_process(
            event_id=event_id, event_type="checkout.session.completed", obj=obj, now=self.now
        )

    @rule(amount=st.integers(min_value=500, max_value=50_000), ours=st.booleans())
    def top_up(self, amount, ours):
        top_up = TopUp.objects.create(user=self.client, amount=amount, currency="USD")
        obj = {
            "client_reference_id": f"topup-{top_up.pk}",
            "payment_status": "paid",
            # Stripe's word: the top-up's own amount, or another that must credit nothing.
            "amount_total": amount if ours else amount * 50,
            "currency": "usd",
        }
        event_id = f"evt_{next(counter)}"
        self.events.append((event_id, obj))
        self._deliver(event_id, obj)

    @precondition(lambda self: self.events)
    @rule(data=st.data())
    def replay_an_event(self, data):
        event_id, obj = data.draw(st.sampled_from(self.events))
        self._deliver(event_id, obj)

    @rule(quantity=st.sampled_from([1, 5, 10]), minutes=st.sampled_from([30, 45, 60]))
    def buy(self, quantity, minutes):
        start = (self.now + timedelta(days=2)).replace(minute=0) if quantity == 1 else None
        with contextlib.suppress(PaymentError, BookingError, LedgerError):
            order_start(
                client=self.client, coach=self.coach, skill=self.skill, duration_minutes=minutes,
                quantity=quantity, method="wallet", now=self.now, starts_at=start,
            )  # fmt: skip

    @precondition(lambda self: Credit.objects.filter(client=self.client).exists())
    @rule(data=st.data())
    def use(self, data):
        """A credit's session takes place: scheduled, then used (which earns the coach)."""
        credit = data.draw(st.sampled_from(list(Credit.objects.filter(client=self.client))))
        with contextlib.suppress(LedgerError):
            if credit.status == Credit.Status.AVAILABLE:
                ledger.credit_schedule(credit=credit, by=None, now=self.now, why="t")
            ledger.credit_use(credit=credit, session_id=None, by=None, now=self.now, why="t")

    @precondition(lambda self: Credit.objects.filter(client=self.client).exists())
    @rule(data=st.data(), to_card=st.booleans())
    def refund(self, data, to_card):
        credit = data.draw(st.sampled_from(list(Credit.objects.filter(client=self.client))))
        with contextlib.suppress(PaymentError, LedgerError):
            credit_refund(credit=credit, to_card=to_card, by=None, now=self.now, why="t")

    @rule(minutes=st.integers(min_value=1, max_value=120))
    def time_passes(self, minutes):
        self.now += timedelta(minutes=minutes)
        holds_expire_due(now=self.now)

    @rule(days=st.integers(min_value=30, max_value=200), twice=st.booleans())
    def months_pass(self, days, twice):
        """Packages reach their expiry: the sweep (sometimes run twice) expires what is unused."""
        self.now += timedelta(days=days)
        credits_expire_due(now=self.now)
        if twice:
            credits_expire_due(now=self.now)

    @precondition(lambda self: Order.objects.filter(client=self.client, status="paid").exists())
    @rule(data=st.data(), twice=st.booleans())
    def end_a_package(self, data, twice):
        order = data.draw(
            st.sampled_from(list(Order.objects.filter(client=self.client, status="paid")))
        )
        for _ in range(2 if twice else 1):
            with contextlib.suppress(PaymentError):
                packages.package_end(order=order, by=self.client, now=self.now)

    @precondition(lambda self: Order.objects.filter(client=self.client, status="paid").exists())
    @rule(data=st.data(), accept=st.booleans())
    def extend_a_package(self, data, accept):
        order = data.draw(
            st.sampled_from(list(Order.objects.filter(client=self.client, status="paid")))
        )
        with contextlib.suppress(PaymentError):
            extension = packages.extension_ask(order=order, by=self.client, now=self.now)
            packages.extension_answer(
                extension=extension, accept=accept, by=self.coach.user, now=self.now
            )

    @precondition(lambda self: Credit.objects.filter(client=self.client).exists())
    @rule(data=st.data(), minutes=st.sampled_from([30, 45, 60]), twice=st.booleans())
    def change_a_length(self, data, minutes, twice):
        """A request changed a session's length: its credit is exchanged, the difference
        paid from or refunded to the wallet (or refused when the wallet is short)."""
        credit = data.draw(st.sampled_from(list(Credit.objects.filter(client=self.client))))
        for _ in range(2 if twice else 1):
            with contextlib.suppress(LedgerError):
                ledger.credit_exchange(
                    credit=credit, duration_minutes=minutes, by=None, now=self.now, why="t"
                )

    @rule(
        amount=st.one_of(
            st.sampled_from([1_000, 5_000]), st.integers(min_value=1, max_value=400_000)
        )
    )
    def ask_for_a_payout(self, amount):
        with contextlib.suppress(payouts.PayoutError):
            payouts.payout_request(coach=self.coach, amount=amount, by=None, now=self.now)

    @precondition(lambda self: Payout.objects.filter(coach=self.coach).exists())
    @rule(data=st.data(), paid=st.booleans())
    def settle_a_payout(self, data, paid):
        """An admin pays it by hand, or cancels it (each refused unless still requested)."""
        payout = data.draw(st.sampled_from(list(Payout.objects.filter(coach=self.coach))))
        with contextlib.suppress(payouts.PayoutError):
            if paid:
                payouts.payout_mark_paid(
                    payout=payout, reference="W-1", by=self.staff, now=self.now
                )
            else:
                payouts.payout_cancel(payout=payout, by=self.staff, now=self.now)

    @rule(stripe=st.booleans())
    def choose_how_the_coach_is_paid(self, stripe):
        """Later requests go by Stripe (an enabled Express account) or by Wise."""
        PayoutAccount.objects.filter(coach=self.coach).update(
            stripe_account_id="acct_prop", stripe_payouts_enabled=True,
            method="stripe" if stripe else "wise",
        )  # fmt: skip

    def _stripe_payouts(self):
        return Payout.objects.filter(coach=self.coach, method="stripe").order_by("pk")

    @precondition(lambda self: self._stripe_payouts().exists())
    @rule(
        data=st.data(),
        kind=st.sampled_from(["made", "reversed", "partly reversed"]),
        late=st.booleans(),
    )
    def stripe_reports_a_transfer(self, data, kind, late):
        """Stripe's event about one attempt's transfer: the current attempt, or (late) an
        earlier one, redelivered after a retry. Each attempt's transfer is tr_<pk>_<n>."""
        payout = data.draw(st.sampled_from(list(self._stripe_payouts())))
        attempt = data.draw(st.integers(1, payout.attempt)) if late else payout.attempt
        part = data.draw(st.integers(1, payout.amount))
        reversed_ = kind == "reversed" or (kind == "partly reversed" and part == payout.amount)
        taken = payout.amount if kind == "reversed" else part if kind != "made" else 0
        reversals = [{"id": f"trr_{payout.pk}_{attempt}_{part}", "amount": part}]
        obj = {
            "id": f"tr_{payout.pk}_{attempt}", "object": "transfer", "amount": payout.amount,
            "currency": payout.currency.lower(), "destination": payout.destination,
            "metadata": {"payout": str(payout.pk), "attempt": str(attempt)},
            "reversed": reversed_, "amount_reversed": taken,
            "reversals": {"object": "list", "data": reversals if taken else []},
        }  # fmt: skip
        event_type = "transfer.created" if kind == "made" else "transfer.reversed"
        stripe_event_process(
            event_id=f"evt_tr_{next(counter)}", event_type=event_type, obj=obj, now=self.now
        )

    @precondition(lambda self: self._stripe_payouts().filter(status="failed").exists())
    @rule(data=st.data())
    def retry_a_failed_payout(self, data):
        """An admin sends a failed Stripe payout again: a new attempt, debited again."""
        failed = self._stripe_payouts().filter(status="failed")
        payout = data.draw(st.sampled_from(list(failed)))
        with contextlib.suppress(payouts.PayoutError):
            payouts.payout_retry(payout=payout, by=self.staff, now=self.now)

    @invariant()
    def never_negative_and_the_balance_is_the_sum(self):
        entries = WalletEntry.objects.filter(user=self.client)
        total = entries.aggregate(total=Sum("amount"))["total"] or 0
        assert wallet_balance(user=self.client) == total >= 0
        assert not entries.filter(balance_after__lt=0).exists()

    @invariant()
    def each_external_event_counted_once(self):
        delivered = {event_id for event_id, _ in self.events}
        assert StripeEvent.objects.filter(event_id__in=delivered).count() == len(delivered)
        paid = TopUp.objects.filter(user=self.client, status="paid")
        credited = WalletEntry.objects.filter(user=self.client, reason="top_up")
        assert credited.count() == paid.count()
        # A top-up credits its own amount, never Stripe's.
        assert (credited.aggregate(total=Sum("amount"))["total"] or 0) == (
            paid.aggregate(total=Sum("amount"))["total"] or 0
        )
        refunded = Credit.objects.filter(client=self.client, status="refunded").count()
        assert WalletEntry.objects.filter(user=self.client, reason="refund").count() == refunded

    @invariant()
    def an_expired_or_ended_credit_returns_its_price_exactly_once(self):
        gone = Credit.objects.filter(client=self.client, status__in=["expired", "ended"])
        owed = gone.aggregate(total=Sum("price_paid"))["total"] or 0
        returned = WalletEntry.objects.filter(user=self.client, reason="unused")
        assert (returned.aggregate(total=Sum("amount"))["total"] or 0) == owed
        # Only an unused credit goes: never one with a session booked or held by a request,
        # and none that earned its coach.
        assert not EarningEntry.objects.filter(credit__in=gone).exists()
        events = CreditEvent.objects.filter(credit__in=gone, action__in=["expire", "end"])
        assert events.count() == gone.count()
        assert set(events.values_list("from_status", flat=True)) <= {"available"}

    @invariant()
    def an_exchange_moves_the_price_difference_exactly_once(self):
        exchanged = Credit.objects.filter(client=self.client, status="exchanged")
        entries = WalletEntry.objects.filter(user=self.client, reason="exchange")
        moved = 0
        for old in exchanged:
            issued = CreditEvent.objects.filter(
                action="issue", why__startswith=f"exchanged for credit #{old.pk}:"
            )
            assert issued.count() == 1  # one credit of the new length replaced it
            new = issued.get().credit
            assert new.duration_minutes != old.duration_minutes
            assert new.price_paid == ledger.exchange_price(
                credit=old, duration_minutes=new.duration_minutes
            )
            entry = entries.filter(idempotency_key=f"credit-{old.pk}-exchange")
            assert entry.count() == (1 if new.price_paid != old.price_paid else 0)
            assert sum(entry.values_list("amount", flat=True)) == old.price_paid - new.price_paid
            moved += old.price_paid - new.price_paid
            assert not EarningEntry.objects.filter(credit=old).exists()
        assert (entries.aggregate(total=Sum("amount"))["total"] or 0) == moved

    @invariant()
    def a_coach_earns_each_used_credit_once_and_nothing_for_a_refunded_one(self):
        for credit in Credit.objects.filter(client=self.client):
            entries = EarningEntry.objects.filter(credit=credit)
            kept = entries.aggregate(total=Sum("amount"))["total"] or 0
            if credit.status == Credit.Status.USED:
                assert list(entries.values_list("kind", flat=True)) == ["earned"]
                assert kept == credit.price_paid - ledger.platform_fee(credit.price_paid) > 0
            else:
                assert kept == 0
                assert entries.count() in (0, 2)  # nothing, or earned then reversed
        assert set(Credit.objects.values_list("status", flat=True)) <= set(Credit.Status.values)

    @invariant()
    def the_coach_balance_is_the_sum_and_payouts_never_took_more_than_was_earned(self):
        entries = EarningEntry.objects.filter(coach=self.coach)
        total = entries.aggregate(total=Sum("amount"))["total"] or 0
        balance = payout_selectors.balance_of(coach=self.coach)
        assert balance.total == total == ledger.earnings_balance(coach=self.coach)
        assert balance.available == max(0, total) >= 0
        # Only a refund after a payout can take the sum below zero.
        earned = entries.filter(kind="earned").aggregate(total=Sum("amount"))["total"] or 0
        paid = entries.filter(kind__in=["payout", "returned"]).aggregate(t=Sum("amount"))["t"]
        assert earned + (paid or 0) >= 0
        for payout in Payout.objects.filter(coach=self.coach):
            net = payout.entries.aggregate(total=Sum("amount"))["total"]
            # Each attempt took the amount off once; each that failed put it all back.
            assert payout.entries.filter(kind="payout").count() == payout.attempt
            # Partial reversals of the current attempt's transfer (an earlier attempt's
            # are inside its own net zero).
            partial = payout.entries.filter(
                kind="returned",
                idempotency_key__startswith=f"payout-{payout.pk}-{payout.attempt}-reversal-",
            ).aggregate(total=Sum("amount"))["total"]
            if payout.status in ("cancelled", "failed"):
                assert net == 0
            elif payout.status == "sent":
                # Only the current attempt's transfer settles it; partial reversals of it
                # put back what they took, never more than it.
                assert payout.stripe_transfer_id == f"tr_{payout.pk}_{payout.attempt}"
                assert net == -payout.amount + (partial or 0) <= 0
            else:
                assert net == -payout.amount and not partial


def test_the_ledger_keeps_its_invariants():
    run_state_machine_as_test(Ledger, settings=QUICK)


class StripePayouts(RuleBasedStateMachine):
    """The ledger machine's payout rules alone, so that the long chains of Stripe payouts
    (asked, made, reversed, retried, an earlier attempt's event redelivered late) are
    reached often, with its invariants on the coach's balance and each payout's entries."""

    def __init__(self):
        super().__init__()
        self.skill = SkillFactory()
        self.coach = CoachFactory(skills=[self.skill], windows=EVERY_HOUR)
        self.client = UserFactory()
        self.staff = UserFactory(is_staff=True)
        payouts.manual_method_set(coach=self.coach, method="wise", details="coach@wise.example")
        self.now = NOW

    some_money_to_start_with = Ledger.some_money_to_start_with
    _some_earnings_to_start_with = Ledger._some_earnings_to_start_with
    _stripe_payouts = Ledger._stripe_payouts
    choose_how_the_coach_is_paid = Ledger.choose_how_the_coach_is_paid
    ask_for_a_payout = Ledger.ask_for_a_payout
    settle_a_payout = Ledger.settle_a_payout
    stripe_reports_a_transfer = Ledger.stripe_reports_a_transfer
    retry_a_failed_payout = Ledger.retry_a_failed_payout
    balance = Ledger.the_coach_balance_is_the_sum_and_payouts_never_took_more_than_was_earned


def test_stripe_payouts_keep_the_balance_and_each_payout_s_entries_right():
    run_state_machine_as_test(StripePayouts, settings=QUICK)


class Requests(RuleBasedStateMachine):
    """Any sequence of proposals, answers, adjustments and sweeps, by either side."""

    def __init__(self):
        super().__init__()
        self.skill = SkillFactory()
        self.coach = CoachFactory(skills=[self.skill])
        self.client = UserFactory()
        wallet_post(
            user=self.client, amount=10**6, reason="top_up",
            key=f"rq{next(counter)}", now=NOW,
        )  # fmt: skip
        order_start(
            client=self.client, coach=self.coach, skill=self.skill, duration_minutes=60,
            quantity=5, method="wallet", now=NOW,
        )  # fmt: skip
        self.now = NOW

    def _open(self):
        return list(SessionRequest.objects.filter(coach=self.coach, status="pending"))

    @rule(days=st.integers(1, 10), hour=st.integers(0, 23), by_coach=st.booleans())
    def propose(self, days, hour, by_coach):
        start = (self.now + timedelta(days=days)).replace(hour=hour, minute=0)
        by = self.coach.user if by_coach else self.client
        with contextlib.suppress(RequestError):
            request_propose(
                by=by, coach=self.coach, client=self.client, starts_at=start, now=self.now,
                skill=self.skill, duration_minutes=60,
            )  # fmt: skip

    @rule(days=st.integers(1, 6), hour=st.integers(8, 12), weeks=st.integers(1, 3))
    def propose_a_series(self, days, hour, weeks):
        first = (self.now + timedelta(days=days)).replace(hour=hour, minute=0)
        credit = Credit.objects.filter(client=self.client, status="available").first()
        if credit is None:
            return
        with contextlib.suppress(RequestError):
            series_propose(
                by=self.client, credit=credit, now=self.now,
                starts=[first + timedelta(weeks=week) for week in range(weeks)],
            )  # fmt: skip

    @precondition(lambda self: self._open())
    @rule(
        data=st.data(),
        action=st.sampled_from(["accept", "reject", "cancel", "adjust"]),
        by_coach=st.booleans(),
    )
    def answer(self, data, action, by_coach):
        request = data.draw(st.sampled_from(self._open()))
        by = self.coach.user if by_coach else self.client
        try:
            if action == "adjust":
                shift = timedelta(hours=data.draw(st.integers(-48, 48)))
                start = (request.starts_at + shift).replace(minute=0)
                minutes = data.draw(st.sampled_from([None, 30, 45, 60]))
                request_adjust(
                    request=request, by=by, starts_at=start, now=self.now, duration_minutes=minutes
                )
            else:
                act = {"accept": request_accept, "reject": request_reject, "cancel": request_cancel}
                act[action](request=request, by=by, now=self.now)
        except (RequestError, BookingError, PaymentError):
            pass

    @rule(hours=st.integers(min_value=1, max_value=60))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)
        requests_expire_due(now=self.now)

    @invariant()
    def only_declared_transitions_happen(self):
        allowed = {("", "pending")} | {
            (source, target)
            for sources, target in REQUEST.transitions.values()
            for source in sources
        }
        seen = set(
            RequestEvent.objects.filter(request__coach=self.coach).values_list(
                "from_status", "to_status"
            )
        )
        assert seen <= allowed

    @invariant()
    def a_held_credit_is_held_by_exactly_one_open_request(self):
        held = Credit.objects.filter(client=self.client, status="held").count()
        holding = SessionRequest.objects.filter(
            client=self.client, status="pending", credit__isnull=False
        ).count()
        # A weekly series holds one credit per time.
        holding += SeriesOccurrence.objects.filter(
            client=self.client, request__status="pending", request__target_session__isnull=True
        ).count()
        assert held == holding
        # An exchanged credit was replaced by one of the new length.
        assert Credit.objects.filter(client=self.client).exclude(status="exchanged").count() == 5

    @invariant()
    def live_sessions_never_overlap(self):
        live = list(
            Session.objects.filter(coach=self.coach)
            .exclude(status__in=Session.FREE_STATUSES)
            .order_by("starts_at")
        )
        for first, second in itertools.pairwise(live):
            assert first.ends_at <= second.starts_at


def test_requests_never_reach_a_forbidden_state():
    run_state_machine_as_test(Requests, settings=QUICK)


junk = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.sampled_from(["", "0", "-1", "1e9", "30", "60", "leadership", "2026-11-28T10:00"]),
)
FUZZ = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(["skill", "duration", "quantity", "start", "method"]), junk
    )
)
@example(form={"quantity": "5"})  # a package chosen before its length: nothing to price yet
def test_the_buy_flow_never_answers_500(alice, bob, leadership, form):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    assert client.post(reverse("payments:checkout", args=[bob.pk]), form).status_code < 500
    assert client.get(reverse("payments:buy", args=[bob.pk]), form).status_code < 500


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(["kind", "start", "client", "skill", "duration", "session"]), junk
    )
)
def test_request_forms_never_answer_500(alice, bob, leadership, form):
    client = Client(raise_request_exception=False)
    for person in (alice, bob.user):
        client.force_login(person)
        assert client.post(reverse("requests:propose"), form).status_code < 500


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["reason", "details", "rating", "comment"]), junk))
def test_report_and_confirm_forms_never_answer_500(alice, session, form):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    assert client.post(reverse("sessions:report", args=[session.pk]), form).status_code < 500
    assert client.post(reverse("sessions:confirm", args=[session.pk]), form).status_code < 500


@FUZZ
@given(
    form=st.dictionaries(st.sampled_from(["amount", "method", "details", "auto_weekly"]), junk),
    month=junk,
)
def test_payout_forms_and_statement_months_never_answer_500(bob, form, month):
    client = Client(raise_request_exception=False)
    client.force_login(bob.user)
    for name in ("payouts:request", "payouts:method_manual", "payouts:auto_weekly"):
        assert client.post(reverse(name), form).status_code < 500
    for name in ("payouts:statement", "payouts:statement_csv"):
        assert client.get(reverse(name), {"month": month}).status_code < 500
