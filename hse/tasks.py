import os
import socket

from celery import shared_task
from django.core.management import call_command


@shared_task(name="hse.ping", ignore_result=False)  # its answer is read
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
    after writing the emails of sweeps' notices still waiting, and forgets emails sent more
    than a week ago."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import QueuedEmail, QueuedNotice
    from hse.emails import flush

    sent = flush()
    week_ago = timezone.now() - timedelta(days=7)
    QueuedEmail.objects.filter(sent_at__lt=week_ago).delete()
    QueuedNotice.objects.filter(expanded_at__lt=week_ago).delete()
    return sent


@shared_task(name="hse.expand_notices")
def expand_notices_task(ids: list[int]) -> int:
    """Writes the emails of a sweep's batch (see ``hse.emails.notify_later``)."""
    from hse.emails import expand_notices

    return expand_notices(ids)
