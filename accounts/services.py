from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
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


@transaction.atomic
def user_update_settings(*, user: User, display_name: str, time_zone: str) -> User:
    _check_zone(time_zone)
    user.display_name = _name(display_name)
    user.time_zone = time_zone
    user.save(update_fields=["display_name", "time_zone"])
    return user
