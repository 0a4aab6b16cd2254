"""Email: rendered in the recipient's time zone, with plain-text and HTML parts, and sent only
after the surrounding database transaction commits, by a Celery worker: pages and sweeps only
queue it. Rows in the context travel as references and are read again by the worker, so an
email shows what was committed. A sweep queues each batch's emails as one task (``batched``);
when the broker is away the emails are sent from the calling process instead. The emails are
written to an outbox table (``accounts.QueuedEmail``) in the same transaction, so one whose
hand-over to the broker is lost in a crash is still sent by the periodic flush."""

import base64
import logging
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from django.apps import apps
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Model
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import QueuedEmail, User

log = logging.getLogger(__name__)
_local = threading.local()


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


def build_email(
    *,
    to: User,
    subject: str,
    template: str,
    context: dict,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMultiAlternatives:
    """Renders ``emails/<template>.txt`` and ``.html`` in ``to``'s zone."""
    context = {"recipient": to, "site_url": settings.SITE_URL, **context}
    with timezone.override(to.zone):
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=f"[HSE] {subject}", body=text, to=[to.email], from_email=settings.DEFAULT_FROM_EMAIL
    )
    message.attach_alternative(html, "text/html")
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    return message


def send_email(**kwargs) -> None:
    build_email(**kwargs).send()


# --- Queuing ---------------------------------------------------------------------------------


def _pack(value):
    if isinstance(value, Model):
        return {"__row__": value._meta.label, "pk": value.pk}
    if isinstance(value, dict):
        return {key: _pack(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_pack(item) for item in value]
    return value


def _references(value, found: dict[str, set]) -> None:
    if isinstance(value, dict) and "__row__" in value:
        found[value["__row__"]].add(value["pk"])
    elif isinstance(value, dict):
        for item in value.values():
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)


def _unpack(value, rows: dict):
    if isinstance(value, dict) and "__row__" in value:
        return rows[value["__row__"], value["pk"]]  # KeyError: the row is gone
    if isinstance(value, dict):
        return {key: _unpack(item, rows) for key, item in value.items()}
    if isinstance(value, list):
        return [_unpack(item, rows) for item in value]
    return value


def deliver(ids: list[int] | None = None, *, limit: int = 1000) -> int:
    """Sends queued emails (in the worker): those of ``ids``, or with none given the oldest
    unsent ones (the periodic flush). Rows are locked with SKIP LOCKED, so an email another
    worker is sending is left to it, and marked sent in the same transaction: each is sent
    once unless a worker dies after sending and before its commit (then again: at least
    once). The rows they refer to are read once per model for the batch; one failing email
    is logged, retried by a later flush up to MAX_ATTEMPTS times, and stops nothing else."""
    with transaction.atomic():
        queued = QueuedEmail.objects.select_for_update(skip_locked=True).filter(
            sent_at__isnull=True, attempts__lt=QueuedEmail.MAX_ATTEMPTS
        )
        if ids is not None:
            queued = queued.filter(pk__in=ids)
        queued = list(queued.order_by("pk")[:limit])
        if not queued:
            return 0
        found: dict[str, set] = defaultdict(set)
        found[User._meta.label] = {email.to_id for email in queued}
        _references([email.payload for email in queued], found)
        rows = {}
        for label, pks in found.items():
            # select_related() follows every non-null foreign key: session -> coach -> user.
            model = apps.get_model(label)
            for pk, row in model._default_manager.select_related().in_bulk(pks).items():
                rows[label, pk] = row
        sent, failed = [], []
        with get_connection() as connection:
            for email in queued:
                try:
                    message = build_email(
                        to=rows[User._meta.label, email.to_id],
                        subject=email.subject,
                        template=email.template,
                        context=_unpack(email.payload["context"], rows),
                        attachments=tuple(
                            Attachment(name, base64.b64decode(content), mimetype)
                            for name, content, mimetype in email.payload["attachments"]
                        ),
                    )
                    connection.send_messages([message])
                    sent.append(email.pk)
                except Exception:
                    log.exception("email %s (%s) failed", email.pk, email.template)
                    failed.append(email.pk)
        now = timezone.now()
        QueuedEmail.objects.filter(pk__in=sent).update(sent_at=now)
        QueuedEmail.objects.filter(pk__in=failed).update(attempts=F("attempts") + 1)
    return len(sent)


def _publish(ids: list[int]) -> None:
    from hse.tasks import send_emails

    try:
        send_emails.delay(ids)
    except Exception:  # the broker is away: send them from here rather than wait
        log.warning("email queue unavailable; sending %d email(s) now", len(ids))
        deliver(ids)


def _save(emails: list) -> None:
    saved = QueuedEmail.objects.bulk_create(emails)
    transaction.on_commit(partial(_publish, [email.pk for email in saved]))


def send_email_on_commit(
    *, to: User, subject: str, template: str, context: dict, attachments=()
) -> None:
    """Writes the email to the outbox in the current transaction and hands it to the worker
    once that commits; nothing is sent if it rolls back."""
    email = QueuedEmail(
        to=to,
        subject=subject,
        template=template,
        payload={
            "context": _pack(context),
            "attachments": [
                (a.filename, base64.b64encode(a.content).decode(), a.mimetype) for a in attachments
            ],
        },
    )
    batch = getattr(_local, "batch", None)
    if batch is not None:
        batch.append(email)
    else:
        _save([email])


@contextmanager
def batched():
    """Emails queued inside the block are written with one INSERT and handed to the worker
    as one task after the commit (a sweep's batch). Use it inside the transaction."""
    if getattr(_local, "batch", None) is not None:  # already inside a batch
        yield
        return
    batch = _local.batch = []
    try:
        yield
    finally:
        _local.batch = None
    if batch:
        _save(batch)
