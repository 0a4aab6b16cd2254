from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from accounts.timezones import is_valid_zone
from coaching.availability import boundary_instant
from coaching.models import LANGUAGE_NAMES, AvailabilityWindow, CoachProfile, Skill, TimeOff
from hse.bounds import beyond_horizon
from hse.text import validate_single_line, validate_text

MAX_MINIMUM_NOTICE_MINUTES = 30 * 24 * 60


class CoachingError(Exception):
    """A catalog or availability rule was broken; the message is for people."""


def coach_profile_get_or_create(*, user: User) -> CoachProfile:
    if not user.is_coach:
        raise CoachingError("Only coaches have a coach profile.")
    profile, _ = CoachProfile.objects.get_or_create(
        user=user, defaults={"time_zone": user.time_zone}
    )
    return profile


@transaction.atomic
def coach_profile_update(
    *,
    profile: CoachProfile,
    headline: str,
    bio: str,
    skills: list[Skill],
    languages: list[str],
    hourly_price: int,
    minimum_notice_minutes: int,
    time_zone: str,
) -> CoachProfile:
    """Saves a complete profile; a complete profile is listed in the catalog."""
    headline, bio = headline.strip(), bio.strip()
    if not headline or not bio:
        raise CoachingError("A headline and a bio are both needed.")
    try:
        validate_single_line(headline)
        validate_text(bio)
    except ValidationError as error:
        raise CoachingError(error.messages[0]) from None
    if not skills:
        raise CoachingError("Choose at least one skill you coach.")
    unknown = [code for code in languages if code not in LANGUAGE_NAMES]
    if not languages or unknown:
        raise CoachingError("Choose the languages you coach in from the list.")
    if hourly_price <= 0:
        raise CoachingError("The hourly price must be more than zero.")
    if not 0 <= minimum_notice_minutes <= MAX_MINIMUM_NOTICE_MINUTES:
        raise CoachingError("The minimum notice must be between 0 hours and 30 days.")
    if not is_valid_zone(time_zone):
        raise CoachingError(f"“{time_zone}” is not a time zone we know.")

    profile.headline = headline
    profile.bio = bio
    profile.languages = list(dict.fromkeys(languages))
    profile.hourly_price = hourly_price
    profile.minimum_notice_minutes = minimum_notice_minutes
    profile.time_zone = time_zone
    profile.is_listed = profile.availability_windows.exists()
    profile.save()
    profile.skills.set(skills)
    return profile


def _listing_follows_hours(coach: CoachProfile) -> None:
    """A complete profile is listed while it has weekly hours to sell, and not without."""
    has_hours = coach.availability_windows.exists()
    if coach.is_listed and not has_hours:
        listed = False
    elif not coach.is_listed and has_hours:
        listed = bool(coach.headline and coach.bio and coach.hourly_price and coach.languages)
        listed = listed and coach.skills.exists()
    else:
        return
    if listed != coach.is_listed:
        coach.is_listed = listed
        coach.save(update_fields=["is_listed", "updated_at"])


def _lock(profile: CoachProfile) -> CoachProfile:
    # Serialises edits of one coach's availability, so two tabs cannot add overlapping
    # windows at the same moment.
    return CoachProfile.objects.select_for_update().get(pk=profile.pk)


@transaction.atomic
def availability_window_add(
    *, coach: CoachProfile, weekday: int, start_minute: int, end_minute: int
) -> AvailabilityWindow:
    if weekday not in range(7):
        raise CoachingError("Pick a day of the week.")
    if not 0 <= start_minute < end_minute <= 24 * 60:
        raise CoachingError("A window must end after it starts, on the same day.")
    coach = _lock(coach)
    clash = (
        coach.availability_windows.filter(
            weekday=weekday, start_minute__lt=end_minute, end_minute__gt=start_minute
        )
        .order_by("start_minute")
        .first()
    )
    if clash is not None:
        raise CoachingError(f"This window overlaps your {clash}. Change or remove that one first.")
    window = AvailabilityWindow.objects.create(
        coach=coach, weekday=weekday, start_minute=start_minute, end_minute=end_minute
    )
    _listing_follows_hours(coach)
    return window


@transaction.atomic
def availability_window_remove(*, coach: CoachProfile, window: AvailabilityWindow) -> None:
    if window.coach_id != coach.pk:
        raise CoachingError("That window is not yours.")
    window.delete()
    _listing_follows_hours(_lock(coach))


@transaction.atomic
def time_off_add(
    *, coach: CoachProfile, first_day: date, last_day: date, note: str, now: datetime
) -> TimeOff:
    """Whole days off, from the start of ``first_day`` to the end of ``last_day`` in the
    coach's zone."""
    if last_day < first_day:
        raise CoachingError("The last day off cannot be before the first.")
    zone = coach.zone
    if last_day < now.astimezone(zone).date():
        raise CoachingError("Those days are already over.")
    if (last_day - first_day).days > 366:
        raise CoachingError("Time off can be at most a year at a time.")
    starts_at = boundary_instant(first_day, 0, zone)
    ends_at = boundary_instant(last_day + timedelta(days=1), 0, zone)
    # The whole stretch lies within the horizon, not only its first day.
    if too_far := beyond_horizon(ends_at - timedelta(microseconds=1), now):
        raise CoachingError(too_far)
    coach = _lock(coach)
    clash = coach.time_off.filter(starts_at__lt=ends_at, ends_at__gt=starts_at).first()
    if clash is not None:
        raise CoachingError("These days overlap time off you already have.")
    return TimeOff.objects.create(
        coach=coach, starts_at=starts_at, ends_at=ends_at, note=note.strip()
    )


@transaction.atomic
def time_off_remove(*, coach: CoachProfile, time_off: TimeOff) -> None:
    if time_off.coach_id != coach.pk:
        raise CoachingError("That time off is not yours.")
    time_off.delete()
