"""Messages between a client and a coach: open the pair's conversation, send, read.

Each write pushes what changed to the pages that show it (``hse.live``, after the commit)
and renews the header's counts of the people concerned. The unread email is a sweep
(``messages_email_unread_due``): each side is told once, until they read."""

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from coaching.models import CoachProfile
from hse import live
from hse.cache import new_versions_now_and_on_commit
from hse.emails import notify_later
from hse.sweeps import in_locked_batches
from hse.text import validate_text
from messaging import emails
from messaging.models import Conversation, Message
from messaging.selectors import Thread, has_bought

# The header's counts (``marketplace.selectors.header_counts``) include the unread messages
# and are kept in the cache under this family, as sessions' and requests' changes renew them
# (``sessions_app.selectors.forget_pending_counts``).
HEADER_COUNTS = "pending-count"


class MessagingError(Exception):
    """A messaging rule was broken; the message is for people."""


def _forget_header_counts(*user_ids: int) -> None:
    new_versions_now_and_on_commit(HEADER_COUNTS, user_ids)


# --- The pair's conversation ---------------------------------------------------------------------


def conversation_for(
    *, client: User, coach: CoachProfile, now: datetime, starting: bool = True
) -> Conversation:
    """The conversation of ``client`` and ``coach``, made on first use.

    ``starting``: the client opens it themself (the coach's page), so they must be a client
    writing to a listed coach, and may start HSE_NEW_CONVERSATIONS_PER_DAY new ones in any
    24 hours. Otherwise the caller knows the two already deal with each other (a session, a
    purchase: the room, a coach's late notice) and only the roles are checked."""
    found = Conversation.objects.filter(client=client, coach=coach).first()
    if found is not None:
        return found
    if not client.is_client or client.pk == coach.user_id:
        raise MessagingError("Conversations are between a client and a coach.")
    with transaction.atomic():
        if starting:
            if not CoachProfile.objects.listed().filter(pk=coach.pk).exists():
                raise MessagingError("This coach is not taking messages from new clients.")
            # One new conversation of a client at a time, so that two at once cannot both
            # pass the count.
            User.objects.select_for_update().filter(pk=client.pk).first()
            limit = settings.HSE_NEW_CONVERSATIONS_PER_DAY
            recent = Conversation.objects.filter(
                client=client, created_at__gt=now - timedelta(hours=24)
            ).count()
            if recent >= limit:
                raise MessagingError(
                    f"You have started {limit} new conversations in the last 24 hours, the "
                    "most a day. Please try again later, or write in a conversation you have."
                )
        conversation, _ = Conversation.objects.get_or_create(
            client=client, coach=coach, defaults={"created_at": now}
        )
    return conversation


def conversation_start(
    *, by: User, client: User, coach: CoachProfile, body: str, now: datetime
) -> Conversation:
    """``by`` writes to the other of the pair from a page (the coach's page, a session's
    page, the room), opening their conversation with this first message if there is none:
    a client starts one within the limits of ``conversation_for``; a coach only with a
    client who bought from them."""
    with transaction.atomic():
        found = Conversation.objects.filter(client=client, coach=coach).first()
        if found is not None:
            conversation = found
        elif by.pk == client.pk:
            conversation = conversation_for(client=client, coach=coach, now=now, starting=True)
        elif by.pk == coach.user_id and has_bought(client=client, coach=coach):
            conversation = conversation_for(client=client, coach=coach, now=now, starting=False)
        elif by.pk == coach.user_id:
            raise MessagingError("You can write to clients who have booked with you.")
        else:
            raise MessagingError("This conversation is not yours.")
        message_send(conversation=conversation, by=by, body=body, now=now)
    return conversation


# --- Send and read -------------------------------------------------------------------------------


def _clean_body(body: str) -> str:
    body = str(body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise MessagingError("Write a message first.")
    limit = settings.HSE_MESSAGE_MAX_LENGTH
    if len(body) > limit:
        raise MessagingError(
            f"A message can be at most {limit} characters long; this one has {len(body)}."
        )
    try:
        validate_text(body)
    except ValidationError as error:
        raise MessagingError(error.messages[0]) from None
    return body


def _unread_now(user_id: int) -> int:
    """The person's unread total, their header's cached counts forgotten (it changed)."""
    _forget_header_counts(user_id)
    return Message.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def _tell_unread(user_id: int) -> None:
    """The person's header and lists count again (their total travels with the event)."""
    live.push(live.user_group(user_id), {"type": "unread", "count": _unread_now(user_id)})


def message_send(
    *, conversation: Conversation, by: User, body: str, now: datetime, kind: str = "text"
) -> Message:
    """``by``, one of the pair, writes to the other: plain text, 1 to HSE_MESSAGE_MAX_LENGTH
    characters, no control characters but line breaks and tabs. ``kind="notice"``: a line
    the site writes for ``by`` (a coach's late notice), shown apart from what they typed."""
    if kind not in Message.Kind.values:
        raise ValueError(f"unknown message kind {kind!r}")
    coach_user_id = conversation.coach.user_id
    if by.pk not in (conversation.client_id, coach_user_id):
        raise MessagingError("This conversation is not yours.")
    body = _clean_body(body)
    recipient_id = conversation.recipient_id_for(by.pk)
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation, sender=by, recipient_id=recipient_id, body=body,
            kind=kind, created_at=now,
        )  # fmt: skip
        # Concurrent sends: the latest row stays the last, whichever commits first.
        Conversation.objects.filter(
            Q(last_message__isnull=True) | Q(last_message_id__lt=message.pk), pk=conversation.pk
        ).update(last_message=message, last_message_at=now)
        conversation.last_message, conversation.last_message_at = message, now
        _push_message(conversation, message, recipients_unread=_unread_now(recipient_id))
    return message


