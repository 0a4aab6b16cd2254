from celery import shared_task
from django.utils import timezone

from requests_app.services import requests_expire_due


@shared_task(name="requests.expire_overdue")
def expire_overdue() -> int:
    """Every minute: requests not answered by their deadline are cancelled automatically."""
    return requests_expire_due(now=timezone.now())
