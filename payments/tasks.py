from celery import shared_task
from django.utils import timezone

from payments import packages, refunds, sweeps
from payments.refunds import send_refund  # noqa: F401  (registered with the worker)


@shared_task(name="payments.expire_holds")
def expire_holds() -> int:
    """Every minute: pending orders and top-ups past their time expire, and held slots free."""
    now = timezone.now()
    return sweeps.holds_expire_due(now=now) + sweeps.top_ups_expire_due(now=now)


@shared_task(name="payments.follow_up_refunds")
def follow_up_refunds() -> int:
    """Every minute: card refunds whose sending was lost are sent; long-pending ones checked."""
    return refunds.refunds_follow_up(now=timezone.now())


@shared_task(name="payments.extensions_lapse")
def extensions_lapse() -> int:
    """Every minute: questions for more time the coach left unanswered lapse."""
    return packages.extensions_lapse_due(now=timezone.now())
