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
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import services as ledger
from ledger.models import Credit, EarningEntry, WalletEntry
from ledger.services import LedgerError, wallet_balance, wallet_post
from payments.models import StripeEvent, TopUp
from payments.refunds import credit_refund
from payments.services import PaymentError, order_start
from payments.sweeps import holds_expire_due
from payments.webhooks import stripe_event_process
from requests_app.models import RequestEvent, SessionRequest
from requests_app.services import (
    REQUEST,
    RequestError,
    request_accept,
    request_adjust,
    request_cancel,
    request_propose,
    request_reject,
    requests_expire_due,
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
    credits used (earning their coach) and refunds, and hold expiries."""

    def __init__(self):
        super().__init__()
        self.skill = SkillFactory()
        self.coach = CoachFactory(skills=[self.skill], windows=EVERY_HOUR)
        self.client = UserFactory()
        self.events: list[tuple[str, dict]] = []
        self.now = NOW

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


def test_the_ledger_keeps_its_invariants():
    run_state_machine_as_test(Ledger, settings=QUICK)


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
                request_adjust(request=request, by=by, starts_at=start, now=self.now)
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
        assert held == holding
        assert Credit.objects.filter(client=self.client).count() == 5

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
