from celery import shared_task
from django.utils import timezone

from messaging.services import messages_email_unread_due


@shared_task(name="messaging.email_unread")
def email_unread() -> int:
    """Every minute: messages unread for HSE_UNREAD_EMAIL_MINUTES email their recipients."""
    return messages_email_unread_due(now=timezone.now())
