from django.utils import timezone

from marketplace.selectors import pending_count


def pending(request) -> dict:
    """The count behind the header's exclamation mark: one COUNT query, signed-in only, or
    none where the page listed the pending actions already."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    listed = getattr(request, "pending_actions", None)
    if listed is not None:
        return {"pending_count": listed.count}
    return {"pending_count": pending_count(user=user, now=timezone.now())}
