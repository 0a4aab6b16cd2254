"""The coach's Payouts page (balance, how they are paid, requests) and Earnings statement
(every entry with its running balance, a chart of the months, a CSV of any month). Only
coaches reach them, each their own; everyone else finds nothing (404)."""

import csv
import re
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from coaching.models import CoachProfile
from coaching.views import coach_required
from hse.money import exponent, format_money
from ledger.models import EarningEntry
from payouts import selectors, services, stripe_connect
from payouts.forms import AutoPayoutForm, ManualMethodForm, PayoutRequestForm

CHART_MONTHS = 12
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _coach(request) -> CoachProfile:
    coach = CoachProfile.objects.filter(user=request.user).select_related("user").first()
    if coach is None:
        raise Http404("Only coaches have earnings.")
    return coach


def _month_start(year: int, month: int, zone) -> datetime:
    return datetime(year, month, 1, tzinfo=zone)


def _next_month(start: datetime) -> datetime:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def _previous_month(start: datetime) -> datetime:
    year, month = (start.year - 1, 12) if start.month == 1 else (start.year, start.month - 1)
    return start.replace(year=year, month=month)


def _month(request) -> datetime | None:
    """The month asked for (?month=2026-11) as the local midnight of its first day in the
    viewer's zone; this month without one; None when the text is not a month of the years
    2000-2999."""
    now = timezone.now().astimezone(request.viewer_zone)
    text = request.GET.get("month", "")
    if not text:
        return _month_start(now.year, now.month, request.viewer_zone)
    found = MONTH.match(text[:8])
    if not found or len(text) > 7:
        return None
    year, month = int(found[1]), int(found[2])
    if not (2000 <= year <= 2999 and 1 <= month <= 12):
        return None
    return _month_start(year, month, request.viewer_zone)


def _bad_month(request) -> HttpResponse:
    return HttpResponseBadRequest(
        "Ask for a month as YYYY-MM between 2000-01 and 2999-12, e.g. ?month=2026-11.",
        content_type="text/plain; charset=utf-8",
    )


def describe(entry: EarningEntry) -> str:
    """What a statement line says, for the page and the CSV."""
    kind = EarningEntry.Kind
    if entry.kind in (kind.EARNED, kind.REVERSED):
        session = entry.session
        what = (
            f"{session.skill.name} with {session.client.display_name}"
            if session is not None
            else entry.why
        )
        return what if entry.kind == kind.EARNED else f"Refund: {what}"
    payout = entry.payout
    label = f"#{payout.pk} to {payout.get_method_display()}"
    return label if entry.kind == kind.PAYOUT else f"{label}: {entry.why}"


# --- Payouts page --------------------------------------------------------------------------


def _payouts_context(coach: CoachProfile, **extra) -> dict:
    account = selectors.account_of(coach=coach)
    least, most = settings.HSE_PAYOUT_LIMITS
    return {
        "coach": coach,
        "account": account,
        "balance": selectors.balance_of(coach=coach),
        "payouts": selectors.payouts_of(coach=coach),
        "least": least,
        "most": most,
        "form": PayoutRequestForm(),
        "manual_form": ManualMethodForm(
            initial={
                "method": account.method if account.method in ("paypal", "wise") else "paypal",
                "details": account.manual_details,
            }
        ),
        "stripe_on": bool(settings.STRIPE_SECRET_KEY),
        "test_mode": settings.STRIPE_TEST_MODE,
        "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][
            settings.HSE_AUTO_PAYOUT_WEEKDAY
        ],
        **extra,
    }


@coach_required
@require_GET
def payouts(request):
    coach = _coach(request)
    if request.GET.get("onboarding") == "expired":
        messages.info(request, "That Stripe link expired. Press “Set up payouts” to go on.")
    return render(request, "payouts/payouts.html", _payouts_context(coach))


@coach_required
@require_POST
def payout_request(request):
    coach = _coach(request)
    form = PayoutRequestForm(request.POST)
    if form.is_valid():
        try:
            payout = services.payout_request(
                coach=coach, amount=form.cleaned_data["amount"], by=request.user,
                now=timezone.now(),
            )  # fmt: skip
        except services.PayoutError as error:
            form.add_error("amount", str(error))
        else:
            how = "Stripe is sending it" if not payout.by_hand else "an admin will pay it"
            messages.success(
                request,
                f"Payout of {format_money(payout.amount, payout.currency)} requested; {how}.",
            )
            return redirect("payouts:payouts")
    context = _payouts_context(coach, form=form)
    return render(request, "payouts/payouts.html", context, status=400)


