from django.contrib import admin

from sessions_app.models import PreSessionSurvey, Session, SessionEvent


class SessionEventInline(admin.TabularInline):
    model = SessionEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "by", "from_status", "to_status", "why")


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("pk", "starts_at", "coach", "client", "skill", "duration_minutes", "status")
    list_filter = ("status",)
    search_fields = ("client__email", "client__display_name", "coach__user__display_name")
    list_select_related = ("coach__user", "client", "skill")
    raw_id_fields = ("coach", "client", "credit")
    inlines = [SessionEventInline]


@admin.register(PreSessionSurvey)
class PreSessionSurveyAdmin(admin.ModelAdmin):
    list_display = ("session", "answered_at")
