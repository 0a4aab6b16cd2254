from datetime import datetime, timedelta
from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from coaching.models import CoachProfile, Skill
from hse.bounds import small_int
from hse.forms import errors_text
from hse.http import back_to_panel, card_tag, from_panel, redirect_htmx
from ledger.models import Credit
from payments import services as payments
from payments import stripe_gateway
from payments.models import Order
from requests_app import selectors, services
from requests_app import series as series_plan
from requests_app.forms import (
    AdjustForm,
    ClientProposeForm,
    CoachProposeForm,
    LocalTimeField,
    RescheduleForm,
    SeriesForm,
)
from sessions_app.models import Session


def _request_or_404(request, request_id: int):
    found = selectors.request_for_user_or_none(user=request.user, request_id=request_id)
    if found is None:
        raise Http404("No such request.")
    return found


def _after_action(request, session_request, *, redirect_to: str | None = None):
    """Back to where the action came from: the pending-actions panel (htmx follows the
    redirect in place, and the panel comes back with the header's count swapped out of
    band) or the request's page."""
    if from_panel(request):
        return back_to_panel()
    return redirect_htmx(
        request, redirect_to or reverse("requests:detail", args=[session_request.pk])
    )


@login_required
def propose(request):
    user, now, zone = request.user, timezone.now(), request.viewer_zone
    params = request.POST if request.method == "POST" else request.GET
    target = None
    if (session_id := small_int(params.get("session"), digits=18)) is not None:
        target = (
            Session.objects.for_user(user)
            .filter(pk=session_id, status=Session.Status.SCHEDULED)
            .select_related("coach__user", "client", "skill")
            .first()
        )
        if target is None:
            raise Http404("No such session.")
        form = RescheduleForm(
            request.POST or None, zone=zone, initial={"duration": target.duration_minutes}
        )
    elif user.is_client:
        form = ClientProposeForm(
            request.POST or None,
            credit_kinds=selectors.credit_kinds(client=user),
            zone=zone,
            initial={"kind": params.get("kind")},
        )
    else:
        coach = CoachProfile.objects.filter(user=user).first()
        if coach is None:
            raise Http404("Complete your coach profile first.")
        clients = [(str(c.pk), c.display_name) for c in services.clients_of_coach(coach=coach)]
        skills = [(str(s.pk), s.name) for s in coach.skills.all()]
        form = CoachProposeForm(
            request.POST or None, clients=clients, skills=skills, zone=zone,
            initial={"client": params.get("client")},
        )  # fmt: skip

    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = _propose(user, target, data, now)
        except services.RequestError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Your proposal was sent.")
            return redirect("requests:detail", request_id=created.pk)
    return render(request, "requests_app/propose.html", {"form": form, "target": target})


def _propose(user, target, data, now):
    if target is not None:
        return services.request_propose(
            by=user, coach=target.coach, client=target.client, starts_at=data["start"],
            now=now, target_session=target, duration_minutes=data.get("duration") or None,
        )  # fmt: skip
    if user.is_client:
        coach_id, skill_id, duration = (int(part) for part in data["kind"].split(":"))
        coach = CoachProfile.objects.filter(pk=coach_id).first()
        skill = Skill.objects.filter(pk=skill_id).first()
        if coach is None or skill is None:
            raise services.RequestError("Choose one of your sessions.")
        return services.request_propose(
            by=user, coach=coach, client=user, skill=skill, duration_minutes=duration,
            starts_at=data["start"], now=now,
        )  # fmt: skip
    coach = CoachProfile.objects.get(user=user)
    client = services.clients_of_coach(coach=coach).filter(pk=int(data["client"])).first()
    skill = coach.skills.filter(pk=int(data["skill"])).first()
    if client is None or skill is None:
        raise services.RequestError("Choose one of your clients and one of your skills.")
    return services.request_propose(
        by=user, coach=coach, client=client, skill=skill, duration_minutes=data["duration"],
        starts_at=data["start"], now=now,
    )  # fmt: skip


