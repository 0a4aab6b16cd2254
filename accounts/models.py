import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    class Role(models.TextChoices):
        CLIENT = "client", "Client"
        COACH = "coach", "Coach"

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CLIENT)
    time_zone = models.CharField(max_length=64, default=settings.DEFAULT_USER_TIME_ZONE)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    objects = UserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["client", "coach"]), name="user_role_known"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def is_coach(self) -> bool:
        return self.role == self.Role.COACH

    @property
    def is_client(self) -> bool:
        return self.role == self.Role.CLIENT

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def initials(self) -> str:
        parts = (self.display_name or self.email).split()
        return "".join(part[0] for part in parts[:2]).upper()

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name.split(" ")[0] if self.display_name else self.email


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
        indexes = [
            models.Index(
                fields=["id"],
                name="queued_notice_waiting",
                condition=models.Q(expanded_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.notifier} for {len(self.ids)} rows"
