from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html

from hse import clock
from hse.money import format_money

register = template.Library()


@register.filter
def money(amount: int | None, currency: str) -> str:
    """{{ coach.hourly_price|money:coach.currency }} -> "$85.00"."""
    if amount is None:
        return ""
    return format_money(amount, currency)


def _now(context=None) -> datetime:
    """The page's ``now`` when the view passed one, so a page reads the clock once."""
    now = context.get("now") if context is not None else None
    return now if isinstance(now, datetime) else timezone.now()


def _instants(*values) -> bool:
    """Whether a tag was given instants: a variable missing from the context (an email
    rendered without its row) shows nothing, as Django's own filters do."""
    return all(isinstance(value, datetime) for value in values)


@register.filter
def zone_abbr(value: datetime) -> str:
    """The abbreviation of the viewer's zone at that instant (CET, EST, UTC+5:45, ...)."""
    return clock.abbreviation(value, timezone.get_current_timezone())


@register.filter
def when(value: datetime, style: str = "") -> str:
    """ "Tue 14 Jan, 14:00 CET" in the viewer's zone, with the year when it is not this
    one; ``when:"long"`` spells the day out, ``when:"seconds"`` adds the seconds."""
    if not _instants(value):
        return ""
    zone = timezone.get_current_timezone()
    return clock.when(value, zone, timezone.now(), long=style == "long", seconds=style == "seconds")


@register.filter(name="clock")
def clock_filter(value: datetime) -> str:
    """ "14:00 CET": a time of a day the reader already knows, with its abbreviation."""
    return clock.clock(value, timezone.get_current_timezone()) if _instants(value) else ""


@register.filter
def day(value: datetime) -> str:
    """ "Tue 14 Jan" in the viewer's zone, with the year when it is not this one."""
    return clock.day(value, timezone.get_current_timezone(), timezone.now())


@register.simple_tag(takes_context=True)
def span(context, start: datetime, end: datetime, long: bool = False) -> str:
    """{% span session.starts_at session.ends_at %}: "Tue 14 Jan, 14:00–15:00 CET", each end
    labelled when they differ ("01:30 EDT – 01:30 EST")."""
    if not _instants(start, end):
        return ""
    return clock.span(start, end, timezone.get_current_timezone(), _now(context), long=long)


@register.simple_tag(takes_context=True)
def both_clocks(context, start: datetime, end: datetime | None, other, long: bool = False) -> str:
    """{% both_clocks session.starts_at session.ends_at other %}: the reader's time and the
    other person's ("… CET for you · 09:00–10:00 EST for Bob")."""
    if not _instants(start) or not hasattr(other, "zone"):
        return ""
    return clock.both_clocks(
        start,
        end,
        zone=timezone.get_current_timezone(),
        other_zone=other.zone,
        other_name=other.display_name,
        now=_now(context),
        long=long,
    )


@register.simple_tag(takes_context=True)
def other_clock(context, start: datetime, end: datetime | None, other, long: bool = False) -> str:
    """{% other_clock session.starts_at session.ends_at other %}: "09:00–10:00 EST for Bob",
    after the reader's own time."""
    if not _instants(start) or not hasattr(other, "zone"):
        return ""
    return clock.other_clock(
        start,
        end,
        zone=timezone.get_current_timezone(),
        other_zone=other.zone,
        other_name=other.display_name,
        now=_now(context),
        long=long,
    )


@register.filter
def relative(value: datetime) -> str:
    """ "today at 15:00 CET", "tomorrow at 09:00 CET", else "on Tue 14 Jan at 09:00 CET"."""
    if not _instants(value):
        return ""
    return clock.relative_day(value, timezone.get_current_timezone(), timezone.now())


@register.simple_tag(takes_context=True)
def clock_change_note(context, at: datetime, other) -> str:
    """A sentence when the two people's clocks change on different dates before ``at``."""
    if not _instants(at) or not hasattr(other, "zone"):
        return ""
    return clock.clock_change_note(
        at,
        zone=timezone.get_current_timezone(),
        other_zone=other.zone,
        other_name=other.display_name,
        now=_now(context),
    )


@register.simple_tag(takes_context=True)
def hours(context, start: datetime, end: datetime) -> str:
    """{% hours session.starts_at session.ends_at %} under the session's day: "14:00–15:00 CET"
    (each end labelled when they differ)."""
    if not _instants(start, end):
        return ""
    return clock.hours(start, end, timezone.get_current_timezone(), _now(context))


@register.filter
def shared_abbr(times) -> str:
    """The abbreviation a day's open times all share (for its heading), or "" when the
    clocks change that day and each time carries its own. Takes times or (time, ...) pairs."""
    instants = [t[0] if isinstance(t, tuple | list) else t for t in times]
    return clock.shared_abbreviation(instants, timezone.get_current_timezone())


@register.filter
def long_day(value) -> str:
    """A local date as "Sunday 1 November", with the year when it is not this one."""
    this_year = timezone.localtime().year
    return clock.local_day(value, this_year, long=True)


@register.filter
def utc_iso(value: datetime) -> str:
    """An instant as 2026-11-23T14:00:00Z: safe in a query string (no "+")."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@register.filter
def zone_name(name: str) -> str:
    """ "America/New_York" -> "America/New York", which may wrap after its slash rather
    than inside a word."""
    first, *rest = name.replace("_", " ").split("/")
    html = escape(first)
    for part in rest:
        html = format_html("{}/<wbr>{}", html, part)
    return html


@register.filter
def stars(rating: int | None) -> str:
    return "★" * rating + "☆" * (5 - rating) if rating else ""


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string (``query`` where the view narrowed it) with some parameters
    replaced (empty value: removed)."""
    params = context.get("query", context["request"].GET).copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = value
    return params.urlencode()
