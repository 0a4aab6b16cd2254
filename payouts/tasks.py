from celery import shared_task
from django.utils import timezone

from payouts import services
from payouts.services import account_sync, send_payout  # noqa: F401  (registered with the worker)


@shared_task(name="payouts.follow_up")
def follow_up() -> int:
    """Every minute: Stripe payouts whose sending was lost are sent again (same key)."""
    return services.payouts_follow_up(now=timezone.now())


@shared_task(name="payouts.auto_weekly")
def auto_weekly() -> int:
    """Every hour: on the payout weekday, weekly payouts not yet made this week."""
    return services.payouts_auto_weekly(now=timezone.now())


@shared_task(name="payouts.onboarding_reminders")
def onboarding_reminders() -> int:
    """Every hour: coaches who left Stripe onboarding unfinished a day ago, once."""
    return services.onboarding_reminders_due(now=timezone.now())
