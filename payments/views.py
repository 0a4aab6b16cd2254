import logging
import uuid
from datetime import date, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from coaching.selectors import bookable_days, listed_coach_or_none
from hse import clock
from hse.bounds import day_ok, small_int
from hse.http import redirect_htmx
from hse.money import price_for_minutes
from hse.templatetags.hse import utc_iso
from ledger.selectors import wallet_history
from ledger.services import LedgerError, wallet_balance
from payments import packages, selectors, services, stripe_gateway, webhooks
from payments.forms import CheckoutForm, TopUpForm
from payments.models import Order, TopUp
from sessions_app.booking import BookingError, SlotTaken
from sessions_app.forms import SurveyForm

log = logging.getLogger(__name__)


def _coach_or_404(coach_id: int):
    # With its skills: the page, the form's skill and the services' checks all read them.
    coach = listed_coach_or_none(coach_id=coach_id)
    if coach is None:
        raise Http404("No such coach.")
    return coach


def _buy_context(request, coach, *, error: str = "") -> dict:
    """Everything the buy page shows for the choices made so far, all of them in the query
    (skill, duration, quantity, week, start), so a link or a reload shows the same page."""
    now = timezone.now()
    params = request.POST if request.method == "POST" else request.GET
    skills = list(coach.skills.all())
    skill = next((s for s in skills if s.slug == params.get("skill")), None)
    if skill is None and len(skills) == 1:
        skill = skills[0]  # nothing to choose
    # The trial (?trial=1): one session of the trial's length at the coach's trial price.
    trial = str(params.get("trial", "")) == "1" and coach.trial_offered
    trial_used = trial and services.trial_taken(client=request.user, coach=coach)
    if trial_used and not error:
        error = (
            f"You have had your trial session with {coach.user.display_name} already; "
            "book a session instead."
        )
    if trial:
        durations = [(settings.HSE_TRIAL_MINUTES, coach.trial_price)]
    else:
        durations = [
            (minutes, price_for_minutes(hourly=coach.hourly_price, minutes=minutes))
            for minutes in settings.HSE_SESSION_DURATIONS
        ]
    duration = _int_in(params.get("duration"), [m for m, _ in durations])
    if trial:
        duration = settings.HSE_TRIAL_MINUTES
    full_price = dict(durations).get(duration)
    # Each package size at the coach's discount: the price, and what it saves.
    quantities = (
        [
            (
                count,
                f"{count * duration / 60:.2f}".rstrip("0").rstrip("."),
                count * coach.unit_price(minutes=duration, quantity=count),
                count * full_price - count * coach.unit_price(minutes=duration, quantity=count),
                coach.discount_for(count),
            )
            for count in (1, *settings.HSE_PACKAGE_SIZES)
        ]
        if duration and not trial
        else []
    )
    quantity = 1 if trial else _int_in(params.get("quantity"), [1, *settings.HSE_PACKAGE_SIZES])
    unit_price = (
        coach.trial_price
        if trial
        else coach.unit_price(minutes=duration, quantity=quantity)
        if duration and quantity
        else None
    )
    wanted = str(params.get("start", ""))[:25]
    chosen = {
        "trial": "1" if trial else "",
        "skill": skill.slug if skill else "",
        "duration": duration or "",
        "quantity": quantity or "",
        "start": wanted if quantity == 1 else "",
    }

    def link(**changes) -> str:
        query = {**chosen, **changes}
        return "?" + urlencode({key: value for key, value in query.items() if value})

    start, week = None, None
    week_days, previous_week, next_week = [], "", ""
    if skill and duration and quantity == 1:
        slot_days = bookable_days(
            coach=coach, client=request.user, duration_minutes=duration,
            zone=request.viewer_zone, now=now,
        )  # fmt: skip
        start = next((t for _, times in slot_days for t in times if _iso(t) == wanted), None)
        if wanted and start is None and not error:
            error = "That time is not available any more. Please pick another."
        week = _week_shown(
            params.get("week"), start, slot_days, now.astimezone(request.viewer_zone)
        )
        after = week + timedelta(days=7)
        for day, times in slot_days:
            if week <= day < after:
                week_days.append(
                    (day, [(t, link(start=_iso(t), week=week.isoformat())) for t in times])
                )
        if any(day < week for day, _ in slot_days):
            previous_week = link(start="", week=(week - timedelta(days=7)).isoformat())
        if any(day >= after for day, _ in slot_days):
            next_week = link(start="", week=after.isoformat())
    ready = (
        bool(skill and duration)
        and quantity is not None
        and (quantity > 1 or start is not None)
        and not trial_used
    )
    balance = wallet_balance(user=request.user) if ready else None
    return {
        "coach": coach,
        "skills": [(s, link(skill=s.slug)) for s in skills],
        "skill": skill,
        "durations": [(m, price, link(duration=m)) for m, price in durations],
        "duration": duration,
        "quantities": [
            (n, hours, price, link(quantity=n), saving, percent)
            for n, hours, price, saving, percent in quantities
        ],
        "quantity": quantity,
        "trial": trial,
        "discount_percent": coach.discount_for(quantity) if quantity and not trial else 0,
        "saving": (
            quantity * full_price - quantity * unit_price
            if ready and not trial and full_price is not None
            else 0
        ),
        "week": week,
        "week_days": week_days,
        "previous_week": previous_week,
        "next_week": next_week,
        "start": start,
        "start_iso": _iso(start) if start else "",
        "ready": ready,
        "total": unit_price * quantity if ready else None,
        "balance": balance,
        "error": error,
        "test_mode": settings.STRIPE_TEST_MODE,
        "token": uuid.uuid4().hex,
    }


