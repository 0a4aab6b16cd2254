"""The IANA time zones people may pick, and helpers to show instants in them."""

import logging
import zoneinfo
from functools import cache
from importlib.resources import files

from django.core.exceptions import ValidationError

log = logging.getLogger(__name__)


def _tzdata(name: str) -> list[str]:
    return files("tzdata.zoneinfo").joinpath(name).read_text(encoding="utf-8").splitlines()


@cache
def zone_names() -> tuple[str, ...]:
    """The zones people pick from: the current name of each place (the tz database's
    zone.tab, so "Asia/Kolkata", not its old alias "Asia/Calcutta"), and UTC."""
    names = {line.split("\t")[2] for line in _tzdata("zone.tab") if not line.startswith("#")}
    return tuple(sorted(names | {"UTC"}))


@cache
def zone_links() -> dict[str, str]:
    """Old and alternative names ("Asia/Calcutta", "US/Eastern") -> the current one."""
    links = {}
    for line in _tzdata("tzdata.zi"):
        if line.startswith("L "):
            _, target, alias = line.split()
            links[alias] = target
    # A link may point at another link; follow it to a zone people pick.
    return {alias: _follow(links, target) for alias, target in links.items()}


def _follow(links: dict[str, str], name: str) -> str:
    for _ in range(5):
        name = links.get(name, name)
    return name


def canonical_zone(name: str) -> str:
    """The current name of ``name`` (itself when it is one); "" when it is not a zone."""
    if name in zone_names():
        return name
    name = zone_links().get(name, name)
    if name == "Etc/UTC":
        return "UTC"
    return name if name in zone_names() else ""


def is_valid_zone(name: str) -> bool:
    return isinstance(name, str) and canonical_zone(name) != ""


def validate_zone(name: str) -> None:
    """For every field that holds a zone (the admin's forms run it too)."""
    if not is_valid_zone(name):
        raise ValidationError(f"“{str(name)[:60]}” is not a time zone we know, e.g. Europe/Berlin.")


def zone_or_utc(name: str) -> zoneinfo.ZoneInfo:
    """The zone ``name``; one that is not a zone (written before zones were checked, or by
    hand) is shown as UTC rather than breaking the page or the email, and logged."""
    if is_valid_zone(name):
        return zoneinfo.ZoneInfo(canonical_zone(name))
    log.warning("unknown time zone %r: showing UTC", str(name)[:80])
    return zoneinfo.ZoneInfo("UTC")


def zone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The zones grouped by region ("Europe": Berlin, Kyiv…), UTC on its own."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in zone_names():
        region, _, place = name.partition("/")
        groups.setdefault(region if place else "Universal", []).append(
            (name, (place or name).replace("_", " ").replace("/", " – "))
        )
    return sorted(groups.items())
