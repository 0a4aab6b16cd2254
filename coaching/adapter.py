from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from coaching.selectors import coach_profile_is_listed


class AccountAdapter(DefaultAccountAdapter):
    """A coach whose profile is not listed yet lands on it after logging in or signing up."""

    def get_login_redirect_url(self, request):
        user = request.user
        if user.is_authenticated and user.is_coach and not coach_profile_is_listed(user=user):
            return reverse("coaching:profile_edit")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return self.get_login_redirect_url(request)
