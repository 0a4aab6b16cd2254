from datetime import date, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.timezones import zone_label
from coaching.selectors import bookable_days
from payments.models import Credit
from sessions_app import selectors, services
from sessions_app.forms import ScheduleForm, SurveyForm


@login_required
@require_GET
def session_list(request):
    now = timezone.now()
    context = {
        "upcoming": selectors.sessions_upcoming(user=request.user, now=now),
        "credit_groups": selectors.credits_to_schedule(user=request.user)
        if request.user.is_client
        else [],
        "now": now,
    }
    return render(request, "sessions_app/session_list.html", context)


def _session_or_404(request, session_id: int):
    session = selectors.session_for_user_or_none(user=request.user, session_id=session_id)
    if session is None:
        raise Http404("No such session.")
    return session


@login_required
@require_GET
def session_detail(request, session_id: int):
    from sessions_app.lifecycle import phase, room_opens_at

    session = _session_or_404(request, session_id)
    now = timezone.now()
    context = {
        "session": session,
        "survey": getattr(session, "survey", None),
        "report": getattr(session, "report", None),
        "is_coach": session.coach.user_id == request.user.pk,
        "phase": phase(session, now),
        "opens_at": room_opens_at(session),
        "attendance": session.attendance.select_related("user"),
        "now": now,
    }
    return render(request, "sessions_app/session_detail.html", context)


@login_required
@require_GET
def past(request):
    now = timezone.now()
    context = {"past": selectors.sessions_past(user=request.user, now=now), "now": now}
    return render(request, "sessions_app/past.html", context)


@login_required
def survey(request, session_id: int):
    session = _session_or_404(request, session_id)
    if session.client_id != request.user.pk:
        raise Http404("Only the client answers the survey.")
    existing = getattr(session, "survey", None)
    initial = {"goals": existing.goals, "challenges": existing.challenges} if existing else None
    form = SurveyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.survey_answer(
                session=session, by=request.user, now=timezone.now(), **form.cleaned_data
            )
        except services.BookingError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, "Thank you. Your coach will read your answers before the session."
            )
            return redirect("sessions:detail", session_id=session.pk)
    return render(request, "sessions_app/survey.html", {"session": session, "form": form})


def _credit_or_404(request, credit_id: int) -> Credit:
    credit = (
        Credit.objects.filter(pk=credit_id, client=request.user, status=Credit.Status.AVAILABLE)
        .select_related("coach__user", "skill")
        .first()
    )
    if credit is None:
        raise Http404("No such credit to schedule.")
    return credit


@login_required
def schedule(request, credit_id: int):
    credit = _credit_or_404(request, credit_id)
    error = ""
    now = timezone.now()
    if request.method == "POST":
        form = ScheduleForm(request.POST)
        if form.is_valid():
            try:
                session = services.session_schedule_from_credit(
                    credit=credit, starts_at=form.cleaned_data["start"], by=request.user, now=now
                )
            except services.BookingError as failure:
                error = str(failure)
            else:
                messages.success(request, "Scheduled. Tell your coach what you want to work on.")
                return redirect("sessions:survey", session_id=session.pk)
        else:
            error = "Pick one of the times below."
    context = {
        "credit": credit,
        "slot_days": bookable_days(
            coach=credit.coach,
            client=request.user,
            duration_minutes=credit.duration_minutes,
            zone=request.viewer_zone,
            now=now,
        ),
        "error": error,
        "zone_label": zone_label(request.viewer_zone_name, now),
    }
    return render(request, "sessions_app/schedule.html", context, status=409 if error else 200)


def _pending_context(request) -> dict:
    from requests_app.views import request_context

    now = timezone.now()
    actions = selectors.pending_actions(user=request.user, now=now)
    request.pending_actions = actions  # the header's count is their number: no second query
    return {
        "actions": actions,
        "request_items": [request_context(request, item) for item in actions.requests],
    }


def pending_panel(request):
    """The Pending Actions sidebar, with the header's count swapped out of band."""
    return render(request, "sessions_app/pending.html#panel", _pending_context(request))


@login_required
@require_GET
def pending(request):
    if request.htmx:
        return pending_panel(request)
    return render(request, "sessions_app/pending.html", _pending_context(request))


@login_required
@require_GET
def calendar(request):
    """Week or month of sessions and requests, in the viewer's zone."""
    zone = request.viewer_zone
    now = timezone.now()
    view = "month" if request.GET.get("view") == "month" else "week"
    today = now.astimezone(zone).date()
    try:
        anchor = (
            date.fromisoformat(request.GET.get("date", "")) if request.GET.get("date") else today
        )
    except ValueError:
        messages.error(request, "That date is not valid; showing today.")
        anchor = today
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=7)
        previous, following = first - timedelta(days=7), last
    else:
        month_start = anchor.replace(day=1)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        first = month_start - timedelta(days=month_start.weekday())
        last = next_month + timedelta(days=(7 - next_month.weekday()) % 7)
        previous = (month_start - timedelta(days=1)).replace(day=1)
        following = next_month
    start = local_midnight(first, zone)
    end = local_midnight(last, zone)
    items = selectors.calendar_items(user=request.user, start=start, end=end, now=now)
    by_day: dict[date, list] = {}
    for item in items:
        by_day.setdefault(item.starts_at.astimezone(zone).date(), []).append(item)
    days = [
        (first + timedelta(days=n), by_day.get(first + timedelta(days=n), []))
        for n in range((last - first).days)
    ]
    context = {
        "view": view,
        "days": days,
        "weeks": [days[i : i + 7] for i in range(0, len(days), 7)],
        "anchor": anchor,
        "month_start": anchor.replace(day=1),
        "today": today,
        "previous": previous,
        "following": following,
        "title": _calendar_title(view, first, last, anchor),
    }
    template = "sessions_app/calendar.html"
    if request.htmx and request.htmx.target == "calendar":
        template += "#calendar"
    return render(request, template, context)


def _calendar_title(view: str, first: date, last: date, anchor: date) -> str:
    if view == "month":
        return anchor.strftime("%B %Y")
    end = last - timedelta(days=1)
    if first.month == end.month:
        return f"{first.day}–{end.day} {end.strftime('%B %Y')}"
    return f"{first.strftime('%-d %b')} – {end.strftime('%-d %b %Y')}"


def local_midnight(day: date, zone):
    from coaching.availability import boundary_instant

    return boundary_instant(day, 0, zone)


@login_required
@require_GET
def dashboard(request):
    """The coach's desk: what is coming, what to answer, what was earned."""
    from coaching.models import CoachProfile
    from requests_app.selectors import requests_awaiting

    coach = CoachProfile.objects.filter(user=request.user).first()
    if coach is None:
        raise Http404("Only coaches have a dashboard.")
    now = timezone.now()
    earnings = selectors.coach_earnings(coach=coach, zone=request.viewer_zone)
    context = {
        "coach": coach,
        "upcoming": selectors.sessions_upcoming(user=request.user, now=now)[:8],
        "awaiting": requests_awaiting(user=request.user, now=now)[:8],
        "earnings": earnings,
        "total_net": sum(month.net for month in earnings),
        "fee": settings.HSE_PLATFORM_FEE_PERCENT,
    }
    return render(request, "sessions_app/dashboard.html", context)
