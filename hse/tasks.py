import os
import socket
from datetime import timedelta

from celery import shared_task
from django.core.management import call_command
from django.utils import timezone

# The outbox's own tasks (send, expand) are defined beside it; importing it registers them.
from hse.emails import flush
from hse.models import QueuedEmail, QueuedNotice


@shared_task(name="hse.ping", ignore_result=False)  # its answer is read
def ping() -> dict:
    """Answers with the worker's host name: proof that a task reached a real worker."""
    return {"pong": True, "worker": socket.gethostname(), "pid": os.getpid()}


@shared_task(name="hse.clear_expired_sessions")
def clear_expired_sessions() -> None:
    call_command("clearsessions")


@shared_task(name="hse.flush_emails")
def flush_emails() -> int:
    """Sends whatever the outbox still holds (a hand-over lost in a crash, a failed send),
    after writing the emails of sweeps' notices still waiting, and forgets emails sent more
    than a week ago."""
    sent = flush()
    week_ago = timezone.now() - timedelta(days=7)
    QueuedEmail.objects.filter(sent_at__lt=week_ago).delete()
    QueuedNotice.objects.filter(expanded_at__lt=week_ago).delete()
    return sent
