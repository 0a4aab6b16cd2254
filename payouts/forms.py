from django import forms
from django.conf import settings

from hse.money import MoneyError, parse_major
from hse.text import validate_single_line


class PayoutRequestForm(forms.Form):
    amount = forms.CharField(
        label=f"Amount ({settings.HSE_CURRENCY})",
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "100"}),
    )

    def clean_amount(self) -> int:
        try:
            amount = parse_major(self.cleaned_data["amount"], settings.HSE_CURRENCY)
        except MoneyError as error:
            raise forms.ValidationError(str(error)) from None
        if amount <= 0:
            raise forms.ValidationError("Enter an amount above zero.")
        return amount


class ManualMethodForm(forms.Form):
    method = forms.ChoiceField(
        label="Paid by", choices=[("paypal", "PayPal"), ("wise", "Wise")], widget=forms.RadioSelect
    )
    details = forms.CharField(
        label="PayPal email, or Wise email or account details",
        max_length=200,
        validators=[validate_single_line],
    )


class AutoPayoutForm(forms.Form):
    auto_weekly = forms.BooleanField(required=False)
