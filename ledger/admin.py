from django.contrib import admin

from ledger.models import Credit, CreditEvent, EarningEntry, WalletEntry


class _ReadOnly(admin.ModelAdmin):
    """The ledger is changed only through its services: admins read it here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CreditEventInline(admin.TabularInline):
    model = CreditEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "by", "from_status", "to_status", "action", "why")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Credit)
class CreditAdmin(_ReadOnly):
    list_display = (
        "pk", "client", "coach", "skill", "duration_minutes", "price_paid", "status", "expires_at",
    )  # fmt: skip
    list_filter = ("status",)
    search_fields = ("client__email", "coach__user__display_name")
    list_select_related = ("client", "coach__user", "skill")
    inlines = [CreditEventInline]


@admin.register(WalletEntry)
class WalletEntryAdmin(_ReadOnly):
    list_display = ("created_at", "user", "reason", "amount", "balance_after", "currency", "note")
    list_filter = ("reason",)
    search_fields = ("user__email", "idempotency_key")
    list_select_related = ("user",)


@admin.register(EarningEntry)
class EarningEntryAdmin(_ReadOnly):
    list_display = ("created_at", "coach", "kind", "gross", "fee", "amount", "currency", "why")
    list_filter = ("kind",)
    search_fields = ("coach__user__email", "coach__user__display_name")
    list_select_related = ("coach__user",)
