"""The IANA time zones people may pick, and helpers to show instants in them."""

import logging
import zoneinfo
from datetime import datetime
from functools import cache

from django.core.exceptions import ValidationError

log = logging.getLogger(__name__)


@cache
def zone_names() -> tuple[str, ...]:
    # Drop the legacy aliases ("US/Eastern", "Etc/GMT+5", "EST5EDT"): people look for cities.
    return tuple(
        sorted(
            name
            for name in zoneinfo.available_timezones()
            if ("/" in name and not name.startswith(("Etc/", "SystemV/", "US/"))) or name == "UTC"
        )
    )


def is_valid_zone(name: str) -> bool:
    return name in zone_names()


def validate_zone(name: str) -> None:
    """For every field that holds a zone (the admin's forms run it too)."""
    if not is_valid_zone(name):
        raise ValidationError(f"“{str(name)[:60]}” is not a time zone we know, e.g. Europe/Berlin.")


def zone_or_utc(name: str) -> zoneinfo.ZoneInfo:
    """The zone ``name``; one that is not a zone (written before zones were checked, or by
    hand) is shown as UTC rather than breaking the page or the email, and logged."""
    if is_valid_zone(name):
        return zoneinfo.ZoneInfo(name)
    log.warning("unknown time zone %r: showing UTC", str(name)[:80])
    return zoneinfo.ZoneInfo("UTC")


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in zone_names()]


def zone_label(name: str, at: datetime) -> str:
    """'Europe/Berlin (CET)': the zone and its abbreviation at that instant."""
    abbreviation = at.astimezone(zone_or_utc(name)).strftime("%Z")
    return f"{name.replace('_', ' ')} ({abbreviation})"
