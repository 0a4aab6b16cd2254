from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, When

from coaching.models import CoachProfile, Skill, own_coach_ids
from hse.states import Event


def coach_late_q(now) -> Q:
    """Scheduled sessions whose coach has not started them HSE_COACH_LATE_MINUTES after the
    start, and that the clock has not ended yet (Report is open to the client)."""
    return Q(
        status=Session.Status.SCHEDULED,
        starts_at__lte=now - timedelta(minutes=settings.HSE_COACH_LATE_MINUTES),
        ends_at__gt=now - timedelta(minutes=settings.HSE_AUTO_END_MINUTES_AFTER),
    ) & (Q(report_after__isnull=True) | Q(report_after__lte=now))


class SessionQuerySet(models.QuerySet):
    def for_user(self, user):
        """The sessions a person may see: their own as client or as coach."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(client=user) | Q(coach_id__in=own_coach_ids(user)))

    def coach_late_at(self, now):
        return self.filter(coach_late_q(now))

    def occupying_until(self):
        """Rows that make their coach and client busy for as long as the clock lets them,
        with ``frees_at``, the instant the clock alone frees the time: a checkout hold's
        expiry (an expired hold is free even before the sweep); None for a live session."""
        return self.exclude(status__in=Session.FREE_STATUSES).annotate(
            frees_at=Case(When(status=Session.Status.HELD, then=F("hold_expires_at")))
        )

    def occupying(self, now):
        """Rows that make their coach and client busy at ``now``."""
        # Not exclude(frees_at__lte=now): on an annotation, Django leaves out the IS NOT NULL
        # that keeps NULL rows (live sessions) in.
        return self.occupying_until().filter(Q(frees_at__isnull=True) | Q(frees_at__gt=now))


class Session(models.Model):
    """A coaching session between one coach and one client at a fixed time.

    A single-session checkout starts as a HELD row (the slot is reserved until the hold
    expires); paying makes it SCHEDULED. Later states belong to the session lifecycle.
    """

    class Status(models.TextChoices):
        HELD = "held", "Held for checkout"
        SCHEDULED = "scheduled", "Scheduled"
        IN_PROGRESS = "in_progress", "In progress"
        ENDED = "ended", "Ended"
        CONFIRMED = "confirmed", "Confirmed"
        REPORTED = "reported", "Reported"
        REFUNDED = "refunded", "Refunded"
        REPORT_DECLINED = "declined", "Report declined"
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
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Confirmed, refunded, ...")
    # Each timer's "done" mark: set by a conditional update, so a notice goes out once.
    coach_late_notified_at = models.DateTimeField(null=True, blank=True)
    # "I'm 5 / 10 minutes late" from the coach's lobby; the client's "I'll wait" moves the
    # Report button to report_after.
    late_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    report_after = models.DateTimeField(null=True, blank=True)
    reminder_day_sent_at = models.DateTimeField(null=True, blank=True)
    reminder_soon_sent_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True, max_length=2000)
    # The coach's public answer to the review, shown under it (one, which they may edit).
    coach_reply = models.TextField(blank=True, max_length=2000)
    coach_reply_at = models.DateTimeField(null=True, blank=True)
    # The credit that pays for it. A credit returned after a cancellation may pay for a
    # later session too, so several rows can name one credit; only one of them is live.
    credit = models.ForeignKey(
        "ledger.Credit", null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The SEQUENCE of its calendar event (hse.ical): raised by each change sent as an update
    # (a move, the cancellation), so calendars replace their copy.
    calendar_sequence = models.PositiveIntegerField(default=0)

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
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="session_rating_1_to_5",
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


class Attendance(models.Model):
    """Evidence of who was where and when: lobby entries, the coach's start, joins and
    leaves of the room, the end. Shown to both people and to admins deciding a report."""

    class Kind(models.TextChoices):
        LOBBY = "lobby", "Entered the lobby"
        START = "start", "Coach started the session"
        JOIN = "join", "Joined the call"
        LEAVE = "leave", "Left the call"
        END = "end", "Coach ended the session"
        AUTO_END = "auto_end", "Ended automatically"
        LATE_NOTE = "late_note", "Coach said they are running late"
        LATE_WAIT = "late_wait", "Client agreed to wait"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%H:%M:%S}"


class Report(models.Model):
    """A client's refund request about a session, decided by an admin."""

    class Reason(models.TextChoices):
        NO_SHOW = "no_show", "The coach did not come"
        LEFT_EARLY = "left_early", "The coach left early"
        TECHNICAL = "technical", "Technical problem"
        OTHER = "other", "Something else"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        REFUNDED = "refunded", "Refunded"
        CREDIT_RETURNED = "credit", "Credit returned"
        DECLINED = "declined", "Declined"

    class Decision(models.TextChoices):
        REFUND_WALLET = "wallet", "Refund to wallet"
        REFUND_ORIGINAL = "original", "Refund to the original payment"
        RETURN_CREDIT = "credit", "Return the credit"
        DECLINE = "decline", "Decline"

    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="report")
    reason = models.CharField(max_length=12, choices=Reason.choices)
    details = models.TextField(max_length=4000)
    created_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    decision_note = models.TextField(blank=True, max_length=2000)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"Report on session {self.session_id} ({self.get_state_display()})"


class Signal(models.Model):
    """One WebRTC signalling message (offer, answer, ICE candidate, hello, media, bye) from one
    person of a session to the other, relayed by polling. Kept short-lived: only the
    session's two people read them, and only while the room is open."""

    class Kind(models.TextChoices):
        HELLO = "hello", "Joined"
        OFFER = "offer", "Offer"
        ANSWER = "answer", "Answer"
        CANDIDATE = "candidate", "ICE candidate"
        MEDIA = "media", "Camera or microphone turned on or off"
        BYE = "bye", "Left"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="signals")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["session", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} from {self.sender_id} in session {self.session_id}"


class SessionEvent(Event):
    """Append-only log of every change of a session's state (and of its moves in time)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass


class ReportEvent(Event):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass


class PreSessionSurvey(models.Model):
    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="survey")
    goals = models.TextField(max_length=2000)
    challenges = models.TextField(max_length=2000)
    answered_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Survey for session {self.session_id}"


class CoachIncident(models.Model):
    """A coach's late cancellation or absence, on the record for admins (the client got the
    credit back either way). Written once per session and kind by the services."""

    class Kind(models.TextChoices):
        LATE_CANCEL = "late_cancel", "Cancelled late"
        NO_SHOW = "no_show", "Did not show"

    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="incidents")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="incidents")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    at = models.DateTimeField()
    note = models.CharField(max_length=200)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["coach", "-at"])]
        constraints = [
            models.UniqueConstraint(fields=["session", "kind"], name="one_incident_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: session {self.session_id}"
