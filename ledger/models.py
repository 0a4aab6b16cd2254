"""Money and credits: the wallet's entries, the credits a payment bought, and what coaches
earn. Every write to these tables goes through ``ledger.services``."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from coaching.models import CoachProfile, Skill
from hse.states import Event, OwnedState


class Credit(OwnedState):
    """One paid session with a coach, to be scheduled (or already scheduled)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Ready to schedule"
        HELD = "held", "Held by a session request"
        SCHEDULED = "scheduled", "Scheduled"
        USED = "used", "Used"
        REFUNDED = "refunded", "Refunded"

    order = models.ForeignKey("payments.Order", on_delete=models.PROTECT, related_name="credits")
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credits"
    )
    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="credits")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    duration_minutes = models.PositiveSmallIntegerField()
    price_paid = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "payments_credit"  # made by the payments app, whose orders issue credits
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["client", "coach", "status"], name="payments_cr_client__71f4f0_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.duration_minutes}-minute {self.skill} credit with {self.coach.user}"


class CreditEvent(Event):
    credit = models.ForeignKey(Credit, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass


class WalletEntry(models.Model):
    """One movement of a wallet. Rows are only ever added (the database refuses updates
    and deletes); ``balance_after`` is the running balance, which may never be negative."""

    class Reason(models.TextChoices):
        TOP_UP = "top_up", "Top-up"
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment by an admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet_entries"
    )
    amount = models.IntegerField(help_text="Minor units; negative for a debit.")
    currency = models.CharField(max_length=3)
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=12, choices=Reason.choices)
    # What caused it.
    order = models.ForeignKey(
        "payments.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    top_up = models.ForeignKey(
        "payments.TopUp", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund = models.ForeignKey(
        "payments.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "payments_walletentry"  # made by the payments app
        ordering = ["-id"]
        verbose_name_plural = "wallet entries"
        indexes = [models.Index(fields=["user", "-id"], name="payments_wa_user_id_6cdf61_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="wallet_never_negative"),
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_entry_moves_money"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.amount:+d} {self.currency}"


class EarningEntry(models.Model):
    """What a coach earned, or gave back, for one credit: rows are only ever added. A credit
    used (its session confirmed, its report declined, or cancelled too late by the client)
    earns its price minus the platform fee; a refund of a used credit reverses that."""

    class Kind(models.TextChoices):
        EARNED = "earned", "Earned"
        REVERSED = "reversed", "Reversed by a refund"

    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="earnings")
    credit = models.ForeignKey(Credit, on_delete=models.PROTECT, related_name="earnings")
    session = models.ForeignKey(
        "sessions_app.Session", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    gross = models.IntegerField(help_text="What the client paid, minor units (negative: back).")
    fee = models.IntegerField(help_text="The platform's fee, minor units.")
    amount = models.IntegerField(help_text="The coach's share: gross minus fee.")
    currency = models.CharField(max_length=3)
    why = models.CharField(max_length=200)
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "earning entries"
        indexes = [models.Index(fields=["coach", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount=models.F("gross") - models.F("fee")), name="earning_net_of_fee"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d} {self.currency} for {self.coach_id}"
