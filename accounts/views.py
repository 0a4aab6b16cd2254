from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts.forms import AccountSettingsForm
from accounts.services import AccountError, user_update_settings


@login_required
def account_settings(request):
    user = request.user
    form = AccountSettingsForm(
        request.POST or None,
        initial={"display_name": user.display_name, "time_zone": user.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        try:
            user_update_settings(user=user, **form.cleaned_data)
        except AccountError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Your settings were saved.")
            return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})
