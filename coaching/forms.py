from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings

from accounts.forms import TimeZoneField
from coaching.catalog import DAYPARTS, WHENS, Filters
from coaching.models import LANGUAGES, AvailabilityWindow, Skill
from coaching.selectors import CATALOG_SORTS
from hse.forms import DayField
from hse.money import MoneyError, parse_major
from hse.text import validate_single_line, validate_text


def _minute_choices(first: int, last: int) -> list[tuple[str, str]]:
    grid = settings.HSE_SLOT_GRID_MINUTES
    return [
        (str(minute), AvailabilityWindow.minute_label(minute))
        for minute in range(first, last + 1, grid)
    ]


class CatalogFilterForm(forms.Form):
    """The catalog's filters, all optional: what does not parse is named on the page and
    the rest still filters."""

    skill = forms.CharField(required=False, max_length=60)
    q = forms.CharField(required=False, max_length=100, label="Search")
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, (label, _) in CATALOG_SORTS.items()],
    )
    price_min = forms.CharField(required=False, max_length=12, label="From")
    price_max = forms.CharField(required=False, max_length=12, label="To")
    language = forms.MultipleChoiceField(required=False, choices=LANGUAGES)
    when = forms.ChoiceField(required=False, choices=[("", "Any time"), *WHENS.items()])
    part = forms.MultipleChoiceField(
        required=False, choices=[(name, label) for name, (label, _, _) in DAYPARTS.items()]
    )
    weekends = forms.BooleanField(required=False)

    def clean_skill(self) -> Skill | None:
        slug = self.cleaned_data["skill"].strip()
        if not slug:
            return None
        skill = Skill.objects.filter(slug=slug).first()
        if skill is None:
            raise forms.ValidationError(f"There is no skill “{slug[:40]}”. Showing every skill.")
        return skill

    def clean_sort(self) -> str:
        return self.cleaned_data["sort"] or "name"

    def _price(self, name: str) -> int | None:
        text = self.cleaned_data[name].strip()
        if not text:
            return None
        try:
            amount = parse_major(text, settings.HSE_CURRENCY)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None
        if amount < 0:
            raise forms.ValidationError("A price is not below zero.")
        return amount

    def clean_price_min(self) -> int | None:
        return self._price("price_min")

    def clean_price_max(self) -> int | None:
        return self._price("price_max")

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            skill=data.get("skill"),
            query=data.get("q", ""),
            sort=data.get("sort") or "name",
            price_min=data.get("price_min"),
            price_max=data.get("price_max"),
            languages=tuple(data.get("language") or ()),
            when=data.get("when") or "",
            dayparts=tuple(data.get("part") or ()),
            weekends=bool(data.get("weekends")),
        )


