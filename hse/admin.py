from django.contrib import admin

from hse.models import QueuedEmail, QueuedNotice


class _OutboxAdmin(admin.ModelAdmin):
    """Read-only: outbox rows are written by the code that tells and by the worker."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(QueuedEmail)
class QueuedEmailAdmin(_OutboxAdmin):
    """What was sent to whom and when, and what is still waiting."""

    list_display = ("subject", "to", "template", "created_at", "sent_at", "attempts")
    list_filter = ("template", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("to__email", "subject")
    list_select_related = ("to",)


@admin.register(QueuedNotice)
class QueuedNoticeAdmin(_OutboxAdmin):
    """A sweep's batches of notices and when the worker wrote their emails."""

    list_display = ("notifier", "created_at", "expanded_at", "attempts")
    list_filter = ("notifier", ("expanded_at", admin.EmptyFieldListFilter))
