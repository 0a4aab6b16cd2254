from django.contrib import admin

from coaching.models import AvailabilityWindow, CoachProfile, Skill, TimeOff


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
