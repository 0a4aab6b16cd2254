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
        # Unused at its expiry, or when the client ended the package: back to the wallet.
        EXPIRED = "expired", "Expired, refunded to the wallet"
        ENDED = "ended", "Package ended, refunded to the wallet"
        # A request changed the session's length: a credit of the new length replaced it.
        EXCHANGED = "exchanged", "Exchanged for another length"

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
    # Until when it may be scheduled (HSE_PACKAGE_VALIDITY_MONTHS after the purchase, later
    # when the coach extends it); None for credits bought before packages had a validity.
    expires_at = models.DateTimeField(null=True, blank=True)
    # The days-before of the latest expiry reminder sent for this expiry (None: none yet).
    expiry_reminded = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        db_table = "payments_credit"  # made by the payments app, whose orders issue credits
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["client", "coach", "status"], name="payments_cr_client__71f4f0_idx"
            ),
            models.Index(fields=["status", "expires_at"], name="credit_expiry_idx"),
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
        UNUSED = "unused", "Unused credits returned"
        EXCHANGE = "exchange", "Session length changed"

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
    """What a coach earned, gave back, or was paid out: rows are only ever added, and the
    coach's balance is their sum. A credit used (its session confirmed, its report
    declined, or cancelled too late by the client) earns its price minus the platform fee;
    a refund of a used credit reverses that. A payout takes its amount off the balance, and
    a payout that did not reach the coach (refused, reversed, cancelled) puts it back."""

    class Kind(models.TextChoices):
        EARNED = "earned", "Earned"
        REVERSED = "reversed", "Reversed by a refund"
        PAYOUT = "payout", "Payout"
        RETURNED = "returned", "Payout returned"

    CREDIT_KINDS = (Kind.EARNED, Kind.REVERSED)
    PAYOUT_KINDS = (Kind.PAYOUT, Kind.RETURNED)

    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="earnings")
    credit = models.ForeignKey(
        Credit, null=True, blank=True, on_delete=models.PROTECT, related_name="earnings"
    )
    payout = models.ForeignKey(
        "payouts.Payout", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
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
            # A session's entry names its credit; a payout's names the payout, carries no
            # fee, takes money off (payout) or puts it back (returned).
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["earned", "reversed"], credit__isnull=False, payout__isnull=True)
                    | Q(
                        kind="payout",
                        payout__isnull=False,
                        credit__isnull=True,
                        fee=0,
                        amount__lt=0,
                    )
                    | Q(
                        kind="returned",
                        payout__isnull=False,
                        credit__isnull=True,
                        fee=0,
                        amount__gt=0,
                    )
                ),
                name="earning_names_its_cause",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount:+d} {self.currency} for {self.coach_id}"
