"""Email: rendered in the recipient's time zone, with plain-text and HTML parts, and sent only
after the surrounding database transaction commits, by a Celery worker: pages and sweeps only
queue it. Rows in the context travel as references and are read again by the worker, so an
email shows what was committed. A sweep writes one notice per batch instead (``notify_later``),
which the worker turns into the batch's emails; when the broker is away, a page's emails are
sent from its own process and a sweep's wait for the minutely flush. The emails are
written to an outbox table (``hse.QueuedEmail``) in the same transaction, so one whose
hand-over to the broker is lost in a crash is still sent by the periodic flush."""

import base64
import logging
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from celery import shared_task
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Model
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string

from hse.models import QueuedEmail, QueuedNotice
from hse.rules import product_rules
from hse.text import one_line

log = logging.getLogger(__name__)
_local = threading.local()


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


def build_email(
    *,
    to,
    subject: str,
    template: str,
    context: dict,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMultiAlternatives:
    """Renders ``emails/<template>.txt`` and ``.html`` in ``to``'s zone."""
    context = {"recipient": to, "site_url": settings.SITE_URL, "rules": product_rules(), **context}
    with timezone.override(to.zone):
        text = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    message = EmailMultiAlternatives(
        subject=f"[HSE] {one_line(subject)}",
        body=text,
        to=[to.email],
        from_email=settings.DEFAULT_FROM_EMAIL,
    )
    message.attach_alternative(html, "text/html")
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    return message


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


def deliver(ids: list[int]) -> int:
    """Sends the queued emails ``ids`` (in the worker) and returns how many were sent. Rows
    are locked with SKIP LOCKED, so an email another worker is sending is left to it, and
    marked sent in the same transaction: each is sent once unless a worker dies after
    sending and before its commit (then again: at least once). The rows they refer to are
    read once per model for the batch. A failing email is logged and retried by a later
    flush up to MAX_ATTEMPTS times (not at all when a row it tells of is gone), and stops
    nothing else."""
    return _deliver(ids, limit=len(ids))[1]


def _deliver(ids: list[int] | None, *, limit: int, after: int = 0) -> tuple[int, int]:
    """(the last id taken or 0 for none, how many were sent), for ids above ``after``."""
    with transaction.atomic():
        queued = QueuedEmail.objects.select_for_update(skip_locked=True).filter(
            sent_at__isnull=True, attempts__lt=QueuedEmail.MAX_ATTEMPTS
        )
        if ids is not None:
            queued = queued.filter(pk__in=ids)
        queued = list(queued.filter(pk__gt=after).order_by("pk")[:limit])
        if not queued:
            return 0, 0
        user_label = get_user_model()._meta.label
        found: dict[str, set] = defaultdict(set)
        found[user_label] = {email.to_id for email in queued}
        _references([email.payload for email in queued], found)
        rows = {}
        for label, pks in found.items():
            # select_related() follows every non-null foreign key: session -> coach -> user.
            model = apps.get_model(label)
            for pk, row in model._default_manager.select_related().in_bulk(pks).items():
                rows[label, pk] = row
        sent, failed, gone = [], [], []
        with get_connection() as connection:
            for email in queued:
                try:
                    to = rows[user_label, email.to_id]
                    context = _unpack(email.payload["context"], rows)
                except KeyError as missing:
                    log.warning("email %s tells of a row that is gone: %s", email.pk, missing)
                    gone.append(email.pk)
                    continue
                try:
                    message = build_email(
                        to=to,
                        subject=email.subject,
                        template=email.template,
                        context=context,
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
        QueuedEmail.objects.filter(pk__in=gone).update(attempts=QueuedEmail.MAX_ATTEMPTS)
    return queued[-1].pk, len(sent)


def flush(*, batch: int = 500) -> int:
    """Everything still waiting: notices written out, then every email tried once more;
    returns how many emails were sent."""
    last = 0  # each waiting notice and email is tried once per flush, oldest first
    while waiting := list(
        _waiting_notices().filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch]
    ):
        expand_notices(waiting)
        last = waiting[-1]
    sent = last = 0
    while True:
        last, done = _deliver(None, limit=batch, after=last)
        if not last:
            return sent
        sent += done


@shared_task(name="hse.send_emails")
def send_emails(ids: list[int]) -> int:
    """Renders and sends emails written to the outbox by a commit."""
    return deliver(ids)


def _publish(ids: list[int]) -> None:
    try:
        send_emails.delay(ids)
    except Exception:  # the broker is away: send them from here rather than wait
        log.warning("email queue unavailable; sending %d email(s) now", len(ids))
        try:
            deliver(ids)
        except Exception:  # they stay in the outbox for the flush; the commit stands
            log.exception("sending %d email(s) in-process failed", len(ids))


def _save(emails: list) -> None:
    saved = QueuedEmail.objects.bulk_create(emails)
    transaction.on_commit(partial(_publish, [email.pk for email in saved]))


def send_email_on_commit(*, to, subject: str, template: str, context: dict, attachments=()) -> None:
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
    as one task after the commit (a notice's batch). Use it inside the transaction."""
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


# --- Notices for a sweep's batch -------------------------------------------------------------


def bulk_notifier(function):
    """Marks ``function(ids, **options)`` as one a sweep may name in ``notify_later``: it
    reads the rows ``ids`` and queues their emails."""
    function.bulk_notifier = True
    return function


def _notifier(path: str):
    function = import_string(path)
    if not getattr(function, "bulk_notifier", False):
        raise ValueError(f"{path} is not a bulk notifier")
    return function


def notify_later(notifier, *, ids: list[int], **options) -> None:
    """Records, in the current transaction, that ``notifier`` must tell the people of rows
    ``ids``: one row for a whole batch, so a sweep spends nothing per row on its emails.
    After the commit the worker writes and sends them (``expand_notices``)."""
    path = f"{notifier.__module__}.{notifier.__qualname__}"
    _notifier(path)
    notice = QueuedNotice.objects.create(notifier=path, ids=ids, options=options)

    def publish():
        try:
            expand_notices_task.delay([notice.pk])
        except Exception:  # the broker is away: the minutely flush expands it
            log.warning("task queue unavailable; notice %s waits for the flush", notice.pk)

    transaction.on_commit(publish)


def _waiting_notices():
    return QueuedNotice.objects.filter(
        expanded_at__isnull=True, attempts__lt=QueuedNotice.MAX_ATTEMPTS
    )


@shared_task(name="hse.expand_notices")
def expand_notices_task(ids: list[int]) -> int:
    """Writes the emails of a sweep's batch (``notify_later``)."""
    return expand_notices(ids)


def expand_notices(ids: list[int]) -> int:
    """Turns the waiting notices ``ids`` into emails in the outbox, each notice in its own
    transaction with the row locked (SKIP LOCKED) and marked done there. A notifier that
    fails is logged and retried by a later flush, up to MAX_ATTEMPTS times."""
    done = 0
    for pk in _waiting_notices().filter(pk__in=ids).values_list("pk", flat=True):
        try:
            with transaction.atomic():
                notice = (
                    QueuedNotice.objects.select_for_update(skip_locked=True)
                    .filter(pk=pk, expanded_at__isnull=True)
                    .first()
                )
                if notice is None:
                    continue
                with batched():
                    _notifier(notice.notifier)(notice.ids, **notice.options)
                notice.expanded_at = timezone.now()
                notice.save(update_fields=["expanded_at"])
                done += 1
        except Exception:
            log.exception("notice %s could not be expanded", pk)
            QueuedNotice.objects.filter(pk=pk).update(attempts=F("attempts") + 1)
    return done
