from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from coaching.selectors import coach_profile_is_listed


class AccountAdapter(DefaultAccountAdapter):
    """A coach whose profile is not listed yet lands on it after logging in or signing up.
    Failed logins are counted per account, whatever the Host header says: allauth keys them
    by the request's host, which a visitor chooses (``LOCALHOST``, ``127.0.0.1:1``)."""

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        login = credentials.get("email", credentials.get("username", "")).lower()
        return f"hse:{login}"

    def get_login_redirect_url(self, request):
        user = request.user
        if user.is_authenticated and user.is_coach and not coach_profile_is_listed(user=user):
            return reverse("coaching:profile_edit")
        return super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return self.get_login_redirect_url(request)
