from django.conf import settings
from django.utils import timezone

from accounts.timezones import is_valid_zone, zone_or_utc

BROWSER_ZONE_COOKIE = "hse_tz"


class TimezoneMiddleware:
    """Shows every time in the viewer's zone.

    A signed-in user has a zone of their own. An anonymous visitor gets the zone their
    browser reported (a cookie set by static/js/app.js), or the default until it has.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            name, source = user.time_zone, "account"  # one that is not a zone: UTC, logged
        else:
            cookie = request.COOKIES.get(BROWSER_ZONE_COOKIE, "")
            if is_valid_zone(cookie):
                name, source = cookie, "browser"
            else:
                name, source = settings.DEFAULT_USER_TIME_ZONE, "default"
        request.viewer_zone = zone_or_utc(name)
        request.viewer_zone_name = request.viewer_zone.key
        request.viewer_zone_source = source
        timezone.activate(request.viewer_zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
