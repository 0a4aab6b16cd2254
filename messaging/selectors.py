"""What the messaging pages read, always scoped to the person reading."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from coaching.models import CoachProfile
from ledger.models import Credit
from messaging.models import Conversation, Message


def conversation_for_user_or_none(*, user: User, conversation_id: int) -> Conversation | None:
    return (
        Conversation.objects.for_user(user)
        .select_related("client", "coach__user")
        .filter(pk=conversation_id)
        .first()
    )


def conversation_of_pair(*, client_id: int, coach_id: int) -> Conversation | None:
    return (
        Conversation.objects.select_related("client", "coach__user")
        .filter(client_id=client_id, coach_id=coach_id)
        .first()
    )


def unread_total(*, user: User) -> int:
    """How many messages wait for ``user`` to read them (one index scan)."""
    if not user.is_authenticated:
        return 0
    return Message.objects.filter(recipient=user, read_at__isnull=True).count()


def _unread_in(user: User) -> Subquery:
    return Subquery(
        Message.objects.filter(conversation=OuterRef("pk"), recipient=user, read_at__isnull=True)
        .order_by()
        .values("conversation")
        .annotate(count=Count("pk"))
        .values("count"),
        output_field=IntegerField(),
    )


@dataclass(frozen=True)
class ConversationPage:
    rows: list[Conversation]  # each with ``unread`` and ``other`` (the other person)
    page: int
    has_more: bool

    @property
    def state(self) -> str:
        """Changes whenever what the list shows changes (a poll that finds it the same
        answers with nothing to swap)."""
        return ".".join(f"{row.pk}-{row.last_message_id or 0}-{row.unread}" for row in self.rows)


def conversations_of(*, user: User, page: int = 1) -> ConversationPage:
    """A person's conversations, the latest message first, each with its unread count and
    its last message: one query for the whole page."""
    size = settings.HSE_CONVERSATIONS_PAGE_SIZE
    start = (page - 1) * size
    rows = list(
        Conversation.objects.for_user(user)
        .select_related("client", "coach__user", "last_message")
        .annotate(unread=Coalesce(_unread_in(user), Value(0)))
        .order_by(F("last_message_at").desc(nulls_last=True), "-created_at", "-pk")[
            start : start + size + 1
        ]
    )
    for row in rows:
        row.other = row.coach.user if row.client_id == user.pk else row.client
    return ConversationPage(rows=rows[:size], page=page, has_more=len(rows) > size)


@dataclass(frozen=True)
class Thread:
    """One conversation as ``viewer`` sees it: a window of messages, oldest first."""

    conversation: Conversation
    viewer: User
    other: User
    messages: list[Message]
    has_earlier: bool
    before: int | None  # the window ends before this message (None: the latest)
    seen_id: int | None  # the viewer's last message, once the other person read it
    unread_ids: list[int]  # messages to the viewer not read yet

    @property
    def state(self) -> str:
        last = self.messages[-1].pk if self.messages else 0
        return f"{last}.{self.seen_id or 0}"

    @property
    def live(self) -> bool:
        """The latest messages, which follow new ones as they come."""
        return self.before is None


def thread_of(*, conversation: Conversation, viewer: User, before: int | None = None) -> Thread:
    size = settings.HSE_THREAD_PAGE_SIZE
    rows = Message.objects.filter(conversation=conversation)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    rows = list(rows.order_by("-pk")[: size + 1])
    has_earlier = len(rows) > size
    messages = rows[:size][::-1]
    own = [m for m in messages if m.sender_id == viewer.pk]
    seen_id = own[-1].pk if before is None and own and own[-1].read_at else None
    other = conversation.coach.user if conversation.client_id == viewer.pk else conversation.client
    return Thread(
        conversation=conversation,
        viewer=viewer,
        other=other,
        messages=messages,
        has_earlier=has_earlier,
        before=before,
        seen_id=seen_id,
        unread_ids=[m.pk for m in messages if m.recipient_id == viewer.pk and not m.read_at],
    )


# --- Who may write to whom -----------------------------------------------------------------------


def has_bought(*, client: User, coach: CoachProfile) -> bool:
    """The client paid this coach for a session at least once (a credit exists)."""
    return Credit.objects.filter(client=client, coach=coach).exists()


@dataclass(frozen=True)
class Pair:
    client: User
    coach: CoachProfile
    conversation: Conversation | None


def pair_with(*, viewer: User, other_id: int) -> Pair | None:
    """The pair ``viewer`` forms with person ``other_id``, if the viewer may write to them:
    a client to a listed coach (or one they already talk to), a coach to a client who
    bought from them or already talks to them. None otherwise (the page answers 404)."""
    if not viewer.is_authenticated or other_id == viewer.pk:
        return None
    other = User.objects.filter(pk=other_id, is_active=True).first()
    if other is None:
        return None
    if viewer.is_client and other.is_coach:
        client = viewer
        coach = CoachProfile.objects.select_related("user").filter(user=other).first()
    elif viewer.is_coach and other.is_client:
        client = other
        coach = CoachProfile.objects.select_related("user").filter(user=viewer).first()
    else:
        return None
    if coach is None:
        return None
    conversation = conversation_of_pair(client_id=client.pk, coach_id=coach.pk)
    if conversation is not None:
        return Pair(client, coach, conversation)
    if viewer.is_client:
        listed = CoachProfile.objects.listed().filter(pk=coach.pk).exists()
        return Pair(client, coach, None) if listed else None
    return Pair(client, coach, None) if has_bought(client=client, coach=coach) else None


# --- Evidence for the refund desk ----------------------------------------------------------------


def pair_messages_between(
    *, client_id: int, coach_id: int, start: datetime, end: datetime
) -> list[Message]:
    """What a client and a coach wrote to each other in [start, end], oldest first."""
    return list(
        Message.objects.filter(
            conversation__client_id=client_id,
            conversation__coach_id=coach_id,
            created_at__gte=start,
            created_at__lte=end,
        )
        .select_related("sender")
        .order_by("created_at", "pk")
    )
