"""The coach's external calendars, a section of the Availability page."""

import logging
from functools import partial

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from coaching import services
from coaching.busy_calendars import busy_calendar_add, busy_calendar_remove
from coaching.forms import BusyCalendarForm
from coaching.models import BusyCalendar
from coaching.tasks import refresh_busy_calendar
from coaching.views import _availability_context, coach_required

log = logging.getLogger(__name__)


def busy_calendars_context(profile, *, form=None) -> dict:
    return {
        "busy_calendars": list(profile.busy_calendars.all()),
        "busy_calendar_form": form or BusyCalendarForm(),
    }


def _section(request, profile, *, form=None):
    return render(
        request,
        "coaching/includes/busy_calendars.html",
        busy_calendars_context(profile, form=form),
    )


def _read_soon(calendar_id: int) -> None:
    try:
        refresh_busy_calendar.delay(calendar_id)
    except Exception:  # the broker is away: the sweep reads it within minutes
        log.warning("task queue unavailable; calendar %s waits for the sweep", calendar_id)


@coach_required
@require_POST
def busy_calendar_add_view(request):
    profile = services.coach_profile_get_or_create(user=request.user)
    form = BusyCalendarForm(request.POST)
    if form.is_valid():
        try:
            calendar = busy_calendar_add(
                coach=profile, url=form.cleaned_data["url"], now=timezone.now()
            )
        except services.CoachingError as error:
            form.add_error("url", str(error))
        else:
            transaction.on_commit(partial(_read_soon, calendar.pk))
            if not request.htmx:
                messages.success(request, "Calendar added: its busy times show within minutes.")
                return redirect("coaching:availability")
            form = None
    if not request.htmx:
        context = {**_availability_context(profile), **busy_calendars_context(profile, form=form)}
        return render(request, "coaching/availability.html", context)
    return _section(request, profile, form=form)


@coach_required
@require_POST
def busy_calendar_remove_view(request, calendar_id: int):
    profile = services.coach_profile_get_or_create(user=request.user)
    calendar = get_object_or_404(BusyCalendar, pk=calendar_id, coach=profile)
    busy_calendar_remove(coach=profile, calendar=calendar)
    if not request.htmx:
        messages.success(request, "Calendar removed: its times are free again.")
        return redirect("coaching:availability")
    return _section(request, profile)
