from celery import shared_task
from django.utils import timezone

from sessions_app.services import holds_expire_due


@shared_task(name="payments.expire_holds")
def expire_holds() -> int:
    """Every minute: pending orders and checkout holds past their time are expired."""
    return holds_expire_due(now=timezone.now())