def _week_shown(asked, start, slot_days, today: date) -> date:
    """The Monday of the week the time picker shows: the one asked for, else the chosen
    time's, else the first with open times (else this week)."""
    try:
        day = date.fromisoformat(str(asked)[:10]) if asked else None
    except ValueError:
        day = None
    if day is None or not day_ok(day):
        day = start.date() if start else slot_days[0][0] if slot_days else today
    return day - timedelta(days=day.weekday())


def _int_in(value, allowed) -> int | None:
    number = small_int(value, digits=3)
    return number if number in allowed else None


def _iso(instant) -> str:
    return utc_iso(instant)


def _render_buy(request, context, status: int = 200):
    template = "payments/buy.html"
    if request.htmx and request.htmx.target == "buy-main":
        template += "#buy-main"
    return render(request, template, context, status=status)


@login_required
@require_GET
def buy(request, coach_id: int):
    coach = _coach_or_404(coach_id)
    if not request.user.is_client:
        messages.error(request, "Only client accounts can buy sessions.")
        return redirect("marketplace:coach_detail", coach_id=coach.pk)
    return _render_buy(request, _buy_context(request, coach))


@login_required
@require_POST
def checkout(request, coach_id: int):
    coach = _coach_or_404(coach_id)
    if not request.user.is_client:
        raise Http404("Only clients buy sessions.")
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        error = " ".join(e for errors in form.errors.values() for e in errors)
        return _render_buy(request, _buy_context(request, coach, error=error))
    data = form.cleaned_data
    skill = next((skill for skill in coach.skills.all() if skill.slug == data["skill"]), None)
    if skill is None:
        return _render_buy(request, _buy_context(request, coach, error="Choose a skill first."))
    now = timezone.now()
    try:
        order = services.order_start(
            client=request.user,
            coach=coach,
            skill=skill,
            duration_minutes=data["duration"],
            quantity=data["quantity"],
            method=data["method"],
            starts_at=data["start"] if data["quantity"] == 1 else None,
            now=now,
            token=data["token"] or None,
            trial=data["trial"],
        )
    except SlotTaken as error:
        # Said at once and in few bytes (many may lose one slot at the same moment): back to
        # the same choices, to pick another time from the fresh ones.
        messages.error(request, str(error))
        choices = {"skill": skill.slug, "duration": data["duration"], "quantity": 1}
        return redirect_htmx(
            request, f"{reverse('payments:buy', args=[coach.pk])}?{urlencode(choices)}"
        )
    except (BookingError, services.PaymentError, LedgerError) as error:
        return _render_buy(request, _buy_context(request, coach, error=str(error)))

    # A wallet order is paid by order_start (a short wallet raises above); so is the order an
    # earlier copy of this form made with the wallet. The order's page says what became of it.
    if order.status == Order.Status.PAID or order.method == Order.Method.WALLET:
        return redirect_htmx(request, reverse("payments:order_detail", args=[order.pk]))
    try:
        url = services.order_checkout_url(order=order)
    except stripe_gateway.PaymentsUnavailable as error:
        return _render_buy(request, _buy_context(request, coach, error=str(error)))
    return redirect_htmx(request, url)


