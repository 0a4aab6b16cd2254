"""What the coach's payout and statement pages read, and the admins' monthly report."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, Sum

from ledger.models import Credit, EarningEntry
from ledger.services import platform_fee
from payouts.models import Payout, PayoutAccount


@dataclass(frozen=True)
class Balance:
    earned: int  # what sessions earned, less what refunds took back
    pending: int  # the coach's share of sessions booked and not yet closed
    paid_out: int  # payouts that reached the coach
    in_flight: int  # payouts requested or on their way
    total: int  # the sum of every entry: earned less payouts taken off
    currency: str

    @property
    def available(self) -> int:
        """What may be paid out now: never below zero."""
        return max(0, self.total)

    @property
    def owed_back(self) -> int:
        """A refund came after the money was paid out: the next payouts absorb this."""
        return max(0, -self.total)


def balance_of(*, coach) -> Balance:
    sums = EarningEntry.objects.filter(coach=coach).aggregate(
        total=Sum("amount"),
        earned=Sum("amount", filter=Q(kind__in=EarningEntry.CREDIT_KINDS)),
    )
    payouts = Payout.objects.filter(coach=coach).aggregate(
        paid=Sum("amount", filter=Q(status__in=(Payout.Status.SENT, Payout.Status.PAID_BY_HAND))),
        flight=Sum(
            "amount",
            filter=Q(
                status__in=(Payout.Status.REQUESTED, Payout.Status.SENDING, Payout.Status.HELD)
            ),
        ),
    )
    prices = Counter(
        dict(
            Credit.objects.filter(coach=coach, status=Credit.Status.SCHEDULED)
            .values_list("price_paid")
            .annotate(n=Count("id"))
            .values_list("price_paid", "n")
        )
    )
    pending = sum((price - platform_fee(price)) * n for price, n in prices.items())
    return Balance(
        earned=sums["earned"] or 0,
        pending=pending,
        paid_out=payouts["paid"] or 0,
        in_flight=payouts["flight"] or 0,
        total=sums["total"] or 0,
        currency=coach.currency,
    )


def account_of(*, coach) -> PayoutAccount:
    """The coach's payout account, or an unsaved empty one (a page read writes nothing)."""
    return PayoutAccount.objects.filter(coach=coach).first() or PayoutAccount(coach=coach)


def payouts_of(*, coach, limit: int = 50):
    return Payout.objects.filter(coach=coach).order_by("-requested_at", "-id")[:limit]


@dataclass(frozen=True)
class StatementLine:
    entry: EarningEntry
    balance: int  # the running balance after this entry


def statement(*, coach, start: datetime, end: datetime) -> tuple[int, list[StatementLine]]:
    """The balance before ``start``, and each entry from ``start`` to ``end`` (oldest first)
    with the running balance after it: two queries whatever the month holds."""
    opening = (
        EarningEntry.objects.filter(coach=coach, created_at__lt=start).aggregate(
            total=Sum("amount")
        )["total"]
        or 0
    )
    entries = (
        EarningEntry.objects.filter(coach=coach, created_at__gte=start, created_at__lt=end)
        .select_related("session__client", "session__skill", "payout")
        .order_by("created_at", "id")
    )
    running, lines = opening, []
    for entry in entries:
        running += entry.amount
        lines.append(StatementLine(entry=entry, balance=running))
    return opening, lines


@dataclass(frozen=True)
class MonthBar:
    month: datetime
    earned: int
    paid_out: int


def months_chart(*, coach, zone, months: list[datetime]) -> list[MonthBar]:
    """Per month of ``months`` (local midnights of first days, oldest first): what sessions
    earned (net of refunds) and what payouts took, from one query."""
    if not months:
        return []
    rows = EarningEntry.objects.filter(coach=coach, created_at__gte=months[0]).values_list(
        "created_at", "kind", "amount"
    )
    earned: Counter = Counter()
    paid: Counter = Counter()
    for created_at, kind, amount in rows:
        local = created_at.astimezone(zone)
        key = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if kind in EarningEntry.CREDIT_KINDS:
            earned[key] += amount
        else:
            paid[key] -= amount
    return [MonthBar(month=m, earned=earned[m], paid_out=paid[m]) for m in months]


@dataclass(frozen=True)
class PlatformMonth:
    gross_sales: int
    platform_fees: int
    refunds: int
    payouts: int  # what reached coaches: sent or paid by hand, less partial reversals
    owed_to_coaches: int
    owed_back_by_coaches: int


def platform_month(*, start: datetime, end: datetime) -> PlatformMonth:
    """The admins' monthly report: what sessions sold (gross and fee, as earned) and what
    refunds took back, in the month; the payouts that reached coaches in it, and only those:
    sent by Stripe or paid by hand, settled in the month, less what Stripe took back of sent
    ones by partial reversals in it (payouts requested, sending, held, failed or cancelled
    are not counted); and, at its end, what coaches' balances hold (owed to them) or lack
    (owed back)."""
    month = EarningEntry.objects.filter(created_at__gte=start, created_at__lt=end)
    sums = month.aggregate(
        sales=Sum("gross", filter=Q(kind=EarningEntry.Kind.EARNED)),
        fees=Sum("fee", filter=Q(kind__in=EarningEntry.CREDIT_KINDS)),
        refunded=Sum("gross", filter=Q(kind=EarningEntry.Kind.REVERSED)),
        # A sent payout's returned entries are partial reversals (a whole one fails it).
        taken_back=Sum(
            "amount",
            filter=Q(kind=EarningEntry.Kind.RETURNED, payout__status=Payout.Status.SENT),
        ),
    )
    reached = Payout.objects.filter(
        status__in=(Payout.Status.SENT, Payout.Status.PAID_BY_HAND),
        settled_at__gte=start,
        settled_at__lt=end,
    ).aggregate(total=Sum("amount"))["total"]
    balances = (
        EarningEntry.objects.filter(created_at__lt=end)
        .values("coach")
        .annotate(total=Sum("amount"))
        .values_list("total", flat=True)
    )
    totals = list(balances)
    return PlatformMonth(
        gross_sales=sums["sales"] or 0,
        platform_fees=sums["fees"] or 0,
        refunds=-(sums["refunded"] or 0),
        payouts=(reached or 0) - (sums["taken_back"] or 0),
        owed_to_coaches=sum(t for t in totals if t > 0),
        owed_back_by_coaches=-sum(t for t in totals if t < 0),
    )
