from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.timezones import zone_or_utc
from coaching import selectors, services
from coaching.catalog import DAYPARTS
from coaching.catalog import catalog as catalog_selection
from coaching.forms import (
    BusyCalendarForm,
    CatalogFilterForm,
    CoachOffersForm,
    CoachProfileForm,
    TimeOffForm,
    WindowForm,
)
from coaching.models import AvailabilityWindow, Skill, TimeOff

COACH_PAGE_FIRST_DAYS = 4  # days with open times shown before "more"
SLOT_HTML = '<li class="slot"><time datetime="{}">{}</time></li>'
CATALOG_PARAMETERS = (
    "q", "skill", "sort", "page", "price_min", "price_max", "language", "when", "part",
    "weekends",
)  # fmt: skip
CATALOG_TIME_SECONDS = 300


def coach_required(view):
    """Signed-in coaches only; anyone else is told the page does not exist."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_coach:
            raise Http404("Only coaches have this page.")
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
def catalog(request):
    form = CatalogFilterForm(request.GET)
    form.is_valid()  # errors are shown; the valid parts still filter
    filters = form.filters()
    # The parameters the catalog knows, and nothing else: they key its cached results and
    # make its links (query_with), so made-up parameters neither fill the cache nor spread.
    query = QueryDict(mutable=True)
    for name in CATALOG_PARAMETERS:
        if name in request.GET:
            query.setlist(name, request.GET.getlist(name)[:20])
    context = {
        "form": form,
        "filters": filters,
        "skills": Skill.objects.all(),
        "active_skill": filters.skill,
        "query": query,
        "dayparts": DAYPARTS,
    }
    now = timezone.now()

    def results() -> str:
        found = catalog_selection(filters=filters, zone=request.viewer_zone, now=now)
        page = Paginator(found.coaches, settings.HSE_CATALOG_PAGE_SIZE).get_page(query.get("page"))
        prefetch_related_objects(page.object_list, "skills")  # only the coaches shown
        return render_to_string(
            "coaching/catalog.html#catalog", {**context, "page": page, "found": found}, request
        )

    # The filters by open times, and their counts, depend on the viewer's zone and on the
    # clock: a kept page serves that zone only, and for CATALOG_TIME_SECONDS at most.
    period = int(now.timestamp()) // CATALOG_TIME_SECONDS
    key = f"{query.urlencode()}|{request.viewer_zone_name}|{period}"
    context["results"] = selectors.catalog_results_html(query_string=key, render=results)
    if request.htmx and request.htmx.target == "catalog":
        return HttpResponse(context["results"])
    return render(request, "coaching/catalog.html", context)


def _profile_form(profile, data=None) -> CoachProfileForm:
    initial = {
        "headline": profile.headline,
        "bio": profile.bio,
        "skills": profile.skills.all(),
        "languages": profile.languages,
        "hourly_price": _major(profile.hourly_price),
        "minimum_notice_hours": profile.minimum_notice_minutes // 60,
        "time_zone": profile.time_zone,
    }
    return CoachProfileForm(data, initial=initial)


@coach_required
def profile_edit(request):
    profile = services.coach_profile_get_or_create(user=request.user)
    form = _profile_form(profile, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # A new zone moves the weekly hours and the time off: booked sessions that would then
        # sit outside them are listed first, and "Save anyway" sends the form with ``confirm``.
        if data["time_zone"] != profile.time_zone and not request.POST.get("confirm"):
            clashes = selectors.booked_outside_hours(
                coach=profile, zone=zone_or_utc(data["time_zone"]), now=timezone.now()
            )
            if clashes:
                context = {"form": form, "profile": profile, "clashes": clashes,
                           "offers_form": _offers_form(profile)}  # fmt: skip
                return render(request, "coaching/profile_edit.html", context)
        try:
            services.coach_profile_update(
                profile=profile,
                headline=data["headline"],
                bio=data["bio"],
                skills=list(data["skills"]),
                languages=data["languages"],
                hourly_price=data["hourly_price"],
                minimum_notice_minutes=data["minimum_notice_hours"] * 60,
                time_zone=data["time_zone"],
            )
        except services.CoachingError as error:
            form.add_error(None, str(error))
        else:
            if not profile.availability_windows.exists():
                messages.success(request, "Profile saved. Now add the hours clients can book.")
                return redirect("coaching:availability")
            messages.success(request, "Profile saved. You are listed in the catalog.")
            return redirect("coaching:profile_edit")
    context = {"form": form, "profile": profile, "offers_form": _offers_form(profile)}
    return render(request, "coaching/profile_edit.html", context)


def _offers_form(profile, data=None) -> CoachOffersForm:
    initial = {
        "trial_offered": profile.trial_offered,
        "trial_price": _major(profile.trial_price) if profile.trial_price else "",
        **{
            f"discount_{size}": profile.discount_for(size) or ""
            for size in settings.HSE_PACKAGE_SIZES
        },
    }
    return CoachOffersForm(data, initial=initial)


@coach_required
@require_POST
def offers_edit(request):
    """The profile page's "Trial and package discounts" card posts here."""
    profile = services.coach_profile_get_or_create(user=request.user)
    form = _offers_form(profile, request.POST)
    if form.is_valid():
        try:
            services.coach_offers_update(
                profile=profile,
                trial_offered=form.cleaned_data["trial_offered"],
                trial_price=form.cleaned_data["trial_price"],
                discounts=form.discounts(),
            )
        except services.CoachingError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Trial and package discounts saved.")
            return redirect("coaching:profile_edit")
    context = {"form": _profile_form(profile), "profile": profile, "offers_form": form}
    return render(request, "coaching/profile_edit.html", context, status=400)