class CoachProfileForm(forms.Form):
    headline = forms.CharField(
        validators=[validate_single_line],
        max_length=120,
        help_text="One line clients see in the catalog, e.g. “Leadership coach”.",
    )
    bio = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), max_length=4000, validators=[validate_text]
    )
    skills = forms.ModelMultipleChoiceField(
        queryset=Skill.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    languages = forms.MultipleChoiceField(choices=LANGUAGES, widget=forms.CheckboxSelectMultiple)
    hourly_price = forms.CharField(
        label=f"Hourly price ({settings.HSE_CURRENCY})",
        help_text="A session costs its share of the hour: "
        + ", ".join(
            f"{length} minutes, {length}/60 of it" for length in settings.HSE_SESSION_DURATIONS
        )
        + ".",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    minimum_notice_hours = forms.IntegerField(
        label="Minimum notice (hours)",
        min_value=0,
        max_value=720,
        help_text="Clients cannot book you closer to the start than this.",
    )
    time_zone = TimeZoneField(help_text="The zone your weekly availability is written in.")

    def clean_hourly_price(self) -> int:
        try:
            amount = parse_major(self.cleaned_data["hourly_price"], settings.HSE_CURRENCY)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None
        if amount <= 0:
            raise forms.ValidationError("The hourly price must be more than zero.")
        if amount > 100_000_00:
            raise forms.ValidationError("The hourly price is too high.")
        return amount


class CoachOffersForm(forms.Form):
    """A trial session and a discount per package size; the services check them again."""

    trial_offered = forms.BooleanField(
        required=False,
        label=f"Offer one {settings.HSE_TRIAL_MINUTES}-minute trial session per client",
    )
    trial_price = forms.CharField(
        required=False,
        max_length=12,
        label=f"Trial price ({settings.HSE_CURRENCY})",
        help_text="0 or empty: free.",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for size in settings.HSE_PACKAGE_SIZES:
            self.fields[f"discount_{size}"] = forms.IntegerField(
                required=False,
                min_value=0,
                max_value=settings.HSE_MAX_PACKAGE_DISCOUNT_PERCENT,
                label=f"{size} sessions: discount (%)",
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    def clean_trial_price(self) -> int:
        text = self.cleaned_data["trial_price"].strip()
        if not text:
            return 0
        try:
            amount = parse_major(text, settings.HSE_CURRENCY)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None
        if not 0 <= amount <= 100_000_00:
            raise forms.ValidationError("The trial price must be between 0 (free) and 100,000.")
        return amount

    def discounts(self) -> dict[int, int]:
        return {
            size: self.cleaned_data.get(f"discount_{size}") or 0
            for size in settings.HSE_PACKAGE_SIZES
        }

    def discount_fields(self):
        return [self[f"discount_{size}"] for size in settings.HSE_PACKAGE_SIZES]


class WindowForm(forms.Form):
    weekday = forms.TypedChoiceField(label="Day", choices=AvailabilityWindow.WEEKDAYS, coerce=int)
    start_minute = forms.TypedChoiceField(
        label="From", choices=_minute_choices(0, 24 * 60 - 15), coerce=int, initial="540"
    )
    end_minute = forms.TypedChoiceField(
        label="To", choices=_minute_choices(15, 24 * 60), coerce=int, initial="720"
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start_minute"), data.get("end_minute")
        if start is not None and end is not None and end <= start:
            raise forms.ValidationError("The window must end after it starts.")
        return data


class TimeOffForm(forms.Form):
    """Time off on the coach's own clock: from a day (and a time, else its start) to a day
    (and a time, else its end). ``cleaned_data`` gains ``starts`` and ``ends``, naive wall
    times, the end excluded."""

    first_day = DayField(label="First day off", widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label="From (time)",
        required=False,
        help_text="Empty: from the start of the day.",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    last_day = DayField(label="Last day off", widget=forms.DateInput(attrs={"type": "date"}))
    end_time = forms.TimeField(
        label="Until (time)",
        required=False,
        help_text="Empty: to the end of the last day.",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    note = forms.CharField(
        required=False,
        max_length=120,
        label="Note (only you see it)",
        validators=[validate_single_line],
    )

    def clean(self):
        data = super().clean()
        first, last = data.get("first_day"), data.get("last_day")
        if not (first and last):
            return data
        if last < first:
            raise forms.ValidationError("The last day off cannot be before the first.")
        start_time, end_time = data.get("start_time"), data.get("end_time")
        starts = datetime.combine(first, (start_time or time()).replace(second=0, microsecond=0))
        if end_time is None:
            ends = datetime.combine(last + timedelta(days=1), time())
        else:
            ends = datetime.combine(last, end_time.replace(second=0, microsecond=0))
        if ends <= starts:
            raise forms.ValidationError("Time off must end after it starts.")
        data["starts"], data["ends"] = starts, ends
        return data


class BusyCalendarForm(forms.Form):
    url = forms.CharField(
        max_length=2000,
        label="Calendar address (iCal)",
        help_text="The secret iCal address of your Google, Outlook or iCloud calendar.",
        widget=forms.TextInput(attrs={"placeholder": "https://…/basic.ics", "inputmode": "url"}),
    )
