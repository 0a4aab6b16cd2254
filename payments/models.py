from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from coaching.models import CoachProfile, Skill
from hse.states import Event
from ledger.models import Credit


class Order(models.Model):
    """What a client bought from a coach, at the price of that moment."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled on Stripe's page"
        REVIEW = "review", "Held for review"  # Stripe's amount or currency was not ours
        REFUNDED = "refunded", "Refunded after review"

    class Method(models.TextChoices):
        STRIPE = "stripe", "Card (Stripe)"
        WALLET = "wallet", "Wallet"
        FREE = "free", "Free trial"  # nothing to pay: no wallet entry, no Stripe

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="orders")
    skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="+")
    duration_minutes = models.PositiveSmallIntegerField()
    quantity = models.PositiveSmallIntegerField()
    unit_price = models.PositiveIntegerField(help_text="Per session, minor units.")
    # The coach's package discount applied to unit_price (per cent), and whether this is the
    # client's one trial session with the coach.
    discount_percent = models.PositiveSmallIntegerField(default=0)
    is_trial = models.BooleanField(default=False)
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
    # finds the order it already made instead of buying again. None (not "") without one,
    # so that orders without a token never collide in the constraint below.
    checkout_token = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    stripe_checkout_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_checkout_url = models.URLField(max_length=2000, blank=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True, db_index=True)
    # What Stripe reported it took, kept when that was not the order's price (review).
    stripe_amount = models.BigIntegerField(null=True, blank=True)
    stripe_currency = models.CharField(max_length=3, blank=True)
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
            # A form's token is its client's: another client sending the same one buys anew.
            models.UniqueConstraint(
                fields=["client", "checkout_token"],
                condition=Q(checkout_token__isnull=False),
                name="order_token_once_per_client",
            ),
            # One trial per client and coach: one being paid or paid counts; one that
            # expired or was cancelled unpaid may be tried again. One held for review is
            # not counted here: a late card payment for an expired trial, after the client
            # bought another, must be held (payments.services.trial_clash), never refused.
            models.UniqueConstraint(
                fields=["client", "coach"],
                condition=Q(is_trial=True, status__in=["pending", "paid"]),
                name="one_trial_per_client_and_coach",
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__lte=100), name="order_discount_bounded"
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"

    @property
    def is_single(self) -> bool:
        return self.quantity == 1

    @property
    def total_minutes(self) -> int:
        return self.quantity * self.duration_minutes


class OrderEvent(Event):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass


class TopUp(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled on Stripe's page"
        REVIEW = "review", "Held for review"
        REFUNDED = "refunded", "Refunded after review"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="top_ups"
    )
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    stripe_checkout_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_checkout_url = models.URLField(max_length=2000, blank=True)
    stripe_payment_intent = models.CharField(max_length=255, blank=True)
    stripe_amount = models.BigIntegerField(null=True, blank=True)
    stripe_currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Top-up #{self.pk}"


class TopUpEvent(Event):
    top_up = models.ForeignKey(TopUp, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass


class Refund(models.Model):
    """Money given back, exactly once per idempotency key: to the wallet at once, or to the
    card through Stripe by a task that runs after the decision commits and records what
    Stripe answered. A failed card refund stays owed until an admin retries it."""

    class Kind(models.TextChoices):
        TO_WALLET = "wallet", "To the wallet"
        TO_CARD = "card", "To the card (Stripe)"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SENT = "sent", "Sent to Stripe"
        SUCCEEDED = "succeeded", "Refunded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    # What it gives back: a credit's price, or a whole payment held for review.
    credit = models.ForeignKey(
        Credit, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    top_up = models.ForeignKey(
        TopUp, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    stripe_refund_id = models.CharField(max_length=255, blank=True)
    stripe_status = models.CharField(max_length=30, blank=True)
    failure = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Refund #{self.pk} ({self.get_kind_display()}, {self.get_status_display()})"


class RefundEvent(Event):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass


class StripeEvent(models.Model):
    """Each webhook event id is recorded once; a replay finds it and changes nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class PackageExtension(models.Model):
    """A client's request that the coach let a package's credits be scheduled longer."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the coach"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="extensions")
    months = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    # The expiry the acceptance set, for both people to read.
    new_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open question per package: asking again waits for the answer.
            models.UniqueConstraint(
                fields=["order"], condition=Q(status="pending"), name="one_open_extension"
            ),
            models.CheckConstraint(condition=Q(months__gte=1), name="extension_months_positive"),
        ]

    def __str__(self) -> str:
        return f"Extension of order #{self.order_id} by {self.months} month(s)"

    @property
    def answer_by(self):
        """When the question lapses unanswered (``payments.packages.extensions_lapse_due``)."""
        return self.created_at + timedelta(days=settings.HSE_EXTENSION_ANSWER_DAYS)


class PackageExtensionEvent(Event):
    extension = models.ForeignKey(PackageExtension, on_delete=models.CASCADE, related_name="events")

    class Meta(Event.Meta):
        pass
