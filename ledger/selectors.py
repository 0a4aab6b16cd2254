from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from ledger.models import EarningEntry, WalletEntry


def wallet_history(*, user, limit: int = 50) -> QuerySet[WalletEntry]:
    return WalletEntry.objects.filter(user=user).select_related("order")[:limit]


@dataclass(frozen=True)
class MonthEarnings:
    month: datetime  # local midnight of the month's first day
    sessions: int  # sessions earned, less those refunded
    gross: int
    fee: int
    net: int


def earnings_by_month(*, coach, zone, months: int = 12) -> list[MonthEarnings]:
    """Per month of the entries (in ``zone``), newest first, the sums of the coach's
    earning entries: what clients paid, the platform's fee and the coach's share. A refund
    of an earned session counts against the month it was refunded in."""
    rows = EarningEntry.objects.filter(coach=coach, kind__in=EarningEntry.CREDIT_KINDS).values_list(
        "created_at", "kind", "gross", "fee", "amount"
    )
    by_month: dict[datetime, list[int]] = {}
    for created_at, kind, gross, fee, amount in rows:
        local = created_at.astimezone(zone)
        key = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        sums = by_month.setdefault(key, [0, 0, 0, 0])
        sums[0] += 1 if kind == EarningEntry.Kind.EARNED else -1
        sums[1] += gross
        sums[2] += fee
        sums[3] += amount
    return [
        MonthEarnings(month=key, sessions=count, gross=gross, fee=fee, net=net)
        for key, (count, gross, fee, net) in sorted(by_month.items(), reverse=True)[:months]
    ]
