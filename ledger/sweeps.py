"""The credits' timers, run by beat: unused credits expire at their expiry (their price back
to the wallet), and their clients are reminded before. Each an idempotent sweep over the
rows due by the clock, a locked batch at a time (``hse.sweeps``), one notice per batch."""

from datetime import datetime, timedelta

from django.conf import settings

from hse.emails import notify_later
from hse.sweeps import in_locked_batches
from ledger import emails, services
from ledger.models import Credit


def credits_expire_due(*, now: datetime, batch: int = 500) -> int:
    """Unused credits whose expiry has come expire; the money goes back to the wallet."""
    due = (
        Credit.objects.filter(status=Credit.Status.AVAILABLE, expires_at__lte=now)
        .exclude(**services.WAITING_FOR_EXTENSION)
        .order_by("expires_at", "pk")
        .values_list("pk", flat=True)
    )

    def handle(ids):
        expired = services.credits_expire_many(ids=ids, now=now)
        if expired:
            notify_later(emails.credits_expired, ids=expired)
        return len(expired)

    return in_locked_batches(due, handle, batch=batch)


def expiry_reminders_due(*, now: datetime, batch: int = 500) -> int:
    """Each reminder of HSE_PACKAGE_EXPIRY_REMINDER_DAYS once per credit and expiry (an
    extension asks for them again). A reminder whose moment passed is skipped once a
    nearer one is due: after downtime the client gets the nearer one only."""
    sent = 0
    days = sorted(settings.HSE_PACKAGE_EXPIRY_REMINDER_DAYS)  # nearest first: 3, 14
    for index, before in enumerate(days):
        nearer = days[index - 1] if index else 0
        due = (
            Credit.objects.filter(
                status__in=(Credit.Status.AVAILABLE, Credit.Status.HELD),
                expires_at__lte=now + timedelta(days=before),
                expires_at__gt=now + timedelta(days=nearer),
            )
            .exclude(expiry_reminded__lte=before)
            .order_by("pk")
            .values_list("pk", flat=True)
        )

        def handle(ids, before=before):
            services.credits_mark_reminded(ids=ids, days=before)
            notify_later(emails.expiry_reminders, ids=ids, days=before)
            return len(ids)

        sent += in_locked_batches(due, handle, batch=batch)
    return sent