def _major(amount: int | None) -> str:
    if amount is None:
        return ""
    return f"{amount // 100}" if amount % 100 == 0 else f"{amount / 100:.2f}"


def _availability_context(
    profile, *, window_form=None, time_off_form=None, booked=None, pending=None
) -> dict:
    windows = list(profile.availability_windows.all())
    week = [
        (number, name, [w for w in windows if w.weekday == number])
        for number, name in AvailabilityWindow.WEEKDAYS
    ]
    return {
        "profile": profile,
        "week": week,
        # What is not over on the coach's clock (a stretch that ended earlier today too).
        "time_off": profile.time_off.filter(
            end_date__gte=timezone.now().astimezone(profile.zone).date()
        ),
        "window_form": window_form or WindowForm(),
        "time_off_form": time_off_form or TimeOffForm(),
        "busy_calendars": list(profile.busy_calendars.all()),
        "busy_calendar_form": BusyCalendarForm(),
        # A time off that lands on booked sessions waits for "Add anyway": what it covers,
        # and the form's fields to send again.
        "booked": booked or [],
        "pending": pending,
    }


def _availability_response(request, profile, section: str, **forms):
    context = _availability_context(profile, **forms)
    if request.htmx:
        return render(request, f"coaching/availability.html#{section}", context)
    return render(request, "coaching/availability.html", context)


@coach_required
@require_GET
def availability(request):
    profile = services.coach_profile_get_or_create(user=request.user)
    return render(request, "coaching/availability.html", _availability_context(profile))


@coach_required
@require_POST
def window_add(request):
    profile = services.coach_profile_get_or_create(user=request.user)
    form = WindowForm(request.POST)
    if form.is_valid():
        try:
            services.availability_window_add(coach=profile, **form.cleaned_data)
        except services.CoachingError as error:
            form.add_error(None, str(error))
        else:
            if not request.htmx:
                messages.success(request, "Window added.")
                return redirect("coaching:availability")
            form = WindowForm(initial=request.POST)
    return _availability_response(request, profile, "windows", window_form=form)


@coach_required
@require_POST
def window_remove(request, window_id: int):
    profile = services.coach_profile_get_or_create(user=request.user)
    window = get_object_or_404(AvailabilityWindow, pk=window_id, coach=profile)
    services.availability_window_remove(coach=profile, window=window)
    if not request.htmx:
        messages.success(request, "Window removed.")
        return redirect("coaching:availability")
    return _availability_response(request, profile, "windows")


@coach_required
@require_POST
def time_off_add(request):
    """Adds time off; when it covers booked sessions, lists them first and adds only on
    "Add anyway" (the form sent again with ``confirm``). The sessions stay booked."""
    profile = services.coach_profile_get_or_create(user=request.user)
    form = TimeOffForm(request.POST)
    now = timezone.now()
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.time_off_check(
                coach=profile, starts=data["starts"], ends=data["ends"], now=now
            )
            booked = selectors.booked_in_time_off(
                coach=profile, starts=data["starts"], ends=data["ends"], now=now
            )
            if booked and not request.POST.get("confirm"):
                return _availability_response(
                    request, profile, "time-off", time_off_form=form, booked=booked,
                    pending=_time_off_fields(form),
                )  # fmt: skip
            services.time_off_add(
                coach=profile, starts=data["starts"], ends=data["ends"], note=data["note"], now=now
            )
        except services.CoachingError as error:
            form.add_error(None, str(error))
        else:
            if not request.htmx:
                messages.success(request, "Time off added.")
                return redirect("coaching:availability")
            form = None
    return _availability_response(request, profile, "time-off", time_off_form=form)


def _time_off_fields(form: TimeOffForm) -> list[tuple[str, str]]:
    """The form's fields as it was sent, to send again with "Add anyway"."""
    return [(name, form.data.get(name, "")) for name in form.fields]


@coach_required
@require_POST
def time_off_remove(request, time_off_id: int):
    profile = services.coach_profile_get_or_create(user=request.user)
    time_off = get_object_or_404(TimeOff, pk=time_off_id, coach=profile)
    services.time_off_remove(coach=profile, time_off=time_off)
    if not request.htmx:
        messages.success(request, "Time off removed.")
        return redirect("coaching:availability")
    return _availability_response(request, profile, "time-off")