def needs_payment(session_request) -> bool:
    """Accepting this would start a checkout: a coach's new-session request to a client
    without a matching free credit."""
    if session_request.is_reschedule or session_request.credit_id or session_request.is_series:
        return False
    known = getattr(session_request, "client_has_free_credit", None)  # lists annotate it
    if known is not None:
        return not known
    return not Credit.objects.filter(
        client=session_request.client,
        coach=session_request.coach,
        skill=session_request.skill,
        duration_minutes=session_request.duration_minutes,
        status=Credit.Status.AVAILABLE,
    ).exists()


def _paid_minutes(session_request) -> int | None:
    """The length paid for (the target session's), when a reschedule changes it."""
    target = session_request.target_session if session_request.is_reschedule else None
    if target is not None and target.duration_minutes != session_request.duration_minutes:
        return target.duration_minutes
    return None


def request_context(request, session_request) -> dict:
    now = timezone.now()
    status = session_request.effective_status(now)
    is_open = status == session_request.Status.PENDING
    receiver = session_request.receiver_id() == request.user.pk
    pays = is_open and receiver and needs_payment(session_request)
    client_must_pay = pays and request.user.pk != session_request.client_id
    return {
        "req": session_request,
        "status": status,
        "status_label": session_request.Status(status).label,
        "is_open": is_open,
        "can_answer": is_open and receiver,
        "client_must_pay": client_must_pay,
        "can_cancel": is_open and session_request.proposed_by_id == request.user.pk,
        "needs_payment": pays and not client_must_pay,
        # A new length exchanges the paid credit on acceptance; a series keeps its own.
        "fixed_length": session_request.is_series,
        "paid_minutes": _paid_minutes(session_request),
        "other": session_request.client
        if session_request.coach.user_id == request.user.pk
        else session_request.coach.user,
    }


@login_required
@require_GET
def detail(request, request_id: int):
    session_request = _request_or_404(request, request_id)
    context = {
        "req": session_request,
        "view_item": request_context(request, session_request),
        "proposals": session_request.proposals.select_related("proposed_by"),
    }
    return render(request, "requests_app/detail.html", context)


def _act(request, request_id: int, action):
    session_request = _request_or_404(request, request_id)
    try:
        result = action(session_request)
    except services.RequestError as error:
        messages.error(request, str(error), extra_tags=card_tag("request", session_request.pk))
        return _after_action(request, session_request)
    return result


@login_required
@require_POST
def accept(request, request_id: int):
    method = request.POST.get("method", Order.Method.STRIPE)
    if method not in Order.Method.values:
        method = Order.Method.STRIPE

    def action(session_request):
        now = timezone.now()
        accepted = services.request_accept(
            request=session_request, by=request.user, now=now, method=method
        )
        if accepted.order is None:
            messages.success(request, "Accepted. The session is in your calendar.")
            return _after_action(request, accepted)
        return _pay(request, accepted, now)

    return _act(request, request_id, action)


def _pay(request, accepted, now):
    """Accepting without a free credit: pay for the single session now."""
    order = accepted.order
    if order.method == Order.Method.WALLET:
        # Paid from the wallet inside the acceptance (a short wallet refused both).
        messages.success(request, "Accepted and paid from your wallet.")
        return _after_action(
            request, accepted, redirect_to=reverse("payments:order_detail", args=[order.pk])
        )
    try:
        url = payments.order_checkout_url(order=order)
    except stripe_gateway.PaymentsUnavailable as error:
        messages.error(request, str(error), extra_tags=card_tag("request", accepted.pk))
        return _after_action(request, accepted)
    return redirect_htmx(request, url)


@login_required
def reject(request, request_id: int):
    if request.method != "POST":
        # Without JavaScript the confirmation pop-up is this page.
        return render(
            request,
            "requests_app/reject_confirm.html",
            {"req": _request_or_404(request, request_id)},
        )

    def action(session_request):
        services.request_reject(request=session_request, by=request.user, now=timezone.now())
        messages.success(request, "Request rejected.")
        return _after_action(request, session_request)

    return _act(request, request_id, action)


@login_required
@require_POST
def cancel(request, request_id: int):
    def action(session_request):
        services.request_cancel(request=session_request, by=request.user, now=timezone.now())
        messages.success(request, "Request cancelled.")
        return _after_action(request, session_request)

    return _act(request, request_id, action)


