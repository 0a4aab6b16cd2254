"""The pages that bring the apps together: a coach's page (profile, reviews and open
times), the pending actions, the calendar, and the coach's dashboard."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.messages import get_messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.views.decorators.http import require_GET

from coaching.availability import boundary_instant
from coaching.models import CoachProfile
from coaching.selectors import (
    bookable_slots,
    coach_profile_html,
    listed_coach_or_none,
    slots_by_local_day,
)
from hse import clock
from hse.bounds import day_ok, small_int
from hse.http import card_tag
from hse.money import format_money, price_for_minutes
from hse.rules import listed
from hse.templatetags.hse import utc_iso
from ledger.selectors import earnings_by_month
from marketplace import selectors
from requests_app.selectors import requests_awaiting
from requests_app.views import request_context
from sessions_app.forms import SurveyForm
from sessions_app.models import Report
from sessions_app.selectors import coach_reviews, sessions_upcoming

COACH_PAGE_FIRST_DAYS = 4  # days with open times shown before "more"
# Each open time opens the buy page with it chosen (the skill too, when there is one).
SLOT_HTML = '<li><a class="slot slot-link" href="{}"><time datetime="{}">{}</time></a></li>'


def _labelled_day(day, times, zone) -> tuple:
    """(day, the abbreviation its heading shows, [(time, label)]): the times carry their own
    abbreviation on a day whose clocks change, so the heading cannot name one."""
    abbr = clock.shared_abbreviation(times, zone)
    return (
        day,
        abbr,
        [
            (t, f"{clock.local_time(t, zone):%H:%M}" if abbr else clock.clock(t, zone))
            for t in times
        ],
    )


@require_GET
def coach_detail(request, coach_id: int):
    coach = listed_coach_or_none(coach_id=coach_id)
    if coach is None:
        raise Http404("No such coach.")
    durations = settings.HSE_SESSION_DURATIONS
    duration = small_int(request.GET.get("duration", durations[-1]), digits=3)
    if duration not in durations:
        messages.error(
            request,
            f"Sessions last {listed(durations)} minutes; showing {durations[-1]}-minute slots.",
        )
        duration = durations[-1]

    now = timezone.now()
    days = settings.HSE_COACH_PAGE_SLOT_DAYS
    viewer = request.user if request.user.is_authenticated and request.user.is_client else None
    slots = bookable_slots(
        coach=coach,
        duration_minutes=duration,
        start=now,
        end=now + timedelta(days=days),
        now=now,
        client=viewer,
        cached=True,
    )
    slot_days = slots_by_local_day(slots, request.viewer_zone)
    skills = list(coach.skills.all())
    buy_page = reverse("payments:buy", args=[coach.pk])
    chosen = {"duration": duration, "quantity": 1}
    if len(skills) == 1:
        chosen["skill"] = skills[0].slug

    def buy(instant) -> str:
        return f"{buy_page}?{urlencode({**chosen, 'start': utc_iso(instant)})}"

    show_all = request.GET.get("show") == "all"
    context = {
        "coach": coach,
        "duration": duration,
        "durations": [
            (
                minutes,
                format_money(
                    price_for_minutes(hourly=coach.hourly_price, minutes=minutes), coach.currency
                ),
            )
            for minutes in durations
        ],
        # A day's times are joined here: a template loop over them cost more than the rest
        # of the page.
        "slot_days": [
            (
                day,
                abbr,
                format_html_join(
                    "", SLOT_HTML, ((buy(t), t.isoformat(), label) for t, label in labelled)
                ),
            )
            for day, abbr, labelled in (
                _labelled_day(day, times, request.viewer_zone)
                for day, times in (slot_days if show_all else slot_days[:COACH_PAGE_FIRST_DAYS])
            )
        ],
        "more_days": 0 if show_all else max(0, len(slot_days) - COACH_PAGE_FIRST_DAYS),
        "slot_days_shown": days,
        "zone_source": request.viewer_zone_source,
    }
    if request.htmx and request.htmx.target == "slots":
        return render(request, "marketplace/coach_detail.html#slots", context)

    def profile() -> str:
        reviews = coach_reviews(coach=coach)
        # No request: the column needs only the viewer, and the context processors would
        # read the header's count again.
        return render_to_string(
            "marketplace/coach_detail.html#profile",
            {**context, "rating": reviews, "reviews": reviews["latest"], "user": request.user},
        )

    # What differs between viewers: "Buy" (not for coaches) and the reviews' dates (their zone).
    buyer = not request.user.is_authenticated or request.user.is_client
    context["profile"] = coach_profile_html(
        coach_id=coach.pk,
        variant=f"{'buyer' if buyer else 'other'}:{request.viewer_zone_name}",
        render=profile,
    )
    return render(request, "marketplace/coach_detail.html", context)


def _messages_by_card(request) -> tuple[list, dict[str, list]]:
    """The messages for the whole panel, and those an action left on one card (their
    ``card-...`` tag), so an error shows at the form that caused it."""
    general, cards = [], defaultdict(list)
    for message in get_messages(request):
        tag = next((t for t in message.extra_tags.split() if t.startswith("card-")), None)
        (cards[tag] if tag else general).append(message)
    return general, cards


def _pending_context(request) -> dict:
    now = timezone.now()
    actions = selectors.pending_actions(user=request.user, now=now)
    request.pending_actions = actions  # the header's count is their number: no second query
    general, cards = _messages_by_card(request)
    request_items = []
    for item in actions.requests:
        context = request_context(request, item)
        context["messages"] = cards.get(card_tag("request", item.pk), [])
        request_items.append(context)
    for kind in ("surveys", "to_confirm", "coach_late"):
        for session in getattr(actions, kind):
            session.card_messages = cards.get(card_tag(kind, session.pk), [])
    return {
        "actions": actions,
        "request_items": request_items,
        "messages": general,  # instead of the page's: each message is shown once
        "reasons": Report.Reason.choices,
        "survey_form": SurveyForm(),  # its labels
    }


def pending_panel(request):
    """The Pending Actions sidebar, with the header's count swapped out of band. After an
    action (it left a message) the page beneath is told, so lists that show the same
    sessions and requests read them again."""
    context = _pending_context(request)
    response = render(request, "marketplace/pending.html#panel", context)
    if (
        context["messages"]
        or any(item["messages"] for item in context["request_items"])
        or _any_card_messages(context["actions"])
    ):
        response["HX-Trigger"] = "pending-changed"
    return response


def _any_card_messages(actions) -> bool:
    return any(
        session.card_messages
        for kind in ("surveys", "to_confirm", "coach_late")
        for session in getattr(actions, kind)
    )


@login_required
@require_GET
def pending(request):
    if request.GET.get("badge"):  # the header's count alone, read again when the socket says
        return render(request, "includes/pending_badge.html", {"oob": True})
    if request.htmx:
        return pending_panel(request)
    return render(request, "marketplace/pending.html", _pending_context(request))


CALENDAR_VIEWS = ("week", "month")
GRID_HOURS = (6, 22)  # the week grid's usual hours, widened to show anything outside them


@login_required
@require_GET
def calendar(request):
    """Week (an hour grid) or month of every session and request, in the viewer's zone."""
    zone = request.viewer_zone
    now = timezone.now()
    view = request.GET.get("view") or "week"
    if view not in CALENDAR_VIEWS:
        messages.error(request, "A calendar shows a week or a month; showing the week.")
        view = "week"
    today = clock.local_time(now, zone).date()
    try:
        anchor = date.fromisoformat(request.GET["date"][:10]) if request.GET.get("date") else today
    except ValueError:
        anchor = None
    if anchor is None or not day_ok(anchor):
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
    if not (day_ok(previous) and day_ok(following)):  # the ends of the years we show
        messages.error(request, "That date is not valid; showing today.")
        return redirect(f"{reverse('marketplace:calendar')}?view={view}")
    start = local_midnight(first, zone)
    end = local_midnight(last, zone)
    items = selectors.calendar_items(user=request.user, start=start, end=end, now=now)
    by_day: dict[date, list] = {}
    for item in items:
        by_day.setdefault(clock.local_time(item.starts_at, zone).date(), []).append(item)
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
        "legend": selectors.CALENDAR_LEGEND,
        "cut": len(items) >= selectors.CALENDAR_MAX_ITEMS,
        "now": now,
    }
    if view == "week":
        context["grid"] = week_grid(days, zone)
    template = "marketplace/calendar.html"
    if request.htmx and request.htmx.target == "calendar":
        template += "#calendar"
    return render(request, template, context)


