from django.conf import settings
from django.utils import timezone


def site(request) -> dict:
    return {
        "DEBUG": settings.DEBUG,
        "HSE_CURRENCY": settings.HSE_CURRENCY,
        "STRIPE_TEST_MODE": settings.STRIPE_TEST_MODE,
    }


def pending(request) -> dict:
    """The count behind the header's exclamation mark: one COUNT query, signed-in only, or
    none where the page listed the pending actions already."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    listed = getattr(request, "pending_actions", None)
    if listed is not None:
        return {"pending_count": listed.count}
    from sessions_app.selectors import pending_count

    return {"pending_count": pending_count(user=user, now=timezone.now())}