@login_required
@require_POST
def adjust(request, request_id: int):
    session_request = _request_or_404(request, request_id)
    form = AdjustForm(request.POST, zone=request.viewer_zone)
    if not form.is_valid():
        messages.error(
            request, errors_text(form), extra_tags=card_tag("request", session_request.pk)
        )
        return _after_action(request, session_request)

    def action(session_request):
        services.request_adjust(
            request=session_request, by=request.user, starts_at=form.cleaned_data["start"],
            duration_minutes=form.cleaned_data.get("duration") or None, now=timezone.now(),
        )  # fmt: skip
        messages.success(request, "Your new time was sent.")
        return _after_action(request, session_request)

    return _act(request, request_id, action)


# --- Weekly series ---------------------------------------------------------------------------


def _series_credit_or_404(request, credit_id: int) -> Credit:
    credit = (
        Credit.objects.filter(pk=credit_id, client=request.user, status=Credit.Status.AVAILABLE)
        .select_related("coach__user", "skill")
        .first()
    )
    if credit is None:
        raise Http404("No such sessions to schedule.")
    return credit


def _replacements(request, occurrences, zone) -> tuple[dict[int, datetime], list[str]]:
    """The times the client picked instead of conflicting ones (``instead_<position>``, on
    their clock); a malformed one is named and left out."""
    field, picked, problems = LocalTimeField(zone=zone, required=False), {}, []
    for occurrence in occurrences:
        text = request.POST.get(f"instead_{occurrence.position}", "")
        if not text.strip():
            continue
        try:
            value = field.clean(text)
        except ValidationError as error:
            problems.append(f"Time {occurrence.position}: {' '.join(error.messages)}")
            continue
        if value is not None:
            picked[occurrence.position] = value
    return picked, problems


@login_required
def series_new(request, credit_id: int):
    """Set up a weekly series from a package: times, a plan with its conflicts, the client's
    choice (all, only the free ones, other times for the conflicting ones), then one request."""
    credit = _series_credit_or_404(request, credit_id)
    now, user = timezone.now(), request.user
    available = Credit.objects.filter(
        client=user, coach=credit.coach, skill=credit.skill,
        duration_minutes=credit.duration_minutes, status=Credit.Status.AVAILABLE,
    ).count()  # fmt: skip
    today = now.astimezone(request.viewer_zone).date()
    form = SeriesForm(
        request.POST or None,
        available=available,
        initial={"first_day": today + timedelta(days=2), "count": available},
    )
    occurrences, problems, error = [], [], ""
    action = request.POST.get("action", "check")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        occurrences = series_plan.plan(
            coach=credit.coach, client=user, duration_minutes=credit.duration_minutes,
            times=data["times"], first_day=data["first_day"], count=data["count"], now=now,
        )  # fmt: skip
        picked, problems = _replacements(request, occurrences, request.viewer_zone)
        if picked:
            occurrences = series_plan.plan(
                coach=credit.coach, client=user, duration_minutes=credit.duration_minutes,
                times=data["times"], first_day=data["first_day"], count=data["count"],
                now=now, replacements=picked,
            )  # fmt: skip
        for occurrence in occurrences:  # what the client typed is shown back to them
            occurrence.instead = request.POST.get(f"instead_{occurrence.position}", "")[:16]
        conflicts = [o for o in occurrences if o.conflict]
        free = [o.starts_at for o in occurrences if not o.conflict]
        if action in ("send", "send_free") and not problems:
            if action == "send" and conflicts:
                error = (
                    f"{len(conflicts)} of these times cannot be booked. Choose: request only "
                    "the free ones, or pick another time for each."
                )
            elif not free:
                error = "None of these times is free. Pick other times."
            else:
                try:
                    created = services.series_propose(by=user, credit=credit, starts=free, now=now)
                except services.RequestError as failure:
                    error = str(failure)
                else:
                    messages.success(
                        request,
                        f"Your weekly series of {len(free)} sessions was sent to "
                        f"{credit.coach.user.display_name}.",
                    )
                    return redirect("requests:detail", request_id=created.pk)
    context = {
        "credit": credit,
        "available": available,
        "form": form,
        "occurrences": occurrences,
        "conflicts": [o for o in occurrences if o.conflict],
        "free_count": sum(1 for o in occurrences if not o.conflict),
        "problems": problems,
        "error": error,
        "coach_user": credit.coach.user,
        # The series keeps the wall time of the coach's profile zone: its times are shown
        # on that clock.
        "coach_clock": SimpleNamespace(
            zone=credit.coach.zone, display_name=credit.coach.user.display_name
        ),
    }
    refused = bool(error or problems or (request.method == "POST" and not form.is_valid()))
    return render(
        request,
        "requests_app/series.html",
        context,
        status=409 if error else (400 if refused else 200),
    )


