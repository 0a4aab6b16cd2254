"""Each person's private calendar feed: their sessions (with the UIDs of the emailed
invitations, so a calendar that has both keeps one event) and their open requests, as
TENTATIVE. No sign-in: the secret in the address is the key (``accounts.CalendarFeed``)."""

from datetime import datetime, timedelta

from django.db.models import Count
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import User
from accounts.selectors import calendar_feed_user
from hse import ical
from requests_app.calendar import request_event
from requests_app.models import SessionRequest
from sessions_app.calendar import session_event
from sessions_app.models import Session

# How far back a feed reaches: a year of past sessions is plenty for a calendar, and keeps
# the feed's size bounded however long someone has used HSE.
FEED_PAST = timedelta(days=365)


def feed_events(*, user: User, now: datetime) -> list:
    """The events of ``user``'s feed: their live and past sessions (not held for a checkout,
    not expired or cancelled) and their open requests. Two queries, whatever the count."""
    sessions = (
        Session.objects.for_user(user)
        .exclude(status__in=(Session.Status.HELD, *Session.FREE_STATUSES))
        .filter(ends_at__gte=now - FEED_PAST)
        .select_related("coach__user", "client", "skill")
        .order_by("starts_at", "pk")
    )
    requests = (
        SessionRequest.objects.for_user(user)
        .open_at(now)
        .select_related("coach__user", "client", "skill")
        .annotate(proposal_count=Count("proposals"))
        .order_by("starts_at", "pk")
    )
    return [session_event(session, stamp=now) for session in sessions] + [
        request_event(request, stamp=now, sequence=max(request.proposal_count - 1, 0))
        for request in requests
    ]


@require_GET
def calendar_feed(request, token: str):
    user = calendar_feed_user(token=token)
    if user is None:
        raise Http404("No such calendar.")
    body = ical.calendar(feed_events(user=user, now=timezone.now()), name="HSE sessions")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="hse.ics"'
    # The address is a secret: no search engine, no Referer leaving it elsewhere, no shared
    # cache keeping a copy.
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, max-age=300"
    return response
