"""The IANA time zones people may pick, and helpers to show instants in them."""

import zoneinfo
from datetime import datetime
from functools import cache


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


def zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in zone_names()]


def zone_label(name: str, at: datetime) -> str:
    """'Europe/Berlin (CET)': the zone and its abbreviation at that instant."""
    abbreviation = at.astimezone(zoneinfo.ZoneInfo(name)).strftime("%Z")
    return f"{name.replace('_', ' ')} ({abbreviation})"
