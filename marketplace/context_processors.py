from django.utils import timezone

from marketplace.selectors import header_counts


def pending(request) -> dict:
    """The counts behind the header's exclamation mark and its Messages link: one COUNT
    query each, signed-in only, kept for half a minute, or none where the page listed the
    pending actions already."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    listed = getattr(request, "pending_actions", None)
    if listed is not None:
        return {"pending_count": listed.count, "unread_count": listed.unread_messages}
    counts = header_counts(user=user, now=timezone.now())
    return {"pending_count": counts.pending, "unread_count": counts.unread_messages}
