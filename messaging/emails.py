"""The unread-messages email, in the recipient's zone, through the outbox."""

from django.urls import reverse

from hse.emails import bulk_notifier, send_email_on_commit
from messaging.models import Message

SHOWN = 5  # the latest unread messages quoted in the email


@bulk_notifier
def unread_messages(ids: list[int]) -> None:
    """For the sweep: ``ids`` are messages, each the first unread one of a conversation
    whose recipient is to be told."""
    for message in Message.objects.filter(pk__in=ids).select_related(
        "conversation", "sender", "recipient"
    ):
        waiting = list(
            Message.objects.filter(
                conversation_id=message.conversation_id,
                recipient_id=message.recipient_id,
                read_at__isnull=True,
            ).order_by("-pk")[:SHOWN]
        )[::-1]
        if not waiting:
            continue  # read meanwhile
        count = Message.objects.filter(
            conversation_id=message.conversation_id,
            recipient_id=message.recipient_id,
            read_at__isnull=True,
        ).count()
        sender = message.sender
        send_email_on_commit(
            to=message.recipient,
            subject=f"{sender.display_name} sent you "
            + ("a message" if count == 1 else f"{count} messages"),
            template="unread_messages",
            context={
                "sender": sender,
                "messages": waiting,
                "count": count,
                "url": reverse("messaging:thread", args=[message.conversation_id]),
            },
        )