@login_required
@require_GET
def order_detail(request, order_id: int):
    order = selectors.order_for_client_or_none(user=request.user, order_id=order_id)
    if order is None:
        raise Http404("No such order.")
    context = {
        "order": order,
        "package": packages.package_of(order=order) if order.status == Order.Status.PAID else None,
        "session": selectors.order_session(order=order),
        "survey_form": SurveyForm(),
        "now": timezone.now(),
    }
    template = "payments/order_detail.html"
    if request.htmx and request.htmx.target == "order-state":
        template += "#order-state"
    return render(request, template, context)


def _cancel_allowed(request, row) -> bool:
    # Stripe's Cancel button comes back as a GET carrying the row's signature; the order's
    # own page posts, under the CSRF check.
    return request.method == "POST" or services.cancel_token_ok(row, request.GET.get("token", ""))


@login_required
@require_http_methods(["GET", "POST"])
def order_cancel(request, order_id: int):
    order = selectors.order_for_client_or_none(user=request.user, order_id=order_id)
    if order is None:
        raise Http404("No such order.")
    page = reverse("payments:order_detail", args=[order.pk])
    if not _cancel_allowed(request, order):
        return redirect_htmx(request, page)
    held = order.held_session
    if not services.order_cancel(order=order, by=request.user, now=timezone.now()):
        order.refresh_from_db(fields=["status"])
        if order.status == Order.Status.PENDING:
            messages.info(request, "Stripe took this payment before the cancel arrived.")
        return redirect_htmx(request, page)
    freed = ""
    if held is not None:
        when = clock.when(held.starts_at, request.viewer_zone, timezone.now(), long=True)
        freed = f", and {when} is free again"
    messages.info(request, f"You cancelled the payment: nothing was charged{freed}.")
    choices = {"skill": order.skill.slug, "duration": order.duration_minutes}
    choices["quantity"] = order.quantity
    if held is not None:
        choices["week"] = timezone.localdate(held.starts_at).isoformat()
    return redirect_htmx(
        request, f"{reverse('payments:buy', args=[order.coach_id])}?{urlencode(choices)}"
    )


@login_required
@require_http_methods(["GET", "POST"])
def top_up_cancel(request, top_up_id: int):
    top_up = TopUp.objects.filter(user=request.user, pk=top_up_id).first()
    if top_up is None:
        raise Http404("No such top-up.")
    if _cancel_allowed(request, top_up) and services.topup_cancel(
        top_up=top_up, by=request.user, now=timezone.now()
    ):
        messages.info(request, "You cancelled the top-up: nothing was charged.")
        return redirect_htmx(request, reverse("payments:wallet"))
    return redirect_htmx(request, f"{reverse('payments:wallet')}?topup={top_up.pk}")


@login_required
@require_GET
def wallet(request):
    top_up = None
    if (wanted := small_int(request.GET.get("topup"), digits=18)) is not None:
        top_up = TopUp.objects.filter(user=request.user, pk=wanted).first()
    context = {
        "balance": wallet_balance(user=request.user),
        "entries": wallet_history(user=request.user),
        "form": TopUpForm(),
        "top_up": top_up,
        "test_mode": settings.STRIPE_TEST_MODE,
    }
    template = "payments/wallet.html"
    if request.htmx and request.htmx.target == "wallet-state":
        template += "#wallet-state"
    return render(request, template, context)


@login_required
@require_POST
def top_up(request):
    form = TopUpForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            top_up = services.topup_start(
                user=request.user, amount=form.cleaned_data["amount"], now=timezone.now()
            )
            return redirect_htmx(request, services.topup_checkout_url(top_up=top_up))
        except (services.PaymentError, stripe_gateway.PaymentsUnavailable) as failure:
            error = str(failure)
    context = {
        "balance": wallet_balance(user=request.user),
        "entries": wallet_history(user=request.user),
        "form": form,
        "form_error": error,
        "test_mode": settings.STRIPE_TEST_MODE,
    }
    return render(request, "payments/wallet.html", context)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's only way in: verified by signature, acted on once per event id. Anything
    else answers 400 with its reason and changes nothing (Stripe retries only 5xx and
    time-outs, so a 400 is final)."""
    now = timezone.now()
    try:
        event_id, event_type, obj = stripe_gateway.event_verify(
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
            now=now.timestamp(),
        )
        webhooks.stripe_event_process(event_id=event_id, event_type=event_type, obj=obj, now=now)
    except stripe_gateway.BadEvent as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")
