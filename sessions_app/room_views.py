"""The session page's lobby and room, confirm and report: one view per intent."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from hse.bounds import small_int
from hse.http import back_to_panel, card_tag, from_panel, redirect_htmx
from sessions_app import services
from sessions_app.forms import ConfirmForm, ReportForm
from sessions_app.lifecycle import confirmation_closes_at, phase, room_opens_at
from sessions_app.models import Session
from sessions_app.signalling import last_signal_id
from sessions_app.views import _session_or_404, refused_in_panel


def _room_context(request, session: Session) -> dict:
    now = timezone.now()
    info = phase(session, now)
    is_coach = session.coach.user_id == request.user.pk
    in_call = request.GET.get("call") == "1" and info.status == Session.Status.IN_PROGRESS
    other = session.client if is_coach else session.coach.user
    call_config = None
    if in_call:
        call_config = {
            "role": "coach" if is_coach else "client",
            "me": request.user.pk,
            "signalsUrl": reverse("sessions:signals", args=[session.pk]),
            "lastSignalId": last_signal_id(session=session),
            "iceServers": settings.ICE_SERVERS,
            "otherName": other.display_name,
        }
    return {
        "call_config": call_config,
        "session": session,
        "phase": info,
        "is_coach": is_coach,
        "other": other,
        "opens_at": room_opens_at(session),
        "in_call": in_call,
        "now": now,
    }


LIVE = (Session.Status.SCHEDULED, Session.Status.IN_PROGRESS)


@login_required
@require_GET
def room(request, session_id: int):
    """The lobby (before the coach starts) and the call (after): one page whose state htmx
    polls, so the client sees the coach start and is moved on, by itself, when it ends."""
    session = _session_or_404(request, session_id)
    context = _room_context(request, session)
    status = context["phase"].status
    if status not in LIVE:
        # Over (ended by the coach or the clock): the client confirms or reports.
        ended = status == Session.Status.ENDED and not context["is_coach"]
        target = "sessions:confirm" if ended else "sessions:detail"
        return redirect_htmx(request, reverse(target, args=[session.pk]))
    if request.GET.get("watch") == "1":
        return HttpResponse(status=204)  # the call's watcher: still live, nothing to do
    if request.htmx and request.htmx.target == "room-state":
        return render(request, "sessions_app/room.html#room-state", context)
    if context["phase"].room_open and not context["in_call"]:
        services.session_enter_lobby(session=session, by=request.user, now=context["now"])
    return render(request, "sessions_app/room.html", context)


@login_required
@require_POST
def start(request, session_id: int):
    session = _session_or_404(request, session_id)
    try:
        services.session_start(session=session, by=request.user, now=timezone.now())
        services.session_join(session=session, by=request.user, now=timezone.now())
    except services.BookingError as error:
        messages.error(request, str(error))
        return redirect_htmx(request, reverse("sessions:room", args=[session.pk]))
    return redirect_htmx(request, reverse("sessions:room", args=[session.pk]) + "?call=1")


@login_required
@require_POST
def join(request, session_id: int):
    session = _session_or_404(request, session_id)
    info = phase(session, timezone.now())
    if info.status != Session.Status.IN_PROGRESS:
        messages.error(request, "The coach has not started the session yet.")
        return redirect_htmx(request, reverse("sessions:room", args=[session.pk]))
    services.session_join(session=session, by=request.user, now=timezone.now())
    return redirect_htmx(request, reverse("sessions:room", args=[session.pk]) + "?call=1")


@login_required
@require_POST
def leave(request, session_id: int):
    session = _session_or_404(request, session_id)
    services.session_leave(session=session, by=request.user, now=timezone.now())
    if session.coach.user_id == request.user.pk:
        return redirect_htmx(request, reverse("sessions:room", args=[session.pk]))
    return redirect_htmx(request, reverse("sessions:left", args=[session.pk]))


@login_required
@require_GET
def left(request, session_id: int):
    """After Leave: rejoin, or report what went wrong."""
    session = _session_or_404(request, session_id)
    return render(request, "sessions_app/left.html", _room_context(request, session))


@login_required
@require_POST
def end(request, session_id: int):
    session = _session_or_404(request, session_id)
    try:
        services.session_end(session=session, by=request.user, now=timezone.now())
    except services.BookingError as error:
        messages.error(request, str(error))
        return redirect_htmx(request, reverse("sessions:room", args=[session.pk]))
    messages.success(request, "Session ended. The client is asked to confirm it.")
    return redirect_htmx(request, reverse("sessions:detail", args=[session.pk]))


@login_required
@require_POST
def late(request, session_id: int):
    """The coach's one tap in the lobby: "I'm N minutes late"."""
    session = _session_or_404(request, session_id)
    minutes = small_int(request.POST.get("minutes"), digits=3)
    try:
        services.session_late_notice(
            session=session, by=request.user, minutes=minutes, now=timezone.now()
        )
    except services.BookingError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"{session.client.display_name} is told you are {minutes} minutes late."
        )
    return redirect_htmx(request, reverse("sessions:room", args=[session.pk]))


@login_required
@require_POST
def late_wait(request, session_id: int):
    """The client's "I'll wait": Report moves by the coach's minutes."""
    session = _session_or_404(request, session_id)
    try:
        services.session_late_wait(session=session, by=request.user, now=timezone.now())
    except services.BookingError as error:
        messages.error(request, str(error))
    return redirect_htmx(request, reverse("sessions:room", args=[session.pk]))


def _client_only(request, session: Session) -> None:
    if session.client_id != request.user.pk:
        raise Http404("Only the client confirms or reports a session.")


@login_required
def confirm(request, session_id: int):
    session = _session_or_404(request, session_id)
    _client_only(request, session)
    now = timezone.now()
    info = phase(session, now)
    form = ConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.session_confirm(
                session=session,
                by=request.user,
                now=now,
                rating=form.cleaned_data["rating"],
                comment=form.cleaned_data["comment"],
            )
        except services.BookingError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Thank you! Your session is confirmed.")
            if from_panel(request):
                return back_to_panel()
            return redirect("sessions:detail", session_id=session.pk)
    if request.method == "POST" and from_panel(request):
        return refused_in_panel(request, form, card_tag("to_confirm", session.pk))
    context = {
        "session": session,
        "phase": info,
        "form": form,
        "confirm_by": confirmation_closes_at(session),
    }
    return render(request, "sessions_app/confirm.html", context)


@login_required
def report(request, session_id: int):
    session = _session_or_404(request, session_id)
    _client_only(request, session)
    now = timezone.now()
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.session_report(session=session, by=request.user, now=now, **form.cleaned_data)
        except services.BookingError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Your report was sent. An admin will decide and email you.")
            if from_panel(request):
                return back_to_panel()
            return redirect("sessions:detail", session_id=session.pk)
    if request.method == "POST" and from_panel(request):
        card = request.POST.get("card")
        kind = card if card in ("to_confirm", "coach_late") else "to_confirm"
        return refused_in_panel(request, form, card_tag(kind, session.pk))
    context = {"session": session, "phase": phase(session, now), "form": form}
    return render(request, "sessions_app/report.html", context)


@login_required
@require_POST
def cancel(request, session_id: int):
    session = _session_or_404(request, session_id)
    try:
        services.session_cancel(session=session, by=request.user, now=timezone.now())
    except services.BookingError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "The session is cancelled; both of you were told.")
    return redirect("sessions:detail", session_id=session.pk)
