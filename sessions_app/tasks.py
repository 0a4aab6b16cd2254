from celery import shared_task
from django.utils import timezone

from sessions_app import sweeps


@shared_task(name="sessions.coach_late")
def coach_late() -> int:
    return sweeps.coach_late_notify_due(now=timezone.now())


@shared_task(name="sessions.auto_end")
def auto_end(**options) -> int:
    """``batch=N`` runs it N sessions a transaction (by hand, or a test that needs many)."""
    return sweeps.sessions_auto_end_due(now=timezone.now(), **options)


@shared_task(name="sessions.auto_confirm")
def auto_confirm() -> int:
    return sweeps.sessions_auto_confirm_due(now=timezone.now())


@shared_task(name="sessions.reminders")
def reminders() -> int:
    return sweeps.reminders_send_due(now=timezone.now())
