from django.utils import timezone
from django.utils.functional import SimpleLazyObject, lazy

from marketplace.selectors import HeaderCounts, header_counts


def pending(request) -> dict:
    """The counts behind the header's exclamation mark and its Messages link: one COUNT
    query each, signed-in only, kept for half a minute, or none where the page listed the
    pending actions already. Read when a template shows them, not before: most parts that
    htmx asks for (a thread, a list) have no header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    listed = getattr(request, "pending_actions", None)
    if listed is not None:
        return {"pending_count": listed.count, "unread_count": listed.unread_messages}
    counts: HeaderCounts = SimpleLazyObject(lambda: header_counts(user=user, now=timezone.now()))
    return {
        "pending_count": lazy(lambda: counts.pending, int)(),
        "unread_count": lazy(lambda: counts.unread_messages, int)(),
    }
