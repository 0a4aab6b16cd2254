"""The admins' money screens: orders and top-ups (with the desk for payments held for
review), refunds (with the failed ones to retry), and the refund desk for reports. Every
decision goes through the services in ``payments.refunds``; nothing here writes a state."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from hse.money import format_money
from ledger.models import Credit
from messaging.selectors import pair_messages_between
from payments import refunds
from payments.models import (
    Order,
    OrderEvent,
    PackageExtension,
    PackageExtensionEvent,
    Refund,
    RefundEvent,
    StripeEvent,
    TopUp,
    TopUpEvent,
)
from payments.services import PaymentError
from sessions_app.models import Report

EVENT_FIELDS = ("at", "by", "from_status", "to_status", "action", "why")


class _EventInline(admin.TabularInline):
    extra = 0
    can_delete = False
    readonly_fields = EVENT_FIELDS
    fields = EVENT_FIELDS

    def has_add_permission(self, request, obj=None):
        return False


class OrderEventInline(_EventInline):
    model = OrderEvent


class TopUpEventInline(_EventInline):
    model = TopUpEvent


class RefundEventInline(_EventInline):
    model = RefundEvent


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 0
    can_delete = False
    fields = ("skill", "duration_minutes", "price_paid", "currency", "status", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class _ReviewDesk(admin.ModelAdmin):
    """A payment Stripe reported with another amount or currency than ours waits here
    (filter "Held for review") until an admin fulfils it at our price or refunds it."""

    actions = ["fulfil_reviewed", "refund_reviewed"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Stripe reported")
    def stripe_reported(self, row):
        if row.stripe_amount is None:
            return "—"
        return format_money(row.stripe_amount, row.stripe_currency or row.currency)

    def _decide(self, request, queryset, decide, done: str):
        for row in queryset.filter(status=self.model.Status.REVIEW):
            try:
                decide(row=row, by=request.user, now=timezone.now())
            except PaymentError as error:
                self.message_user(request, f"{row}: {error}", messages.ERROR)
            else:
                self.message_user(request, f"{row}: {done}")

    @admin.action(description="Fulfil at our price (held for review only)")
    def fulfil_reviewed(self, request, queryset):
        self._decide(request, queryset, refunds.review_fulfil, "fulfilled")

    @admin.action(description="Refund what Stripe took (held for review only)")
    def refund_reviewed(self, request, queryset):
        self._decide(request, queryset, refunds.review_refund, "refund sent to Stripe")


@admin.register(Order)
class OrderAdmin(_ReviewDesk):
    list_display = (
        "pk", "client", "coach", "skill", "quantity", "total", "method", "status",
        "stripe_reported", "created_at",
    )  # fmt: skip
    list_filter = ("status", "method")
    search_fields = (
        "client__email",
        "client__display_name",
        "coach__user__display_name",
        "stripe_checkout_id",
    )
    list_select_related = ("client", "coach__user", "skill")
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [CreditInline, OrderEventInline]

    @admin.display(description="Total", ordering="total_price")
    def total(self, order):
        return format_money(order.total_price, order.currency)


@admin.register(TopUp)
class TopUpAdmin(_ReviewDesk):
    list_display = ("pk", "user", "amount", "status", "stripe_reported", "created_at", "paid_at")
    list_filter = ("status",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    readonly_fields = [f.name for f in TopUp._meta.fields]
    inlines = [TopUpEventInline]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    """Every refund with where it stands. Card refunds that failed (Stripe was down, or
    refused) are owed: filter "Failed" and retry them."""

    list_display = ("pk", "created_at", "whom", "money", "kind", "status", "failure", "by")
    list_filter = ("status", "kind")
    search_fields = ("stripe_refund_id", "credit__client__email", "order__client__email")
    list_select_related = ("credit__client", "order__client", "top_up__user", "by")
    readonly_fields = [f.name for f in Refund._meta.fields]
    inlines = [RefundEventInline]
    actions = ["retry"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Client")
    def whom(self, refund):
        if refund.top_up_id:
            return refund.top_up.user
        return (refund.credit or refund.order).client

    @admin.display(description="Amount", ordering="amount")
    def money(self, refund):
        return format_money(refund.amount, refund.currency)

    @admin.action(description="Retry the failed card refunds")
    def retry(self, request, queryset):
        failed = queryset.filter(status=Refund.Status.FAILED)
        for refund in failed:
            refunds.refund_retry(refund=refund, by=request.user, now=timezone.now())
        self.message_user(
            request, f"{failed.count()} refund(s) sent to Stripe again; the list shows the answer."
        )


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    """Each event Stripe sent, once: written by the webhook only."""

    list_display = ("event_id", "type", "received_at")
    search_fields = ("event_id",)
    readonly_fields = ("event_id", "type", "received_at")

    def has_add_permission(self, request):
        return False


DECISIONS = {
    "_refund_wallet": Report.Decision.REFUND_WALLET,
    "_refund_original": Report.Decision.REFUND_ORIGINAL,
    "_return_credit": Report.Decision.RETURN_CREDIT,
    "_decline": Report.Decision.DECLINE,
}


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """The admins' refund desk: open reports first, the evidence on one page, and one
    button per decision. Each decision goes through ``refunds.report_decide``."""

    change_form_template = "admin/sessions_app/report/change_form.html"
    list_display = ("session_when", "client", "coach", "reason", "state", "created_at")
    list_filter = ("state", "reason")
    search_fields = (
        "session__client__email",
        "session__client__display_name",
        "session__coach__user__email",
        "session__coach__user__display_name",
    )
    list_select_related = ("session__client", "session__coach__user", "session__skill")
    fields = (
        "session_summary",
        "paid",
        "people",
        "reason",
        "details",
        "evidence",
        "messages_evidence",
        "state",
        "decision",
        "decided_by",
        "decided_at",
        "decision_note",
        "history",
    )
    readonly_fields = tuple(name for name in fields if name != "decision_note")

    def get_queryset(self, request):
        open_first = Case(
            When(state=Report.State.OPEN, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return (
            super()
            .get_queryset(request)
            .annotate(open_first=open_first)
            .order_by("open_first", "-created_at")
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Session", ordering="session__starts_at")
    def session_when(self, report):
        return f"{report.session.skill} · {report.session.starts_at:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="Client")
    def client(self, report):
        return report.session.client

    @admin.display(description="Coach")
    def coach(self, report):
        return report.session.coach.user

    @admin.display(description="Session")
    def session_summary(self, report):
        session = report.session
        return format_html(
            '<a href="{}">#{}</a> · {} · {} – {} UTC · {} min',
            reverse("admin:sessions_app_session_change", args=[session.pk]),
            session.pk,
            session.skill,
            f"{session.starts_at:%Y-%m-%d %H:%M}",
            f"{session.ends_at:%H:%M}",
            session.duration_minutes,
        )

    @admin.display(description="Paid")
    def paid(self, report):
        """What "refund to the original payment" would do: the card, or the wallet."""
        credit = report.session.credit
        if credit is None:
            return "Nothing was paid for this session: no money moves, only its state."
        order = credit.order
        how = "by card (Stripe)" if order.method == Order.Method.STRIPE else "from the wallet"
        back = "the card" if order.method == Order.Method.STRIPE else "the wallet"
        return format_html(
            "{} {}, order #{} · “Refund to the original payment” sends it back to {}.",
            format_money(credit.price_paid, credit.currency),
            how,
            order.pk,
            back,
        )

    @admin.display(description="People")
    def people(self, report):
        session = report.session
        return format_html(
            "Client: {} &lt;{}&gt;<br>Coach: {} &lt;{}&gt;",
            session.client.display_name,
            session.client.email,
            session.coach.user.display_name,
            session.coach.user.email,
        )

    @admin.display(description="History")
    def history(self, report):
        # Shown as text, not an inline: the decision buttons post no inline formset.
        return format_html(
            '<ul class="admin-history">{}</ul>',
            format_html_join(
                "",
                "<li>{} UTC · {} → {} · {} ({})</li>",
                (
                    (
                        f"{e.at:%Y-%m-%d %H:%M}",
                        e.from_status or "∅",
                        e.to_status,
                        e.why,
                        e.by or "—",
                    )
                    for e in report.events.select_related("by")
                ),
            ),
        )

    @admin.display(description="Attendance evidence")
    def evidence(self, report):
        rows = report.session.attendance.select_related("user")
        if not rows:
            return "Nothing recorded: nobody entered the lobby."
        return format_html(
            "<table><tr><th>When (UTC)</th><th>What</th><th>Who</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (f"{row.at:%Y-%m-%d %H:%M:%S}", row.get_kind_display(), row.user or "system")
                    for row in rows
                ),
            ),
        )

    @admin.display(description="Messages in the session's window")
    def messages_evidence(self, report):
        """What the pair wrote to each other from when the room opened until the session
        ended by itself (its start less HSE_ROOM_OPENS_MINUTES_BEFORE, its end plus
        HSE_AUTO_END_MINUTES_AFTER), notices included: evidence, shown as written."""
        session = report.session
        start = session.starts_at - timedelta(minutes=settings.HSE_ROOM_OPENS_MINUTES_BEFORE)
        end = session.ends_at + timedelta(minutes=settings.HSE_AUTO_END_MINUTES_AFTER)
        rows = pair_messages_between(
            client_id=session.client_id, coach_id=session.coach_id, start=start, end=end
        )
        window = f"{start:%Y-%m-%d %H:%M} – {end:%H:%M} UTC"
        if not rows:
            return f"None between {window}."
        return format_html(
            "<p>{}</p><table><tr><th>When (UTC)</th><th>Who</th><th>What</th></tr>{}</table>",
            f"Between {window}:",
            format_html_join(
                "",
                '<tr><td>{}</td><td>{}</td><td style="white-space:pre-wrap">{}{}</td></tr>',
                (
                    (
                        f"{row.created_at:%Y-%m-%d %H:%M:%S}",
                        row.sender.display_name,
                        "[notice] " if row.kind == row.Kind.NOTICE else "",
                        row.body,
                    )
                    for row in rows
                ),
            ),
        )

    def response_change(self, request, obj):
        decision = next((DECISIONS[key] for key in DECISIONS if key in request.POST), None)
        if decision is None:
            return super().response_change(request, obj)
        try:
            report = refunds.report_decide(
                report=obj,
                decision=decision,
                by=request.user,
                note=request.POST.get("decision_note", ""),
                now=timezone.now(),
            )
        except PaymentError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(
                request, f"Decided: {report.get_decision_display()}. The client was emailed."
            )
        return HttpResponseRedirect(request.path)


class PackageExtensionEventInline(_EventInline):
    model = PackageExtensionEvent


@admin.register(PackageExtension)
class PackageExtensionAdmin(admin.ModelAdmin):
    """Read-only: the coach answers on the site."""

    list_display = ("pk", "order", "months", "status", "created_at", "decided_at")
    list_filter = ("status",)
    search_fields = ("order__client__email", "order__coach__user__display_name")
    readonly_fields = ("order", "months", "status", "created_at", "decided_at", "new_expires_at")
    inlines = [PackageExtensionEventInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
