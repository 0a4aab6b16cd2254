from django.contrib import admin

from coaching.models import (
    AvailabilityWindow,
    BusyCalendar,
    BusyTime,
    CoachProfile,
    Skill,
    TimeOff,
)


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name",)


class AvailabilityWindowInline(admin.TabularInline):
    model = AvailabilityWindow
    extra = 0


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    extra = 0


@admin.register(CoachProfile)
class CoachProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "headline", "hourly_price", "currency", "time_zone", "is_listed")
    list_filter = ("is_listed", "skills", "time_zone")
    search_fields = ("user__display_name", "user__email", "headline")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    filter_horizontal = ("skills",)
    inlines = [AvailabilityWindowInline, TimeOffInline]


class BusyTimeInline(admin.TabularInline):
    """What the last good read of the calendar said; written only by the sweep."""

    model = BusyTime
    extra = 0
    fields = ("starts_at", "ends_at")
    readonly_fields = fields
    can_delete = False
    max_num = 0  # nothing added by hand


@admin.register(BusyCalendar)
class BusyCalendarAdmin(admin.ModelAdmin):
    """Coaches' external calendars: whether they are read, and why not. The address is the
    coach's secret, so only its host is shown."""

    list_display = ("coach", "short_url", "fetched_at", "checked_at", "error")
    list_filter = (("error", admin.EmptyFieldListFilter),)
    search_fields = ("coach__user__display_name", "coach__user__email")
    list_select_related = ("coach__user",)
    fields = ("coach", "short_url", "created_at", "checked_at", "fetched_at", "error")
    readonly_fields = fields
    inlines = [BusyTimeInline]

    def has_add_permission(self, request):
        return False

    @admin.display(description="address")
    def short_url(self, calendar):
        return calendar.short_url
