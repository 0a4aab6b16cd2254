from django.contrib import messages
from django.contrib.auth.decorators import login_required
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
from requests_app.forms import AdjustForm, ClientProposeForm, CoachProposeForm, RescheduleForm
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
        form = RescheduleForm(request.POST or None, zone=zone)
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
            now=now, target_session=target,
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
    if session_request.is_reschedule or session_request.credit_id:
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
        "fixed_length": bool(session_request.credit_id or session_request.is_reschedule),
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
