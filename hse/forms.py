"""Form fields every app parses visitors' input with."""

from datetime import UTC, datetime

from django import forms

from hse.bounds import day_ok, instant_ok


class InstantField(forms.DateTimeField):
    """An instant the page itself wrote into the form (``2026-11-23T14:00:00Z``), cleaned
    to an aware UTC datetime; anything else, or a year no session could be in, is refused."""

    def to_python(self, value):
        instant = super().to_python(value)
        if instant is None:
            return None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        if not instant_ok(instant):
            raise forms.ValidationError("That date is out of range. Please pick a time offered.")
        return instant.astimezone(UTC)


class DayField(forms.DateField):
    """A calendar day within the years anything here can be about."""

    def to_python(self, value):
        day = super().to_python(value)
        if day is not None and not day_ok(day):
            raise forms.ValidationError("That date is out of range.")
        return day


def checked_naive(text: str) -> datetime:
    """``2026-12-01T14:00`` as a naive datetime within range; ValueError otherwise."""
    naive = datetime.strptime(str(text).strip()[:16], "%Y-%m-%dT%H:%M")
    if not day_ok(naive.date()):
        raise ValueError("out of range")
    return naive


def errors_text(form: forms.Form) -> str:
    """A form's errors as one sentence for a message, each named by its field's label."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = f"{field.label}: " if field is not None and field.label else ""
        parts.extend(f"{label}{error}" for error in errors)
    return " ".join(parts)
