"""Email: rendered in the recipient's time zone, with plain-text and HTML parts, and sent
only after the surrounding database transaction commits, by a Celery worker (the sweeps and
the pages only queue it). Rows in the context travel as references and are read again by
the worker, so an email shows what was committed."""

import base64
import logging
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Model
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


def send_email(
    *,
    to: User,
    subject: str,
    template: str,
    context: dict,
    attachments: tuple[Attachment, ...] = (),
) -> None:
    """Renders ``emails/<template>.txt`` and ``.html`` in ``to``'s zone and sends them."""
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
    message.send()


def _pack(value):
    if isinstance(value, Model):
        return {"__row__": value._meta.label, "pk": value.pk}
    if isinstance(value, dict):
        return {key: _pack(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_pack(item) for item in value]
    return value


def _unpack(value):
    if isinstance(value, dict) and "__row__" in value:
        return apps.get_model(value["__row__"])._default_manager.get(pk=value["pk"])
    if isinstance(value, dict):
        return {key: _unpack(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unpack(item) for item in value]
    return value


def send_packed(payload: dict) -> None:
    """Sends an email queued by ``send_email_on_commit`` (runs in the worker)."""
    try:
        send_email(
            to=User.objects.get(pk=payload["to"]),
            subject=payload["subject"],
            template=payload["template"],
            context=_unpack(payload["context"]),
            attachments=tuple(
                Attachment(name, base64.b64decode(content), mimetype)
                for name, content, mimetype in payload["attachments"]
            ),
        )
    except Exception:  # an email failure must not undo what was committed
        log.exception("email %s to user %s failed", payload["template"], payload["to"])


def send_email_on_commit(
    *, to: User, subject: str, template: str, context: dict, attachments=()
) -> None:
    from hse.tasks import send_email_task

    payload = {
        "to": to.pk,
        "subject": subject,
        "template": template,
        "context": _pack(context),
        "attachments": [
            (a.filename, base64.b64encode(a.content).decode(), a.mimetype) for a in attachments
        ],
    }

    def queue():
        try:
            send_email_task.delay(payload)
        except Exception:  # the broker is away: send it from here rather than lose it
            log.warning("email queue unavailable; sending %s now", template)
            send_packed(payload)

    transaction.on_commit(queue)
