import os
import socket

from celery import shared_task
from django.core.management import call_command


@shared_task(name="hse.ping")
def ping() -> dict:
    """Answers with the worker's host name: proof that a task reached a real worker."""
    return {"pong": True, "worker": socket.gethostname(), "pid": os.getpid()}


@shared_task(name="hse.clear_expired_sessions")
def clear_expired_sessions() -> None:
    call_command("clearsessions")


@shared_task(name="hse.send_emails")
def send_emails(ids: list[int]) -> int:
    """Renders and sends emails written to the outbox by a commit (see ``hse.emails``)."""
    from hse.emails import deliver

    return deliver(ids)


@shared_task(name="hse.flush_emails")
def flush_emails() -> int:
    """Sends whatever the outbox still holds (a hand-over lost in a crash, a failed send),
    and forgets emails sent more than a week ago."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import QueuedEmail
    from hse.emails import deliver

    sent = 0
    while batch := deliver(limit=500):
        sent += batch
    QueuedEmail.objects.filter(sent_at__lt=timezone.now() - timedelta(days=7)).delete()
    return sent
