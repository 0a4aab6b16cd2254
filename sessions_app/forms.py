from django import forms

from hse.forms import InstantField
from hse.text import validate_text
from sessions_app.models import Report


class SurveyForm(forms.Form):
    goals = forms.CharField(
        label="What do you want to get out of this session?",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        validators=[validate_text],
    )
    challenges = forms.CharField(
        label="What is getting in your way right now?",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        validators=[validate_text],
    )


class ScheduleForm(forms.Form):
    start = InstantField()


class ConfirmForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="How was it?",
        choices=[("", "No rating")] + [(n, "★" * n) for n in range(5, 0, -1)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    comment = forms.CharField(
        label="A comment for the coach's page (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_text],
    )


class ReplyForm(forms.Form):
    reply = forms.CharField(
        label="Your public reply",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_text],
    )


class ReportForm(forms.Form):
    reason = forms.ChoiceField(label="What went wrong?", choices=Report.Reason.choices)
    details = forms.CharField(
        label="Details",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 5}),
        validators=[validate_text],
    )
