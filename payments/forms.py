from django import forms
from django.conf import settings

from hse.forms import InstantField
from hse.money import MoneyError, parse_major


class CheckoutForm(forms.Form):
    """The buy flow's final POST; each value is checked again by the services."""

    skill = forms.SlugField()
    duration = forms.TypedChoiceField(
        choices=[(m, m) for m in settings.HSE_SESSION_DURATIONS], coerce=int
    )
    quantity = forms.TypedChoiceField(
        choices=[(n, n) for n in (1, *settings.HSE_PACKAGE_SIZES)], coerce=int
    )
    start = InstantField(required=False)
    method = forms.ChoiceField(choices=[("stripe", "Card"), ("wallet", "Wallet")])
    token = forms.CharField(required=False, max_length=64)
    trial = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("quantity") == 1 and not data.get("start"):
            raise forms.ValidationError("Pick a date and time for the session.")
        return data


class TopUpForm(forms.Form):
    amount = forms.CharField(
        label=f"Amount ({settings.HSE_CURRENCY})",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "50"}),
    )

    def clean_amount(self) -> int:
        try:
            amount = parse_major(self.cleaned_data["amount"], settings.HSE_CURRENCY)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None
        if amount <= 0:
            raise forms.ValidationError("Enter an amount above zero.")
        return amount
