import hmac

from accounts.models import CalendarFeed, User
from hse.bounds import small_int


def calendar_feed_user(*, token: str) -> User | None:
    """The active owner of the calendar address ``token`` (``<id>-<secret>``), else None."""
    feed_id, _, secret = token.partition("-")
    feed_id = small_int(feed_id)
    if feed_id is None or not secret or len(secret) > 64:
        return None
    feed = CalendarFeed.objects.select_related("user").filter(pk=feed_id).first()
    if feed is None or not hmac.compare_digest(feed.secret.encode(), secret.encode()):
        return None
    return feed.user if feed.user.is_active else None
