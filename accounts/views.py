from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.forms import AccountSettingsForm
from accounts.models import CalendarFeed
from accounts.services import (
    AccountError,
    calendar_feed_renew,
    user_update_settings,
    zone_change_clashes,
)


@login_required
def account_settings(request):
    user = request.user
    form = AccountSettingsForm(
        request.POST or None,
        initial={"display_name": user.display_name, "time_zone": user.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        # A coach's hours move with the zone: booked sessions they would then leave outside
        # the hours (or inside time off) are listed first, and nothing changes until
        # "Change anyway" sends the form again with ``confirm``.
        clashes = zone_change_clashes(
            user=user, time_zone=form.cleaned_data["time_zone"], now=timezone.now()
        )
        if clashes and not request.POST.get("confirm"):
            return render(
                request,
                "accounts/settings.html",
                {"form": form, "clashes": clashes, "feed_url": _feed_url(request)},
            )
        try:
            user_update_settings(user=user, **form.cleaned_data)
        except AccountError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Your settings were saved.")
            return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form, "feed_url": _feed_url(request)})


def _feed_url(request) -> str:
    feed = CalendarFeed.objects.filter(user=request.user).first()
    if feed is None:
        return ""
    return request.build_absolute_uri(reverse("marketplace:calendar_feed", args=[feed.token]))


@login_required
@require_POST
def calendar_feed_new(request):
    """A private calendar address, or a new one in place of the old (which stops at once)."""
    had = CalendarFeed.objects.filter(user=request.user).exists()
    calendar_feed_renew(user=request.user, now=timezone.now())
    messages.success(
        request,
        "Your calendar has a new private address: the old one no longer works, so subscribe "
        "again with the new one."
        if had
        else "Your private calendar address is ready: copy it into your calendar app.",
    )
    return redirect(reverse("accounts:settings") + "#calendar")
