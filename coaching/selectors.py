import hashlib
from datetime import datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import User
from coaching.availability import Interval, merge, slot_starts
from coaching.models import CoachProfile, Skill, TimeOff
from hse.cache import get_or_set_versioned, new_versions_now_and_on_commit

CATALOG_SORTS = {
    "name": ("Name", ("user__display_name", "id")),
    "price": ("Price: low to high", ("hourly_price", "user__display_name", "id")),
    "-price": ("Price: high to low", ("-hourly_price", "user__display_name", "id")),
}


def coach_profile_is_listed(*, user: User) -> bool:
    return CoachProfile.objects.filter(user=user, is_listed=True).exists()


def catalog_coaches(*, skill: Skill | None, query: str, sort: str) -> QuerySet[CoachProfile]:
    coaches = CoachProfile.objects.listed().select_related("user").prefetch_related("skills")
    if skill is not None:
        coaches = coaches.filter(skills=skill)
    if query:
        coaches = coaches.filter(
            Q(user__display_name__icontains=query) | Q(headline__icontains=query)
        )
    return coaches.order_by(*CATALOG_SORTS[sort][1])


def listed_coach_or_none(*, coach_id: int) -> CoachProfile | None:
    # No prefetching: a page reads the skills and the windows once each, if at all (a
    # checkout needs neither), so a prefetch could only add queries.
    return CoachProfile.objects.listed().select_related("user").filter(pk=coach_id).first()


# Far longer than any session or request (they last 30 to 60 minutes).
LONGEST_BOOKING = timedelta(days=1)


def busy_intervals(
    *,
    coach: CoachProfile,
    start: datetime,
    end: datetime,
    now: datetime,
    client: User | None = None,
    ignore_session_id: int | None = None,
    ignore_request_id: int | None = None,
    count_requests: bool = True,
) -> list[Interval]:
    """Everything that makes the coach (and, when given, the client) unavailable between
    ``start`` and ``end``, merged. The one place that says what "busy" means: the coach's
    time off; every session or unexpired checkout hold of the coach or the client; and every
    open session request of either (an open proposal holds its time for both people).

    A reschedule or an adjusted request must not collide with itself: ``ignore_*`` leave out
    the session being moved and the request being changed. Accepting a request books the time
    whatever other proposals say (``count_requests=False``): a proposal holds time against
    new proposals and bookings, but an agreement beats an open proposal."""
    from requests_app.models import SessionRequest
    from sessions_app.models import Session

    time_off = TimeOff.objects.filter(coach=coach, starts_at__lt=end, ends_at__gt=start)
    people = Q(coach=coach) | Q(client=client) if client is not None else Q(coach=coach)
    # Sessions and requests last an hour at most: a lower bound on the start lets the
    # (person, starts_at) indexes read only the window, not everyone's whole history.
    during = Q(starts_at__lt=end, starts_at__gt=start - LONGEST_BOOKING, ends_at__gt=start)
    sessions = Session.objects.occupying(now).filter(people, during).exclude(pk=ignore_session_id)
    requests = (
        SessionRequest.objects.open_at(now).filter(people, during).exclude(pk=ignore_request_id)
        if count_requests
        else SessionRequest.objects.none()
    )
    # One round trip for the three kinds.
    return merge(
        time_off.order_by()
        .values_list("starts_at", "ends_at")
        .union(
            sessions.order_by().values_list("starts_at", "ends_at"),
            requests.order_by().values_list("starts_at", "ends_at"),
            all=True,
        )
    )


def bookable_slots(
    *,
    coach: CoachProfile,
    duration_minutes: int,
    start: datetime,
    end: datetime,
    now: datetime,
    client: User | None = None,
    **ignore,
) -> list[datetime]:
    """Aware UTC instants in [start, end) at which a session of ``duration_minutes`` with
    ``coach`` can be booked: availability, minus busy intervals (the client's too, when
    given), minus anything before ``now`` plus the coach's minimum notice, on the slot grid."""
    duration = timedelta(minutes=duration_minutes)
    windows = [
        (window.weekday, window.start_minute, window.end_minute)
        for window in coach.availability_windows.all()
    ]
    return slot_starts(
        windows=windows,
        zone=ZoneInfo(coach.time_zone),
        duration=duration,
        start=start,
        end=end,
        earliest=now + timedelta(minutes=coach.minimum_notice_minutes),
        busy=busy_intervals(
            coach=coach,
            start=start - duration,
            end=end + duration,
            now=now,
            client=client,
            **ignore,
        ),
        grid_minutes=settings.HSE_SLOT_GRID_MINUTES,
    )


def slots_by_local_day(slots: list[datetime], zone) -> list[tuple]:
    """[(local date, [local datetimes])] for slots shown in ``zone``, in order."""
    local = [slot.astimezone(zone) for slot in slots]
    return [(day, list(times)) for day, times in groupby(local, key=lambda t: t.date())]


def bookable_days(*, coach, client, duration_minutes: int, zone, now: datetime) -> list[tuple]:
    """The client's bookable times with ``coach`` for the booking horizon, by local day."""
    slots = bookable_slots(
        coach=coach,
        duration_minutes=duration_minutes,
        start=now,
        end=now + timedelta(days=settings.HSE_BOOKING_DAYS),
        now=now,
        client=client,
    )
    return slots_by_local_day(slots, zone)


def coach_reviews(*, coach: CoachProfile, limit: int = 5) -> dict:
    """{"average": 4.5 or None, "count": n, "latest": [review dicts]} over the coach's rated,
    confirmed sessions, the latest commented ones."""
    from django.db.models import Avg, Count

    from sessions_app.models import Session

    rated = Session.objects.filter(
        coach=coach, status=Session.Status.CONFIRMED, rating__isnull=False
    )
    latest = (
        rated.exclude(rating_comment="")
        .order_by("-closed_at")
        .values_list("rating", "rating_comment", "closed_at", "client__display_name")[:limit]
    )
    return {
        **rated.aggregate(average=Avg("rating"), count=Count("id")),
        "latest": [
            {
                "rating": stars,
                "rating_comment": comment,
                "closed_at": closed,
                "client": {"display_name": name},
            }
            for stars, comment, closed, name in latest
        ],
    }


# --- Rendered parts kept in the cache ---------------------------------------------------------
# What the public sees of coaches changes only when a coach's profile, skills or name change,
# or a client rates them: those changes give these parts a new version (``forget_coach_pages``
# from the services and from coaching.signals, which also catches the admin's edits).
PUBLIC_PARTS_SECONDS = 600


def catalog_results_html(*, query_string: str, render) -> str:
    """The catalog's results for one query string: ``render()``, or the copy in the cache."""
    part = hashlib.sha256(query_string.encode()).hexdigest()
    return get_or_set_versioned("catalog", "all", render, timeout=PUBLIC_PARTS_SECONDS, part=part)


def coach_profile_html(*, coach_id: int, variant: str, render) -> str:
    """A coach page's profile column (``variant``: what differs between viewers)."""
    return get_or_set_versioned(
        "coach-page", coach_id, render, timeout=PUBLIC_PARTS_SECONDS, part=variant
    )


def forget_coach_pages(*coach_ids: int) -> None:
    """What these coaches show the public changed: their pages and the catalog are rendered
    again."""
    if coach_ids:
        forget_coach_profiles(*coach_ids)
        forget_catalog()


def forget_coach_profiles(*coach_ids: int) -> None:
    """Something only these coaches' pages show changed (their reviews, a skill's name)."""
    new_versions_now_and_on_commit("coach-page", coach_ids)


def forget_catalog() -> None:
    new_versions_now_and_on_commit("catalog", ["all"])
