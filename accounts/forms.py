from allauth.account import forms as allauth_forms
from django import forms

from accounts.models import User
from accounts.services import user_complete_signup
from accounts.timezones import canonical_zone, is_valid_zone, zone_choices
from hse.text import validate_single_line


class TimeZoneField(forms.ChoiceField):
    """A zone from the list, grouped by region; an old name for one ("Asia/Calcutta", as
    some browsers still say) is taken as its current name."""

    def __init__(self, **kwargs):
        super().__init__(choices=zone_choices, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return canonical_zone(value) or value

    def validate(self, value):
        if value and not is_valid_zone(value):
            raise forms.ValidationError(
                f"“{value[:60]}” is not a time zone we know. "
                "Pick one from the list, e.g. Europe/Berlin.",
                code="invalid_zone",
            )
        super().validate(value)


class OurWording:
    """allauth's account forms in our words: labels in sentence case, and no placeholder
    that only repeats the label above the box."""

    labels: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs.pop("placeholder", None)
            if name in self.labels:
                field.label = self.labels[name]


class LoginForm(OurWording, allauth_forms.LoginForm):
    labels = {"remember": "Remember me"}


class SignupForm(OurWording, allauth_forms.SignupForm):
    """allauth's email and passwords, then our own fields; ``signup`` completes the user."""

    labels = {"password2": "Confirm password"}

    display_name = forms.CharField(
        label="Your name",
        max_length=80,
        help_text="Shown to coaches and clients.",
        validators=[validate_single_line],
    )
    role = forms.ChoiceField(
        label="I want to",
        choices=[(User.Role.CLIENT, "Find a coach"), (User.Role.COACH, "Coach clients")],
        widget=forms.RadioSelect,
        initial=User.Role.CLIENT,
    )
    time_zone = TimeZoneField(
        label="Time zone",
        help_text="Filled in from your browser. All times are shown in this zone.",
        widget=forms.Select(attrs={"data-browser-zone": "1"}),
    )

    field_order = ["display_name", "email", "password1", "password2", "role", "time_zone"]

    def signup(self, request, user: User) -> None:
        user_complete_signup(
            user=user,
            display_name=self.cleaned_data["display_name"],
            role=self.cleaned_data["role"],
            time_zone=self.cleaned_data["time_zone"],
        )


class ResetPasswordForm(OurWording, allauth_forms.ResetPasswordForm):
    pass


class ResetPasswordKeyForm(OurWording, allauth_forms.ResetPasswordKeyForm):
    labels = {"password1": "New password", "password2": "Confirm new password"}


class ChangePasswordForm(OurWording, allauth_forms.ChangePasswordForm):
    labels = {
        "oldpassword": "Current password",
        "password1": "New password",
        "password2": "Confirm new password",
    }


class SetPasswordForm(OurWording, allauth_forms.SetPasswordForm):
    labels = {"password2": "Confirm password"}


class AddEmailForm(OurWording, allauth_forms.AddEmailForm):
    labels = {"email": "Email address"}


class ReauthenticateForm(OurWording, allauth_forms.ReauthenticateForm):
    pass


class AccountSettingsForm(forms.Form):
    display_name = forms.CharField(
        label="Your name", max_length=80, validators=[validate_single_line]
    )
    time_zone = TimeZoneField(
        label="Time zone", help_text="Every page and email shows times in this zone."
    )
