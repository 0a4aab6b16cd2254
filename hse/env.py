"""Strict readers for settings taken from the environment.

A malformed value stops start-up with a message naming the variable, so a typo in
production configuration never turns silently into a default.
"""

import json
import os
import zoneinfo

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvError(ImproperlyConfigured):
    pass


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise EnvError(f"{name} must be one of true/false/1/0/yes/no/on/off, not {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name} must be a whole number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name} must be at least {minimum}, not {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise EnvError(f"{name} must be a comma-separated list without empty items, not {value!r}")
    return items


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value not in choices:
        raise EnvError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_url(name: str, default: str | None, schemes: tuple[str, ...]) -> str | None:
    value = _raw(name)
    if value is None:
        return default
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:
        raise EnvError(
            f"{name} must be a URL starting with one of {', '.join(schemes)}, not {value!r}"
        )
    return value


def env_timezone(name: str, default: str) -> str:
    value = _raw(name)
    if value is None:
        return default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise EnvError(f"{name} must be an IANA time zone name, not {value!r}") from None
    return value


def env_json_list(name: str, default: list) -> list:
    """A JSON list of objects, e.g. ICE servers: [{"urls": "stun:..."}]."""
    value = _raw(name)
    if value is None:
        return default
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise EnvError(f"{name} must be a JSON list, not {value!r} ({error.msg})") from None
    if not isinstance(parsed, list) or not all(isinstance(item, dict) for item in parsed):
        raise EnvError(f"{name} must be a JSON list of objects, not {value!r}")
    return parsed
