from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from coaching.selectors import bookable_days
from hse.forms import errors_text
from hse.http import back_to_panel, card_tag, from_panel
from ledger.models import Credit
from sessions_app import booking, selectors, services
from sessions_app.forms import ScheduleForm, SurveyForm
from sessions_app.lifecycle import (
    can_rate,
    confirmation_closes_at,
    phase,
    rating_closes_at,
    room_opens_at,
)


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
    session = _session_or_404(request, session_id)
    now = timezone.now()
    is_coach = session.coach.user_id == request.user.pk
    context = {
        "session": session,
        "survey": getattr(session, "survey", None),
        "report": getattr(session, "report", None),
        "is_coach": is_coach,
        "other": session.client if is_coach else session.coach.user,
        "phase": phase(session, now),
        "opens_at": room_opens_at(session),
        "confirm_by": confirmation_closes_at(session),
        "attendance": session.attendance.select_related("user"),
        "now": now,
        "can_rate": can_rate(session, now),
        "rating_closes_at": rating_closes_at(session),
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
    if request.method == "GET" and session.status != session.Status.SCHEDULED:
        messages.info(request, f"This session is {session.get_status_display().lower()}: "
                      "there is no survey to answer.")  # fmt: skip
        return redirect("sessions:detail", session_id=session.pk)
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
            if from_panel(request):
                return back_to_panel()
            return redirect("sessions:detail", session_id=session.pk)
    if request.method == "POST" and from_panel(request):
        return refused_in_panel(request, form, card_tag("surveys", session.pk))
    return render(request, "sessions_app/survey.html", {"session": session, "form": form})


def refused_in_panel(request, form, tag: str):
    """The pending-actions panel again, with why the form was refused on its card."""
    messages.error(request, errors_text(form), extra_tags=tag)
    return back_to_panel()


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
                session = booking.session_schedule_from_credit(
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
    }
    return render(request, "sessions_app/schedule.html", context, status=409 if error else 200)