@dataclass(frozen=True)
class GridEvent:
    item: selectors.CalendarItem
    style: str  # where it sits in its day's column (top, height, left, width, in %)
    short: bool  # too short a box for every line: the page shows fewer


@dataclass(frozen=True)
class WeekGrid:
    hours: list[int]  # the hours the rows stand for, e.g. 6..21
    columns: list[tuple[date, list[GridEvent]]]


def week_grid(days: list[tuple[date, list]], zone) -> WeekGrid:
    """The week as an hour grid: each item placed in its start day's column at its local
    wall time, as tall as its local times say (as long as it lasts where the wall clock
    repeats an hour), cut at midnight; items that overlap share the column's width."""
    placed = []  # (day, item, start minute, end minute)
    for day, items in days:
        for item in items:
            begins = clock.local_time(item.starts_at, zone)
            ends = clock.local_time(item.ends_at, zone)
            first = begins.hour * 60 + begins.minute
            last = 24 * 60 if ends.date() > day else ends.hour * 60 + ends.minute
            if last <= first:  # the repeated hour: the wall clock went back
                minutes = int((item.ends_at - item.starts_at).total_seconds() // 60)
                last = min(24 * 60, first + max(minutes, 15))
            placed.append((day, item, first, last))
    low, high = GRID_HOURS
    for _, _, first, last in placed:
        low = min(low, first // 60)
        high = max(high, -(-last // 60))
    span = (high - low) * 60
    columns = []
    for day, _ in days:
        mine = sorted((p for p in placed if p[0] == day), key=lambda p: (p[2], -p[3]))
        events = []
        for group in _overlapping(mine):
            lanes: list[int] = []  # the minute each lane is free again
            seated = []
            for entry in group:
                lane = next((n for n, free in enumerate(lanes) if free <= entry[2]), len(lanes))
                if lane == len(lanes):
                    lanes.append(0)
                lanes[lane] = entry[3]
                seated.append((entry, lane))
            width = 100 / len(lanes)
            for (_, item, first, last), lane in seated:
                top = (first - low * 60) / span * 100
                height = max(last - first, 15) / span * 100
                style = (
                    f"top:{top:.3f}%;height:{height:.3f}%;"
                    f"left:{lane * width:.3f}%;width:{width:.3f}%"
                )
                events.append(GridEvent(item=item, style=style, short=last - first < 60))
        columns.append((day, events))
    return WeekGrid(hours=list(range(low, high)), columns=columns)


def _overlapping(entries: list) -> list[list]:
    """Entries (sorted by start) in groups that overlap one another in a chain."""
    groups: list[list] = []
    reach = -1
    for entry in entries:
        if groups and entry[2] < reach:
            groups[-1].append(entry)
            reach = max(reach, entry[3])
        else:
            groups.append([entry])
            reach = entry[3]
    return groups


def _calendar_title(view: str, first: date, last: date, anchor: date) -> str:
    if view == "month":
        return anchor.strftime("%B %Y")
    end = last - timedelta(days=1)
    if first.month == end.month:
        return f"{first.day}–{end.day} {end.strftime('%B %Y')}"
    return f"{first.strftime('%-d %b')} – {end.strftime('%-d %b %Y')}"


def local_midnight(day: date, zone):
    return boundary_instant(day, 0, zone)


@login_required
@require_GET
def dashboard(request):
    """The coach's desk: what is coming, what to answer, what was earned."""
    coach = CoachProfile.objects.filter(user=request.user).first()
    if coach is None:
        raise Http404("Only coaches have a dashboard.")
    now = timezone.now()
    earnings = earnings_by_month(coach=coach, zone=request.viewer_zone)
    context = {
        "coach": coach,
        "upcoming": sessions_upcoming(user=request.user, now=now)[:8],
        "awaiting": requests_awaiting(user=request.user, now=now)[:8],
        "earnings": earnings,
        "total_net": sum(month.net for month in earnings),
        "fee": settings.HSE_PLATFORM_FEE_PERCENT,
    }
    return render(request, "marketplace/dashboard.html", context)
