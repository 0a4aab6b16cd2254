from datetime import datetime

from django import forms
from django.conf import settings

from coaching.availability import local_instant
from hse.forms import checked_naive


class LocalTimeField(forms.DateTimeField):
    """A wall-clock date and time in the viewer's zone (``<input type=datetime-local>``),
    cleaned to an aware UTC instant. Times that do not exist there (clocks jump forward)
    are refused with the reason; repeated ones mean the first."""

    widget = forms.DateTimeInput(
        attrs={"type": "datetime-local", "step": settings.HSE_SLOT_GRID_MINUTES * 60},
        format="%Y-%m-%dT%H:%M",
    )

    def __init__(self, *, zone, **kwargs):
        self.zone = zone
        super().__init__(input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"], **kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            naive = checked_naive(value)
        except ValueError:
            raise forms.ValidationError("Enter a date and a time, e.g. 2026-12-01 14:00.") from None
        instant = local_instant(naive.date(), naive.hour * 60 + naive.minute, self.zone)
        if instant is None:
            raise forms.ValidationError(
                "That time does not exist in your time zone (the clocks jump forward then)."
            )
        return instant


def _durations():
    return [(m, f"{m} minutes") for m in settings.HSE_SESSION_DURATIONS]


class ClientProposeForm(forms.Form):
    kind = forms.ChoiceField(label="Session")
    start = forms.Field(label="Date and time")

    def __init__(self, *args, credit_kinds, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = credit_kinds
        self.fields["start"] = LocalTimeField(zone=zone, label="Date and time")


class CoachProposeForm(forms.Form):
    client = forms.ChoiceField(label="Client")
    skill = forms.ChoiceField(label="Skill")
    duration = forms.TypedChoiceField(label="Length", choices=_durations, coerce=int)

    def __init__(self, *args, clients, skills, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].choices = clients
        self.fields["skill"].choices = skills
        self.fields["start"] = LocalTimeField(zone=zone, label="Date and time")


class AdjustForm(forms.Form):
    duration = forms.TypedChoiceField(
        label="Length", choices=_durations, coerce=int, required=False
    )

    def __init__(self, *args, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start"] = LocalTimeField(zone=zone, label="New date and time")


class RescheduleForm(forms.Form):
    def __init__(self, *args, zone, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start"] = LocalTimeField(zone=zone, label="New date and time")
