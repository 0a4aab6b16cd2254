from django.conf import settings
from django.db import models
from django.db.models import Q

from coaching.models import CoachProfile, own_coach_ids
from hse.text import validate_text


class ConversationQuerySet(models.QuerySet):
    def for_user(self, user):
        """The conversations a person may see: their own, as the client or as the coach."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(client=user) | Q(coach_id__in=own_coach_ids(user)))


class Conversation(models.Model):
    """Everything one client and one coach wrote to each other: one thread per pair."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conversations"
    )
    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="conversations")
    created_at = models.DateTimeField()
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The unread email: when each side was last told of messages waiting for them. Cleared
    # when they read, so a side is emailed once until it has read (the sweep's "done" mark).
    client_emailed_at = models.DateTimeField(null=True, blank=True)
    coach_emailed_at = models.DateTimeField(null=True, blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "coach"], name="conversation_one_per_pair"),
        ]
        indexes = [
            models.Index(fields=["client", "last_message_at"]),
            models.Index(fields=["coach", "last_message_at"]),
            models.Index(fields=["client", "created_at"]),  # new conversations a day
        ]

    def __str__(self) -> str:
        return f"Conversation #{self.pk}"

    def recipient_id_for(self, sender_id: int) -> int:
        """The other side of the pair from ``sender_id``'s."""
        return self.coach.user_id if sender_id == self.client_id else self.client_id


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Message"
        NOTICE = "notice", "Notice"  # written by the site for one side (e.g. running late)

    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, related_name="messages"
    )
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The other side of the pair, kept on the row so that a person's unread messages are
    # one index away (the header counts them on every page).
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField(validators=[validate_text])
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.TEXT)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    # When the unread-email sweep looked at it (told the recipient, or found them told).
    email_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(
                fields=["recipient", "conversation"],
                name="message_unread",
                condition=Q(read_at__isnull=True),
            ),
            models.Index(
                fields=["created_at"],
                name="message_unread_unchecked",
                condition=Q(read_at__isnull=True, email_checked_at__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(sender=models.F("recipient")), name="message_to_someone_else"
            ),
        ]

    def __str__(self) -> str:
        return f"Message #{self.pk} in conversation {self.conversation_id}"
