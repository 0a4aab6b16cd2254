from django.conf import settings
from django.db import models
from django.db.models import Q

from coaching.models import CoachProfile, Skill


class Order(models.Model):
    """What a client bought from a coach, at the price of that moment."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Expired"

    class Method(models.TextChoices):
        STRIPE = "stripe", "Card (Stripe)"
        WALLET = "wallet", "Wallet"

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="orders")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    duration_minutes = models.PositiveSmallIntegerField()
    quantity = models.PositiveSmallIntegerField()
    unit_price = models.PositiveIntegerField(help_text="Per session, minor units.")
    total_price = models.PositiveIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=10, choices=Method.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # A single session's slot, held while the order is pending.
    held_session = models.OneToOneField(
        "sessions_app.Session",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order",
    )
    expires_at = models.DateTimeField()
    # A one-time token from the buy form: the same form sent twice (a double click, a retry)
    # finds the order it already made instead of buying again.
    checkout_token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    stripe_checkout_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_checkout_url = models.URLField(max_length=2000, blank=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_price=models.F("unit_price") * models.F("quantity")),
                name="order_total_is_unit_times_quantity",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"

    @property
    def is_single(self) -> bool:
        return self.quantity == 1

    @property
    def total_minutes(self) -> int:
        return self.quantity * self.duration_minutes


class Credit(models.Model):
    """One paid session with a coach, to be scheduled (or already scheduled)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Ready to schedule"
        HELD = "held", "Held by a session request"
        SCHEDULED = "scheduled", "Scheduled"
        USED = "used", "Used"
        REFUNDED = "refunded", "Refunded"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="credits")
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
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["client", "coach", "status"])]

    def __str__(self) -> str:
        return f"{self.duration_minutes}-minute {self.skill} credit with {self.coach.user}"


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
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
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
        ordering = ["-id"]
        verbose_name_plural = "wallet entries"
        indexes = [models.Index(fields=["user", "-id"])]
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="wallet_never_negative"),
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_entry_moves_money"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} {self.amount:+d} {self.currency}"


class TopUp(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Expired"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="top_ups"
    )
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stripe_checkout_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_checkout_url = models.URLField(max_length=2000, blank=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Top-up #{self.pk}"


class Refund(models.Model):
    """Money given back for a credit, exactly once per idempotency key."""

    class Kind(models.TextChoices):
        TO_WALLET = "wallet", "To the wallet"
        TO_ORIGINAL = "original", "To the original payment"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    credit = models.ForeignKey(Credit, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    stripe_status = models.CharField(max_length=30, blank=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Refund #{self.pk} ({self.get_kind_display()})"


class StripeEvent(models.Model):
    """Each webhook event id is recorded once; a replay finds it and changes nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
