import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models

from accounts.timezones import validate_zone, zone_or_utc
from hse.text import validate_single_line


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
    display_name = models.CharField(max_length=80, validators=[validate_single_line])
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.CLIENT)
    time_zone = models.CharField(
        max_length=64, default=settings.DEFAULT_USER_TIME_ZONE, validators=[validate_zone]
    )

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
        return zone_or_utc(self.time_zone)

    @property
    def initials(self) -> str:
        parts = (self.display_name or self.email).split()
        return "".join(part[0] for part in parts[:2]).upper()

    def get_full_name(self) -> str:
        return self.display_name

    def get_short_name(self) -> str:
        return self.display_name.split(" ")[0] if self.display_name else self.email


class CalendarFeed(models.Model):
    """A person's private calendar address, ``/calendar/feed/<id>-<secret>.ics``: whoever
    holds it reads their sessions and open requests without signing in. Renewing the secret
    (``calendar_feed_renew``) stops the old address at once."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="calendar_feed")
    # Compared in constant time (hmac.compare_digest) with the one in the address.
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Calendar address of {self.user}"

    @property
    def token(self) -> str:
        return f"{self.pk}-{self.secret}"
