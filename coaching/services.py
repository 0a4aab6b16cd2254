from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from accounts.timezones import is_valid_zone
from coaching.availability import wall_interval
from coaching.models import LANGUAGE_NAMES, AvailabilityWindow, CoachProfile, Skill, TimeOff
from hse.bounds import beyond_horizon
from hse.text import validate_single_line, validate_text

MAX_MINIMUM_NOTICE_MINUTES = 30 * 24 * 60
TRIAL_PRICE_MOST = 100_000_00  # minor units, as the database's coach_trial_price_bounded


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


def coach_offers_update(
    *, profile: CoachProfile, trial_offered: bool, trial_price: int, discounts: dict[int, int]
) -> CoachProfile:
    """The coach's trial (free at price 0) and discount per package size, each checked here
    whatever the form said: a size we sell, 0 to HSE_MAX_PACKAGE_DISCOUNT_PERCENT."""
    most = settings.HSE_MAX_PACKAGE_DISCOUNT_PERCENT
    if not 0 <= trial_price <= TRIAL_PRICE_MOST:
        raise CoachingError("The trial price must be between 0 (free) and 100,000.")
    clean = {}
    for size, percent in discounts.items():
        if size not in settings.HSE_PACKAGE_SIZES:
            raise CoachingError(f"There is no package of {size} sessions.")
        if not isinstance(percent, int) or not 0 <= percent <= most:
            raise CoachingError(f"A package discount is between 0 and {most} %.")
        if percent:
            clean[str(size)] = percent
    profile.trial_offered = trial_offered
    profile.trial_price = trial_price
    profile.package_discounts = clean
    profile.save(update_fields=["trial_offered", "trial_price", "package_discounts", "updated_at"])
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


MAX_TIME_OFF = timedelta(days=367)  # a year of whole days, counting both ends


def time_off_check(
    *, coach: CoachProfile, starts: datetime, ends: datetime, now: datetime
) -> tuple[datetime, datetime]:
    """The instants of time off from wall time ``starts`` to ``ends`` (naive, the coach's
    clock) in the coach's zone, or CoachingError saying why it cannot be added."""
    starts, ends = starts.replace(second=0, microsecond=0), ends.replace(second=0, microsecond=0)
    if ends <= starts:
        raise CoachingError("Time off must end after it starts.")
    if ends - starts > MAX_TIME_OFF:
        raise CoachingError("Time off can be at most a year at a time.")
    begins, finishes = wall_interval(starts, ends, coach.zone)
    if finishes <= begins:
        raise CoachingError(
            "Your clock skips that time (the clocks go forward then): there is nothing to take off."
        )
    if finishes <= now:
        raise CoachingError("That time is already over.")
    # The whole stretch lies within the horizon, not only its start.
    if too_far := beyond_horizon(finishes - timedelta(microseconds=1), now):
        raise CoachingError(too_far)
    return begins, finishes


@transaction.atomic
def time_off_add(
    *, coach: CoachProfile, starts: datetime, ends: datetime, note: str, now: datetime
) -> TimeOff:
    """Time off from wall time ``starts`` up to ``ends`` (naive datetimes, the coach's
    clock), kept as wall time: it stays at these local hours if the coach changes zone.
    Sessions already booked then stay booked (the page asks first)."""
    time_off_check(coach=coach, starts=starts, ends=ends, now=now)
    starts, ends = starts.replace(second=0, microsecond=0), ends.replace(second=0, microsecond=0)
    coach = _lock(coach)
    nearby = coach.time_off.filter(start_date__lte=ends.date(), end_date__gte=starts.date())
    if any(off.starts < ends and off.ends > starts for off in nearby):
        raise CoachingError("These times overlap time off you already have.")
    return TimeOff.objects.create(
        coach=coach,
        start_date=starts.date(),
        start_time=starts.time(),
        end_date=ends.date(),
        end_time=ends.time(),
        note=note.strip(),
    )


@transaction.atomic
def time_off_remove(*, coach: CoachProfile, time_off: TimeOff) -> None:
    if time_off.coach_id != coach.pk:
        raise CoachingError("That time off is not yours.")
    time_off.delete()


@transaction.atomic
def coach_zone_follow(*, user: User, old_zone: str, new_zone: str) -> None:
    """A coach whose weekly hours are written in their account's zone takes them along when
    the account moves to ``new_zone``: the hours and the time off stay at the same local
    times there. A profile kept in a zone of its own is left alone."""
    profile = CoachProfile.objects.select_for_update().filter(user=user).first()
    if profile is None or profile.time_zone != old_zone or old_zone == new_zone:
        return
    profile.time_zone = new_zone
    profile.save(update_fields=["time_zone", "updated_at"])
