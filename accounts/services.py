import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import CalendarFeed, User
from accounts.timezones import is_valid_zone
from hse.text import validate_single_line


class AccountError(Exception):
    """A rule about accounts was broken; the message is for people."""


def _check_zone(time_zone: str) -> None:
    if not is_valid_zone(time_zone):
        raise AccountError(f"“{time_zone[:60]}” is not a time zone we know.")


def _name(display_name: str) -> str:
    name = display_name.strip()
    try:
        validate_single_line(name)
    except ValidationError as error:
        raise AccountError(error.messages[0]) from None
    if not name:
        raise AccountError("Tell us your name.")
    return name


def user_complete_signup(*, user: User, display_name: str, role: str, time_zone: str) -> User:
    _check_zone(time_zone)
    if role not in User.Role.values:
        raise AccountError("Choose whether you want to find a coach or to coach.")
    user.display_name = _name(display_name)
    user.role = role
    user.time_zone = time_zone
    user.save(update_fields=["display_name", "role", "time_zone"])
    return user


@dataclass(frozen=True)
class ZoneFollower:
    """Something a higher app keeps in the account's zone (a coach's weekly hours and time
    off): ``clashes(user=, time_zone=, now=)`` lists what a move to ``time_zone`` would
    put in doubt (booked sessions: each with ``starts_at``, ``ends_at``, ``title`` and
    ``url``), for the page to ask first; ``follow(user=,
    old_zone=, new_zone=)`` moves it along, in the same transaction as the account."""

    clashes: Callable[..., list]
    follow: Callable[..., None]


_zone_followers: dict[str, ZoneFollower] = {}


def zone_follower_register(name: str, follower: ZoneFollower) -> None:
    _zone_followers[name] = follower


def zone_change_clashes(*, user: User, time_zone: str, now: datetime) -> list:
    """What moving ``user`` to ``time_zone`` would put in doubt; [] for the same zone."""
    if time_zone == user.time_zone or not is_valid_zone(time_zone):
        return []
    return [
        item
        for follower in _zone_followers.values()
        for item in follower.clashes(user=user, time_zone=time_zone, now=now)
    ]


@transaction.atomic
def user_update_settings(*, user: User, display_name: str, time_zone: str) -> User:
    _check_zone(time_zone)
    old_zone = user.time_zone
    user.display_name = _name(display_name)
    user.time_zone = time_zone
    user.save(update_fields=["display_name", "time_zone"])
    if old_zone != time_zone:
        for follower in _zone_followers.values():
            follower.follow(user=user, old_zone=old_zone, new_zone=time_zone)
    return user


def calendar_feed_renew(*, user: User, now: datetime) -> CalendarFeed:
    """Gives ``user`` a private calendar address, or a new secret for theirs: the old address
    answers 404 from this commit on."""
    secret = secrets.token_urlsafe(32)  # 256 bits, 43 characters
    with transaction.atomic():
        # Two first clicks at once both find no address: the person's row is locked
        # first, so the second waits and renews the address the first made instead of
        # meeting the one-per-person constraint (which update_or_create would then catch
        # and read again: the lock makes the waiting plain rather than left to that).
        User.objects.select_for_update().filter(pk=user.pk).exists()
        feed, _ = CalendarFeed.objects.update_or_create(
            user=user, defaults={"secret": secret, "created_at": now}
        )
    return feed
