from celery import shared_task
from django.utils import timezone

from ledger import sweeps


@shared_task(name="ledger.credit_expiry")
def credit_expiry() -> int:
    """Every minute: unused credits past their expiry go back to the wallet; reminders."""
    now = timezone.now()
    return sweeps.credits_expire_due(now=now) + sweeps.expiry_reminders_due(now=now)
