"""The email outbox (``hse.emails``): what every app uses to tell people, kept below them all."""

from django.conf import settings
from django.db import models


class QueuedEmail(models.Model):
    """An email written in the same transaction as what it tells (the outbox), sent by the
    worker afterwards. A crash between the commit and the hand-over to the broker loses
    nothing: the periodic flush sends whatever is still unsent."""

    MAX_ATTEMPTS = 5

    to = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    template = models.CharField(max_length=60)
    subject = models.CharField(max_length=200)
    payload = models.JSONField(help_text="The context (rows as references) and attachments.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "accounts_queuedemail"  # where it was made
        indexes = [
            models.Index(
                fields=["id"], name="queued_email_unsent", condition=models.Q(sent_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"{self.template} to user {self.to_id}"


class QueuedNotice(models.Model):
    """A sweep's notices for a whole batch of rows, written in the sweep's transaction as one
    row: the worker calls ``notifier`` (a function marked ``hse.emails.bulk_notifier``) on
    ``ids``, which writes their emails to the outbox, and marks the row done in the same
    transaction, so each batch becomes emails once."""

    MAX_ATTEMPTS = 5

    notifier = models.CharField(max_length=120)
    ids = models.JSONField()
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expanded_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "accounts_queuednotice"
        indexes = [
            models.Index(
                fields=["id"],
                name="queued_notice_waiting",
                condition=models.Q(expanded_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.notifier} for {len(self.ids)} rows"
