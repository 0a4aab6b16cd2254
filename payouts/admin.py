"""The payouts desk: every payout by status (requested, sent, failed, paid by hand) with its
history; actions (for admins who may change payouts) to record a payment made by hand with
its reference, to retry failed ones, to cancel requested ones and to resolve Stripe payouts
stuck sending or held by looking their transfer up at Stripe; coaches' payout accounts with
their balances; and the monthly platform report. Every change goes through ``payouts.services``."""

import re
from datetime import UTC, datetime

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Sum
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from hse.money import format_money
from payouts import selectors, services
from payouts.models import Payout, PayoutAccount, PayoutEvent

EVENT_FIELDS = ("at", "by", "from_status", "to_status", "action", "why")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PayoutEventInline(admin.TabularInline):
    model = PayoutEvent
    extra = 0
    can_delete = False
    readonly_fields = EVENT_FIELDS
    fields = EVENT_FIELDS

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    list_display = (
        "pk", "requested_at", "coach", "money", "method", "destination", "status", "reference",
    )  # fmt: skip
    list_filter = ("status", "method")
    search_fields = ("coach__user__email", "coach__user__display_name", "reference")
    list_select_related = ("coach__user",)
    readonly_fields = (
        "coach", "amount", "currency", "method", "status", "destination", "attempt",
        "stripe_transfer_id", "reference", "failure", "auto_key", "requested_by",
        "requested_at", "last_attempt_at", "settled_at",
    )  # fmt: skip
    inlines = [PayoutEventInline]
    actions = ["mark_paid_by_hand", "retry_failed", "cancel_requested", "resolve_at_stripe"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Amount", ordering="amount")
    def money(self, payout):
        return format_money(payout.amount, payout.currency)

    def get_urls(self):
        report = path(
            "report/", self.admin_site.admin_view(self.report_view), name="payouts_report"
        )
        return [report, *super().get_urls()]

    @admin.action(description="Mark paid by hand (asks for the references)", permissions=["change"])
    def mark_paid_by_hand(self, request, queryset):
        due = list(
            queryset.filter(status=Payout.Status.REQUESTED)
            .exclude(method=Payout.Method.STRIPE)
            .select_related("coach__user")
        )
        if not due:
            self.message_user(
                request, "Choose requested PayPal or Wise payouts.", level=messages.WARNING
            )
            return None
        if request.POST.get("confirm") == "yes":
            paid = 0
            for payout in due:
                reference = request.POST.get(f"reference-{payout.pk}", "")
                try:
                    services.payout_mark_paid(
                        payout=payout, reference=reference, by=request.user, now=timezone.now()
                    )
                    paid += 1
                except services.PayoutError as error:
                    self.message_user(request, f"Payout #{payout.pk}: {error}", messages.ERROR)
            if paid:
                self.message_user(request, f"{paid} payout(s) recorded as paid by hand.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Record payouts paid by hand",
            "payouts": due,
            "action": "mark_paid_by_hand",
            "opts": self.model._meta,
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        }
        return TemplateResponse(request, "admin/payouts/payout/mark_paid.html", context)

    def _each(self, request, queryset, act, done: str):
        count = 0
        for payout in queryset:
            try:
                act(payout=payout, by=request.user, now=timezone.now())
                count += 1
            except services.PayoutError as error:
                self.message_user(request, f"Payout #{payout.pk}: {error}", messages.ERROR)
        if count:
            self.message_user(request, f"{count} payout(s) {done}.")

    @admin.action(description="Retry failed payouts", permissions=["change"])
    def retry_failed(self, request, queryset):
        self._each(request, queryset, services.payout_retry, "sent again")

    @admin.action(
        description="Cancel requested payouts (the money goes back to the balance)",
        permissions=["change"],
    )
    def cancel_requested(self, request, queryset):
        self._each(request, queryset, services.payout_cancel, "cancelled")

    @admin.action(
        description="Resolve payouts stuck sending or held: look the transfer up at Stripe",
        permissions=["change"],
    )
    def resolve_at_stripe(self, request, queryset):
        self._each(request, queryset, services.payout_resolve, "resolved from Stripe's answer")

    def report_view(self, request):
        """Gross sales, platform fees, refunds and payouts of a month (UTC), and what the
        coaches' balances hold or lack at its end."""
        now = timezone.now()
        text = request.GET.get("month", "")[:8]
        found = MONTH.match(text) if text else None
        year, month = (int(found[1]), int(found[2])) if found else (now.year, now.month)
        error = ""
        if text and not (found and 2000 <= year <= 2999 and 1 <= month <= 12):
            error = "Ask for a month as YYYY-MM between 2000-01 and 2999-12."
            year, month = now.year, now.month
        start = datetime(year, month, 1, tzinfo=UTC)
        end = (
            start.replace(year=year + 1, month=1) if month == 12 else start.replace(month=month + 1)
        )
        previous = (
            start.replace(year=year - 1, month=12) if month == 1 else start.replace(month=month - 1)
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Platform report, {start:%B %Y} (UTC)",
            "opts": self.model._meta,
            "report": selectors.platform_month(start=start, end=end),
            "month": start,
            "previous": previous,
            "next": end if end <= now else None,
            "error": error,
            "currency": settings.HSE_CURRENCY,
        }
        return TemplateResponse(request, "admin/payouts/report.html", context)


@admin.register(PayoutAccount)
class PayoutAccountAdmin(admin.ModelAdmin):
    list_display = (
        "coach", "method", "manual_details", "stripe_account_id", "stripe_payouts_enabled",
        "auto_weekly", "balance",
    )  # fmt: skip
    list_filter = ("method", "stripe_payouts_enabled", "auto_weekly")
    search_fields = ("coach__user__email", "coach__user__display_name", "stripe_account_id")
    list_select_related = ("coach__user",)
    readonly_fields = (
        "coach", "method", "manual_details", "stripe_account_id", "stripe_payouts_enabled",
        "stripe_details_submitted", "onboarding_started_at", "onboarding_reminded_at",
        "auto_weekly",
    )  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(total=Sum("coach__earnings__amount"))

    @admin.display(description="Balance (negative: owed back)", ordering="total")
    def balance(self, account):
        return format_money(account.total or 0, account.coach.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
