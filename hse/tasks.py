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
