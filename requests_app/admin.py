from django.contrib import admin

from requests_app.models import RequestEvent, SessionRequest


class RequestEventInline(admin.TabularInline):
    model = RequestEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "by", "from_status", "to_status", "action", "why")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SessionRequest)
class SessionRequestAdmin(admin.ModelAdmin):
    """Every proposal with its history. Read-only: a request moves only through its
    services (accept, reject, adjust, cancel, the expiry sweep), which hold its credit and
    tell both people; an admin who must act does so as one of them, or on the session."""

    list_display = (
        "pk", "starts_at", "client", "coach", "skill", "duration_minutes", "status",
        "proposed_by", "deadline",
    )  # fmt: skip
    list_filter = ("status",)
    search_fields = (
        "client__email", "client__display_name", "coach__user__email",
        "coach__user__display_name",
    )  # fmt: skip
    list_select_related = ("client", "coach__user", "skill", "proposed_by")
    date_hierarchy = "starts_at"
    readonly_fields = [field.name for field in SessionRequest._meta.fields]
    inlines = [RequestEventInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
