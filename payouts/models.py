"""Coaches' payouts: how each coach is paid (a Stripe Express account, or PayPal/Wise details
an admin pays by hand) and each payout's life. The money itself moves in the ledger: a
payout is an earning entry that takes its amount off the balance (``ledger.services``)."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

from coaching.models import CoachProfile
from hse.states import Event, OwnedState
from hse.text import validate_single_line


def transfer_token() -> str:
    """A random part of an idempotency key made from our rows: two sites sharing one Stripe
    account (a test account, a database restored or reset) number their rows alike, and
    must never replay each other's accounts or transfers."""
    return secrets.token_hex(8)


class PayoutAccount(models.Model):
    """One per coach: where their payouts go."""

    class Method(models.TextChoices):
        NONE = "", "Not set up"
        STRIPE = "stripe", "Stripe"
        PAYPAL = "paypal", "PayPal"
        WISE = "wise", "Wise"

    coach = models.OneToOneField(
        CoachProfile, on_delete=models.CASCADE, related_name="payout_account"
    )
    method = models.CharField(max_length=10, choices=Method.choices, blank=True)
    # PayPal: the account's email; Wise: the email or the account details to pay.
    manual_details = models.CharField(max_length=200, blank=True, validators=[validate_single_line])
    stripe_account_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Part of the key that makes the Express account once (see transfer_token).
    connect_token = models.CharField(max_length=32, default=transfer_token, editable=False)
    # Stripe's word, from account.updated or when the coach comes back from onboarding.
    stripe_payouts_enabled = models.BooleanField(default=False)
    stripe_details_submitted = models.BooleanField(default=False)
    onboarding_started_at = models.DateTimeField(null=True, blank=True)
    onboarding_reminded_at = models.DateTimeField(null=True, blank=True)
    auto_weekly = models.BooleanField(
        default=False, help_text="Pay the available balance every week (Stripe only)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Payout account of coach {self.coach_id}"

    @property
    def stripe_ready(self) -> bool:
        return bool(self.stripe_account_id) and self.stripe_payouts_enabled

    @property
    def can_request(self) -> bool:
        if self.method == self.Method.STRIPE:
            return self.stripe_ready
        return self.method in (self.Method.PAYPAL, self.Method.WISE) and bool(self.manual_details)


class Payout(OwnedState):
    """Money paid to a coach once: sent as a Stripe Transfer by a task after the request
    commits, or paid by an admin outside the site and recorded with its reference."""

    class Method(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        PAYPAL = "paypal", "PayPal (by hand)"
        WISE = "wise", "Wise (by hand)"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SENDING = "sending", "Sending"
        SENT = "sent", "Paid"
        FAILED = "failed", "Failed"
        PAID_BY_HAND = "paid_by_hand", "Paid by hand"
        CANCELLED = "cancelled", "Cancelled"
        # Stripe answered something that does not fit this payout (a transfer that is not
        # ours for its key): not sent again by the timers; an admin resolves it.
        HELD = "held", "Held for an admin"

    coach = models.ForeignKey(CoachProfile, on_delete=models.PROTECT, related_name="payouts")
    amount = models.PositiveIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=10, choices=Method.choices)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.REQUESTED)
    # Copied when requested, so a later change of details cannot redirect this payout.
    destination = models.CharField(max_length=255, blank=True)
    # Each attempt is one debit of the balance and one transfer at Stripe; a retry after a
    # failure is a new attempt (a new key), a resend after a lost answer the same one.
    attempt = models.PositiveSmallIntegerField(default=1)
    stripe_transfer_id = models.CharField(max_length=255, blank=True, db_index=True)
    # New for each attempt, kept for its resends (see transfer_token).
    transfer_token = models.CharField(max_length=32, default=transfer_token)
    # When this attempt was first handed to Stripe: Stripe forgets idempotency keys after
    # 24 hours, so an attempt older than that is looked up before it is sent again.
    attempt_sent_at = models.DateTimeField(null=True, blank=True)
    reference = models.CharField(
        max_length=200, blank=True, help_text="The PayPal or Wise reference of a payout by hand."
    )
    failure = models.CharField(max_length=300, blank=True)
    # The weekly automatic payout's key (auto-<coach>-<ISO week>), so a week pays once; None
    # (not "") on every other payout, so they never collide in the unique index.
    auto_key = models.CharField(max_length=60, null=True, blank=True, unique=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["status", "requested_at"]),
            models.Index(fields=["coach", "-requested_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Payout #{self.pk}"

    @property
    def transfer_key(self) -> str:
        """The idempotency key of this attempt's transfer, from our own row."""
        return f"payout-{self.pk}-{self.attempt}-{self.transfer_token}"

    @property
    def transfer_group(self) -> str:
        """Names this attempt at Stripe (the transfer's group), so it can be looked up. The
        row's token keeps it apart from another site's payout of the same number on one
        Stripe account (a shared test account, a restored database)."""
        return f"payout-{self.pk}-{self.attempt}-{self.transfer_token}"

    @property
    def by_hand(self) -> bool:
        return self.method != self.Method.STRIPE


class PayoutEvent(Event):
    payout = models.ForeignKey(Payout, on_delete=models.CASCADE, related_name="events")
    # The transfer an attempt had when this event closed it (a retry), so late events
    # about an earlier attempt's transfer are recognised and ignored.
    stripe_transfer_id = models.CharField(max_length=255, blank=True, db_index=True)

    class Meta(Event.Meta):
        pass
