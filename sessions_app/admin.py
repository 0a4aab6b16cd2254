from django.contrib import admin

from sessions_app.models import (
    Attendance,
    CoachIncident,
    PreSessionSurvey,
    Session,
    SessionEvent,
)


class SessionEventInline(admin.TabularInline):
    model = SessionEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "by", "from_status", "to_status", "action", "why")

    def has_add_permission(self, request, obj=None):
        return False


class AttendanceInline(admin.TabularInline):
    model = Attendance
    extra = 0
    can_delete = False
    readonly_fields = ("at", "user", "kind")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("pk", "starts_at", "coach", "client", "skill", "duration_minutes", "status")
    list_filter = ("status",)
    search_fields = ("client__email", "client__display_name", "coach__user__display_name")
    list_select_related = ("coach__user", "client", "skill")
    raw_id_fields = ("coach", "client", "credit")
    # A session's state, times and credit change only through the services (their rules,
    # the ledger, the emails); a report on it is decided on the report's page.
    readonly_fields = (
        "coach", "client", "skill", "duration_minutes", "starts_at", "ends_at", "status",
        "hold_expires_at", "started_at", "ended_at", "closed_at", "credit",
    )  # fmt: skip
    inlines = [AttendanceInline, SessionEventInline]

    def has_add_permission(self, request):
        return False


@admin.register(PreSessionSurvey)
class PreSessionSurveyAdmin(admin.ModelAdmin):
    list_display = ("session", "answered_at")


@admin.register(CoachIncident)
class CoachIncidentAdmin(admin.ModelAdmin):
    """Coaches' late cancellations and absences: written by the services, read here."""

    list_display = ("at", "coach", "kind", "session", "note")
    list_filter = ("kind", "at", ("coach", admin.RelatedOnlyFieldListFilter))
    search_fields = ("coach__user__email", "coach__user__display_name")
    list_select_related = ("coach__user", "session")
    readonly_fields = ("coach", "session", "kind", "at", "note")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