def _push_message(conversation: Conversation, message: Message, *, recipients_unread: int):
    """The new line itself, to each side's open pages, as that side sees it (their zone,
    "You" or the other's name): an open thread adds it without asking the server again. The
    recipient's event carries their unread total (``unread``), as an "unread" event would."""
    client, coach = conversation.client, conversation.coach.user
    sends = []
    for viewer, other in ((client, coach), (coach, client)):
        thread = Thread(
            conversation=conversation, viewer=viewer, other=other, messages=[message],
            has_earlier=False, before=None, seen_id=None, unread_ids=[],
        )  # fmt: skip
        with timezone.override(viewer.zone):
            html = render_to_string(
                "messaging/thread.html#pushed", {"chat": thread, "message": message}
            )
        event = {"type": "message", "conversation": conversation.pk, "id": message.pk}
        if viewer.pk == message.recipient_id:
            event["unread"] = recipients_unread
        sends.append((live.user_group(viewer.pk), {**event, "html": html}))
    live.push_many(sends)  # both sides in one trip to the event loop, after the commit


def conversation_read(
    *, conversation: Conversation, by: User, now: datetime, upto: int | None = None
) -> int:
    """``by`` has seen the conversation (up to message ``upto``, when a page says which it
    showed): the other side's messages are read (their sender sees "Seen"), and ``by`` may
    be emailed again about later ones. Returns how many."""
    if by.pk == conversation.client_id:
        told = "client_emailed_at"
    elif by.pk == conversation.coach.user_id:
        told = "coach_emailed_at"
    else:
        raise MessagingError("This conversation is not yours.")
    with transaction.atomic():
        unread = Message.objects.filter(
            conversation=conversation, recipient=by, read_at__isnull=True
        )
        if upto is not None:  # every line of theirs up to the one shown: "Seen" goes there
            last = upto
            read = unread.filter(pk__lte=upto).update(read_at=now)
        else:  # the thread as it is: up to their last line, not one sent meanwhile
            last = unread.aggregate(last=Max("pk"))["last"]
            read = unread.filter(pk__lte=last).update(read_at=now) if last else 0
        if read:
            Conversation.objects.filter(pk=conversation.pk, **{f"{told}__isnull": False}).update(
                **{told: None}
            )
            # The sender's open thread moves its "Seen" without asking again.
            live.push(
                live.user_group(conversation.recipient_id_for(by.pk)),
                {"type": "read", "conversation": conversation.pk, "upto": last},
            )
            _tell_unread(by.pk)
    return read


# --- The unread email ----------------------------------------------------------------------------


def messages_email_unread_due(*, now: datetime, batch: int = 500) -> int:
    """The sweep: a message unread HSE_UNREAD_EMAIL_MINUTES after it was sent emails its
    recipient, once per conversation until they read it. Each due message is looked at once
    (``email_checked_at``); a side already told is marked by a conditional UPDATE, so a
    second run, or two at once, emails nobody twice. Returns how many emails were queued."""
    cutoff = now - timedelta(minutes=settings.HSE_UNREAD_EMAIL_MINUTES)
    due = (
        Message.objects.filter(
            read_at__isnull=True, email_checked_at__isnull=True, created_at__lte=cutoff
        )
        .order_by("created_at", "pk")
        .values_list("pk", "conversation_id", "recipient_id", "conversation__client_id")
    )

    def handle(rows):
        Message.objects.filter(pk__in=[row[0] for row in rows]).update(email_checked_at=now)
        first = {}  # (conversation, side) -> the first unread message that tells of it
        for pk, conversation_id, recipient_id, client_id in rows:
            side = "client_emailed_at" if recipient_id == client_id else "coach_emailed_at"
            first.setdefault((conversation_id, side), pk)
        by_side = defaultdict(list)
        for conversation_id, side in first:
            by_side[side].append(conversation_id)
        told = []
        for side, ids in by_side.items():
            untold = list(
                Conversation.objects.select_for_update()
                .filter(pk__in=ids, **{f"{side}__isnull": True})
                .values_list("pk", flat=True)
            )
            Conversation.objects.filter(pk__in=untold).update(**{side: now})
            told += [first[pk, side] for pk in untold]
        if told:
            notify_later(emails.unread_messages, ids=sorted(told))
        return len(told)

    return in_locked_batches(due, handle, batch=batch)
