from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html

from hse.money import format_money

register = template.Library()


@register.filter
def money(amount: int | None, currency: str) -> str:
    """{{ coach.hourly_price|money:coach.currency }} -> "$85.00"."""
    if amount is None:
        return ""
    return format_money(amount, currency)


@register.filter
def zone_abbr(value: datetime) -> str:
    """The abbreviation of the viewer's zone at that instant (CET, EST, ...)."""
    return timezone.localtime(value).strftime("%Z")


@register.filter
def day_time(value: datetime) -> str:
    """ "Tue 14 Jan, 14:00" in the viewer's zone, with the year when it is not this one
    ("Tue 14 Jan 2027, 14:00")."""
    local = timezone.localtime(value)
    return f"{day(value)}, {local:%H:%M}"


@register.filter
def day(value: datetime) -> str:
    """ "Tue 14 Jan" in the viewer's zone, with the year when it is not this one."""
    local = timezone.localtime(value)
    year = "" if local.year == timezone.localtime().year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year}"


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
