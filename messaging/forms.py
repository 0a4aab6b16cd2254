from django import forms
from django.conf import settings


class MessageForm(forms.Form):
    """What someone typed; ``messaging.services.message_send`` holds the rules for it."""

    body = forms.CharField(
        label="Message",
        strip=False,  # the service trims it, after making its line breaks one kind
        error_messages={"required": "Write a message first."},
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "maxlength": settings.HSE_MESSAGE_MAX_LENGTH,
                "placeholder": "Write a message…",
            }
        ),
    )