@coach_required
@require_POST
def method_manual(request):
    coach = _coach(request)
    form = ManualMethodForm(request.POST)
    if form.is_valid():
        try:
            services.manual_method_set(
                coach=coach, method=form.cleaned_data["method"],
                details=form.cleaned_data["details"],
            )  # fmt: skip
        except services.PayoutError as error:
            form.add_error("details", str(error))
        else:
            messages.success(request, "Your payouts will be paid by hand to these details.")
            return redirect("payouts:payouts")
    return render(
        request, "payouts/payouts.html", _payouts_context(coach, manual_form=form), status=400
    )


@coach_required
@require_POST
def stripe_setup(request):
    coach = _coach(request)
    page = request.build_absolute_uri(reverse("payouts:payouts"))
    try:
        url = services.stripe_onboarding_start(
            coach=coach,
            return_url=request.build_absolute_uri(reverse("payouts:stripe_return")),
            refresh_url=f"{page}?onboarding=expired",
            now=timezone.now(),
        )
    except stripe_connect.ConnectUnavailable as error:
        messages.error(request, str(error))
        return redirect("payouts:payouts")
    return redirect(url)


@coach_required
@require_GET
def stripe_return(request):
    coach = _coach(request)
    try:
        account = services.stripe_account_refresh(coach=coach)
    except stripe_connect.ConnectUnavailable as error:
        messages.error(request, str(error))
        return redirect("payouts:payouts")
    if account.stripe_payouts_enabled:
        messages.success(request, "Stripe payouts are set up.")
    elif account.stripe_account_id:
        messages.info(request, "Stripe needs a few more details before it can pay you.")
    return redirect("payouts:payouts")


@coach_required
@require_POST
def stripe_use(request):
    coach = _coach(request)
    try:
        services.stripe_method_choose(coach=coach)
        messages.success(request, "Your payouts will go to your Stripe account.")
    except services.PayoutError as error:
        messages.error(request, str(error))
    return redirect("payouts:payouts")


@coach_required
@require_POST
def auto_weekly(request):
    coach = _coach(request)
    form = AutoPayoutForm(request.POST)
    on = form.is_valid() and form.cleaned_data["auto_weekly"]
    try:
        services.auto_weekly_set(coach=coach, on=on)
        messages.success(request, "Weekly payouts are on." if on else "Weekly payouts are off.")
    except services.PayoutError as error:
        messages.error(request, str(error))
    return redirect("payouts:payouts")


# --- Statement -----------------------------------------------------------------------------


@coach_required
@require_GET
def statement(request):
    coach = _coach(request)
    start = _month(request)
    if start is None:
        return _bad_month(request)
    end = _next_month(start)
    opening, lines = selectors.statement(coach=coach, start=start, end=end)
    now = timezone.now().astimezone(request.viewer_zone)
    this_month = _month_start(now.year, now.month, request.viewer_zone)
    months = [this_month]
    for _ in range(CHART_MONTHS - 1):
        months.insert(0, _previous_month(months[0]))
    bars = selectors.months_chart(coach=coach, zone=request.viewer_zone, months=months)
    top = max([1, *(max(bar.earned, bar.paid_out) for bar in bars)])
    context = {
        "coach": coach,
        "month": start,
        "previous": _previous_month(start),
        "next": _next_month(start) if start < this_month else None,
        "opening": opening,
        "closing": lines[-1].balance if lines else opening,
        "lines": [(line, describe(line.entry)) for line in lines],
        "bars": [
            (bar, round(100 * max(bar.earned, 0) / top), round(100 * bar.paid_out / top))
            for bar in bars
        ],
        "balance": selectors.balance_of(coach=coach),
    }
    return render(request, "payouts/statement.html", context)


def _cell(text: str) -> str:
    """Text a spreadsheet must not run as a formula (a name like "=HYPERLINK(...)")."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _major(amount: int, currency: str) -> str:
    """Minor units as a plain number a spreadsheet reads: -1234 -> "-12.34"."""
    digits = exponent(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


@coach_required
@require_GET
def statement_csv(request):
    coach = _coach(request)
    start = _month(request)
    if start is None:
        return _bad_month(request)
    opening, lines = selectors.statement(coach=coach, start=start, end=_next_month(start))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="earnings-{start:%Y-%m}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["date", "kind", "description", "gross", "fee", "amount", "balance", "currency"]
    )
    currency = coach.currency
    writer.writerow(
        [
            f"{start:%Y-%m-%d}",
            "opening balance",
            "",
            "",
            "",
            "",
            _major(opening, currency),
            currency,
        ]
    )
    for line in lines:
        entry = line.entry
        writer.writerow(
            [
                entry.created_at.astimezone(request.viewer_zone).strftime("%Y-%m-%d %H:%M"),
                entry.get_kind_display(),
                _cell(describe(entry)),
                _major(entry.gross, entry.currency),
                _major(entry.fee, entry.currency),
                _major(entry.amount, entry.currency),
                _major(line.balance, entry.currency),
                entry.currency,
            ]
        )
    return response
