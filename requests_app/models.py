from django.conf import settings
from django.db import models
from django.db.models import F, Q

from coaching.models import CoachProfile, Skill, own_coach_ids
from hse.states import Event


class SessionRequestQuerySet(models.QuerySet):
    def for_user(self, user):
        """The requests a person may see: those between them and someone else."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(client=user) | Q(coach_id__in=own_coach_ids(user)))

    def open_until(self):
        """Pending requests, with ``frees_at``, their deadline: a request past it is expired
        on every page, even before the sweep has run."""
        return self.filter(status=SessionRequest.Status.PENDING).annotate(frees_at=F("deadline"))

    def open_at(self, now):
        return self.open_until().filter(frees_at__gt=now)


class SessionRequest(models.Model):
    """A proposed time between one coach and one client; the latest proposal is copied onto
    the row (starts_at ... deadline) and every proposal is kept in ``proposals``."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an answer"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="requests")
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="session_requests"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The latest proposal.
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    duration_minutes = models.PositiveSmallIntegerField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField()
    deadline = models.DateTimeField()
    # What it is about and what came of it.
    target_session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reschedule_requests",
        help_text="Set for a reschedule: the session that moves if this is accepted.",
    )
    credit = models.ForeignKey(
        "ledger.Credit",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
        help_text="The client's credit held while a client's request is open.",
    )
    session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The session the accepted request booked or moved.",
    )
    order = models.ForeignKey(
        "payments.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The checkout started by accepting without a free credit.",
    )
    is_series = models.BooleanField(
        default=False,
        help_text="A weekly series: its times are its occurrences, accepted or declined as one.",
    )
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = SessionRequestQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["coach", "status", "starts_at"]),
            models.Index(fields=["client", "status", "starts_at"]),
            models.Index(
                fields=["deadline"], name="request_open_deadline", condition=Q(status="pending")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="request_start_before_end"
            ),
            models.CheckConstraint(
                condition=Q(deadline__lte=models.F("starts_at")),
                name="request_deadline_before_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Request #{self.pk} ({self.get_status_display()})"

    def receiver_id(self) -> int:
        return self.client_id if self.proposed_by_id != self.client_id else self.coach.user_id

    def effective_status(self, now) -> str:
        """The status pages show: a pending request past its deadline is expired."""
        if self.status == self.Status.PENDING and self.deadline <= now:
            return self.Status.EXPIRED
        return self.status

    @property
    def is_reschedule(self) -> bool:
        return self.target_session_id is not None


class Proposal(models.Model):
    """One proposal of a request, kept as it was sent."""

    request = models.ForeignKey(SessionRequest, on_delete=models.CASCADE, related_name="proposals")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    duration_minutes = models.PositiveSmallIntegerField()
    starts_at = models.DateTimeField()
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField()
    deadline = models.DateTimeField()

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return f"Proposal for request {self.request_id} at {self.starts_at:%Y-%m-%d %H:%M}"


class RequestEvent(Event):
    """Append-only log of every change of a request's state."""

    request = models.ForeignKey(SessionRequest, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass


class SeriesOccurrence(models.Model):
    """One time of a weekly series request, with the client's credit held for it; the
    session it booked once the series was accepted. The coach and the client are copied
    here so an open series holds its times in the busy-time union like any request."""

    request = models.ForeignKey(
        SessionRequest, on_delete=models.CASCADE, related_name="occurrences"
    )
    position = models.PositiveSmallIntegerField()
    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    credit = models.ForeignKey("ledger.Credit", on_delete=models.PROTECT, related_name="+")
    session = models.ForeignKey(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="series_occurrences",
    )

    class Meta:
        ordering = ["request", "position"]
        indexes = [
            models.Index(fields=["coach", "starts_at"]),
            models.Index(fields=["client", "starts_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="series_position_once"),
            models.CheckConstraint(
                condition=Q(starts_at__lt=models.F("ends_at")), name="series_start_before_end"
            ),
        ]

    def __str__(self) -> str:
        return f"Occurrence {self.position} of request {self.request_id}"
