from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from hse.money import format_money
from sessions_app import services
from sessions_app.models import Attendance, PreSessionSurvey, Report, Session, SessionEvent


class SessionEventInline(admin.TabularInline):
    model = SessionEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "by", "from_status", "to_status", "why")

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
    inlines = [AttendanceInline, SessionEventInline]


@admin.register(PreSessionSurvey)
class PreSessionSurveyAdmin(admin.ModelAdmin):
    list_display = ("session", "answered_at")


DECISIONS = {
    "_refund_wallet": Report.Decision.REFUND_WALLET,
    "_refund_original": Report.Decision.REFUND_ORIGINAL,
    "_return_credit": Report.Decision.RETURN_CREDIT,
    "_decline": Report.Decision.DECLINE,
}


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """The admins' refund desk: open reports first, the evidence on one page, and one
    button per decision. Each decision goes through ``services.report_decide``."""

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
        "people",
        "reason",
        "details",
        "evidence",
        "state",
        "decision",
        "decided_by",
        "decided_at",
        "decision_note",
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
            '<a href="{}">#{}</a> · {} · {} – {} UTC · {} min · paid {}',
            reverse("admin:sessions_app_session_change", args=[session.pk]),
            session.pk,
            session.skill,
            f"{session.starts_at:%Y-%m-%d %H:%M}",
            f"{session.ends_at:%H:%M}",
            session.duration_minutes,
            format_money(session.credit.price_paid, session.credit.currency)
            if session.credit
            else "—",
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

    def response_change(self, request, obj):
        decision = next((DECISIONS[key] for key in DECISIONS if key in request.POST), None)
        if decision is None:
            return super().response_change(request, obj)
        try:
            report = services.report_decide(
                report=obj,
                decision=decision,
                by=request.user,
                note=request.POST.get("decision_note", ""),
                now=timezone.now(),
            )
        except services.BookingError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(
                request, f"Decided: {report.get_decision_display()}. The client was emailed."
            )
        return HttpResponseRedirect(request.path)
