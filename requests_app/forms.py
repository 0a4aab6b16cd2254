from datetime import datetime

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator

from coaching.availability import local_instant
from hse.bounds import day_ok
from hse.forms import checked_naive
from requests_app.series import WeeklyTime


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
        self.fields["duration"] = forms.TypedChoiceField(
            label="Length", choices=_durations, coerce=int, required=False,
            help_text="A new length exchanges the session's credit: the difference in price "
            "is paid from or refunded to the client's wallet when the new time is accepted.",
        )  # fmt: skip


WEEKDAYS = [(str(d), name) for d, name in enumerate(
    ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
)]  # fmt: skip
SERIES_TIMES = 3  # how many weekday-and-time rows the series form offers


class SeriesForm(forms.Form):
    """A weekly series: up to three weekdays with a time each (on the client's clock), the
    first day, and how many sessions (at most the free credits of this kind)."""

    first_day = forms.DateField(
        label="Starting from", widget=forms.DateInput(attrs={"type": "date"})
    )
    count = forms.IntegerField(label="How many sessions", min_value=1)

    def __init__(self, *args, available: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.available = available
        self.fields["count"].max_value = available
        self.fields["count"].validators.append(MaxValueValidator(available))
        self.fields["count"].widget.attrs.update({"min": 1, "max": available})
        for row in range(1, SERIES_TIMES + 1):
            self.fields[f"weekday_{row}"] = forms.ChoiceField(
                label=f"Weekday {row}", choices=[("", "—"), *WEEKDAYS], required=row == 1
            )
            self.fields[f"time_{row}"] = forms.TimeField(
                label=f"Time {row}", required=row == 1, input_formats=["%H:%M"],
                widget=forms.TimeInput(
                    attrs={"type": "time", "step": settings.HSE_SLOT_GRID_MINUTES * 60},
                    format="%H:%M",
                ),
            )  # fmt: skip

    def clean_first_day(self):
        day = self.cleaned_data["first_day"]
        if not day_ok(day):
            raise forms.ValidationError("Choose a date between 2000 and 2999.")
        return day

    def clean(self):
        data = super().clean()
        times, seen = [], set()
        grid = settings.HSE_SLOT_GRID_MINUTES
        for row in range(1, SERIES_TIMES + 1):
            weekday, at = data.get(f"weekday_{row}"), data.get(f"time_{row}")
            if not weekday and not at:
                continue
            if not weekday or at is None:
                if f"weekday_{row}" not in self.errors and f"time_{row}" not in self.errors:
                    self.add_error(f"time_{row}", "Give both a weekday and a time, or neither.")
                continue
            if at.minute % grid or at.second:
                self.add_error(f"time_{row}", f"Pick a time on the {grid}-minute grid.")
                continue
            weekly = WeeklyTime(weekday=int(weekday), minute=at.hour * 60 + at.minute)
            if weekly not in seen:
                seen.add(weekly)
                times.append(weekly)
        if not times and not self.errors:
            self.add_error("weekday_1", "Choose a weekday and a time.")
        data["times"] = times
        return data
