"""Email: rendered in the recipient's time zone, with plain-text and HTML parts, and sent
only after the surrounding database transaction commits."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
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


def send_email_on_commit(**kwargs) -> None:
    def send():
        try:
            send_email(**kwargs)
        except Exception:  # an email failure must not undo what was committed
            log.exception("email %s to %s failed", kwargs.get("template"), kwargs["to"].pk)

    transaction.on_commit(send)
