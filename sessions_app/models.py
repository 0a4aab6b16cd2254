from django.conf import settings
from django.db import models
from django.db.models import Q

from coaching.models import CoachProfile, Skill


class SessionQuerySet(models.QuerySet):
    def for_user(self, user):
        """The sessions a person may see: their own as client or as coach."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(client=user) | Q(coach__user=user))

    def occupying(self, now):
        """Rows that make their coach and client busy: every live session, and checkout
        holds that have not expired yet (an expired hold is free even before the sweep)."""
        return self.exclude(status__in=Session.FREE_STATUSES).exclude(
            status=Session.Status.HELD, hold_expires_at__lte=now
        )


class Session(models.Model):
    """A coaching session between one coach and one client at a fixed time.

    A single-session checkout starts as a HELD row (the slot is reserved until the hold
    expires); paying makes it SCHEDULED. Later states belong to the session lifecycle.
    """

    class Status(models.TextChoices):
        HELD = "held", "Held for checkout"
        SCHEDULED = "scheduled", "Scheduled"
        EXPIRED = "expired", "Hold expired"
        CANCELLED = "cancelled", "Cancelled"

    # Statuses whose rows no longer occupy the time (the exclusion constraints skip them).
    FREE_STATUSES = (Status.EXPIRED, Status.CANCELLED)

    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="sessions")
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="client_sessions"
    )
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    duration_minutes = models.PositiveSmallIntegerField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    # The credit that pays for it. A credit returned after a cancellation may pay for a
    # later session too, so several rows can name one credit; only one of them is live.
    credit = models.ForeignKey(
        "payments.Credit", null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["coach", "starts_at"]),
            models.Index(fields=["client", "starts_at"]),
            models.Index(
                fields=["hold_expires_at"], name="session_live_holds", condition=Q(status="held")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="session_start_before_end"
            ),
            models.CheckConstraint(
                condition=~Q(status="held") | Q(hold_expires_at__isnull=False),
                name="session_hold_has_expiry",
            ),
        ]
        # On PostgreSQL, two exclusion constraints (migration 0002) refuse overlapping live
        # rows per coach and per client, whatever writes them.

    def __str__(self) -> str:
        return (
            f"{self.skill} with {self.coach.user.display_name}, {self.starts_at:%Y-%m-%d %H:%M} UTC"
        )

    @property
    def is_live(self) -> bool:
        return self.status not in self.FREE_STATUSES


class SessionEvent(models.Model):
    """Append-only log of every state change: who, when, from, to, why."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    why = models.CharField(max_length=200)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}: {self.why}"


class PreSessionSurvey(models.Model):
    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="survey")
    goals = models.TextField(max_length=2000)
    challenges = models.TextField(max_length=2000)
    answered_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Survey for session {self.session_id}"
