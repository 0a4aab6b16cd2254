from django.contrib import admin

from payments.models import Credit, Order, Refund, StripeEvent, TopUp, WalletEntry


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 0
    can_delete = False
    fields = ("skill", "duration_minutes", "price_paid", "currency", "status")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "client",
        "coach",
        "skill",
        "quantity",
        "total_price",
        "method",
        "status",
        "created_at",
    )
    list_filter = ("status", "method")
    search_fields = (
        "client__email",
        "client__display_name",
        "coach__user__display_name",
        "stripe_checkout_id",
    )
    list_select_related = ("client", "coach__user", "skill")
    readonly_fields = [f.name for f in Order._meta.fields]
    inlines = [CreditInline]

    def has_add_permission(self, request):
        return False


@admin.register(Credit)
class CreditAdmin(admin.ModelAdmin):
    list_display = ("pk", "client", "coach", "skill", "duration_minutes", "price_paid", "status")
    list_filter = ("status",)
    search_fields = ("client__email", "coach__user__display_name")
    list_select_related = ("client", "coach__user", "skill")
    readonly_fields = [f.name for f in Credit._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WalletEntry)
class WalletEntryAdmin(admin.ModelAdmin):
    """Read-only: the ledger is changed only by adding entries through the services."""

    list_display = ("created_at", "user", "reason", "amount", "balance_after", "currency", "note")
    list_filter = ("reason",)
    search_fields = ("user__email", "idempotency_key")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TopUp)
class TopUpAdmin(admin.ModelAdmin):
    list_display = ("pk", "user", "amount", "status", "created_at", "paid_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in TopUp._meta.fields]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ("pk", "credit", "kind", "amount", "stripe_status", "created_at", "by")
    readonly_fields = [f.name for f in Refund._meta.fields]


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "type", "received_at")
    search_fields = ("event_id",)
    readonly_fields = ("event_id", "type", "received_at")