@login_required
def series_cancel_rest(request, session_id: int):
    """Cancel this session and the later ones of its weekly series (a confirmation page
    without JavaScript; the session page asks in a dialog)."""
    session = (
        Session.objects.for_user(request.user)
        .filter(pk=session_id, series_occurrences__isnull=False)
        .select_related("coach__user", "client", "skill")
        .first()
    )
    if session is None:
        raise Http404("No such session in a weekly series.")
    if request.method != "POST":
        return render(request, "requests_app/series_cancel.html", {"session": session})
    try:
        cancelled = services.series_cancel_from(
            session=session, by=request.user, now=timezone.now()
        )
    except services.RequestError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Cancelled {len(cancelled)} sessions of the series.")
    return redirect("sessions:detail", session_id=session.pk)


@login_required
def series_move_rest(request, session_id: int):
    """New times for this session and the later ones of its weekly series: the first on the
    viewer's clock, the others shifted alike on the coach's; the plan with its conflicts,
    then one request the other person accepts or declines as one."""
    now = timezone.now()
    session = (
        Session.objects.for_user(request.user)
        .filter(pk=session_id, series_occurrences__isnull=False)
        .select_related("coach__user", "client", "skill")
        .first()
    )
    if session is None:
        raise Http404("No such session in a weekly series.")
    sessions = services.series_later_sessions(session=session, user=request.user, now=now)
    if not sessions or sessions[0].pk != session.pk:
        messages.error(request, "Only upcoming sessions of a weekly series can be moved.")
        return redirect("sessions:detail", session_id=session.pk)
    form = RescheduleForm(request.POST or None, zone=request.viewer_zone)
    del form.fields["duration"]  # a series keeps its length
    occurrences, error = [], ""
    if request.method == "POST" and form.is_valid():
        occurrences = series_plan.check(
            coach=session.coach, client=session.client, now=now,
            duration_minutes=session.duration_minutes, moving=[s.pk for s in sessions],
            occurrences=series_plan.moved(
                starts=[s.starts_at for s in sessions], to=form.cleaned_data["start"],
                durations=[s.duration_minutes for s in sessions], coach_zone=session.coach.zone,
                client_zone=session.client.zone,
            ),
        )  # fmt: skip
        for occurrence, old in zip(occurrences, sessions, strict=True):
            occurrence.old = old
        if request.POST.get("action") == "send":
            try:
                created = services.series_move_propose(
                    by=request.user, session=session, starts_at=form.cleaned_data["start"],
                    now=now,
                )  # fmt: skip
            except services.RequestError as failure:
                error = str(failure)
            else:
                messages.success(request, f"New times for {len(sessions)} sessions were sent.")
                return redirect("requests:detail", request_id=created.pk)
    is_coach = session.coach.user_id == request.user.pk
    context = {
        "session": session,
        "sessions": sessions,
        "form": form,
        "occurrences": occurrences,
        "conflicts": [o for o in occurrences if o.conflict],
        "error": error,
        "other": session.client if is_coach else session.coach.user,
        "coach_clock": SimpleNamespace(
            zone=session.coach.zone, display_name=session.coach.user.display_name
        ),
    }
    refused = request.method == "POST" and not form.is_valid()
    return render(
        request,
        "requests_app/series_move.html",
        context,
        status=409 if error else (400 if refused else 200),
    )
