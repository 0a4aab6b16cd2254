"""One WebSocket per page: it carries what the page waits for, pushed by ``hse.live``.

A page opens ``/ws/live/`` with the session and the conversation it shows, if any
(``?session=12&conversation=7``). The socket joins its person's group always, and a
session's or a conversation's group only when that person may see it (the same scoped
lookups as the pages); anything else refuses the whole connection, so a page never thinks
it is live when it is not. Most events are triggers (the page reads what changed over HTTP,
as it does when it polls); a chat line carries itself (``messaging.services``). From the
page come a call's signals (checked and stored as over HTTP) and "typing", passed to the
other person of a conversation the socket joined."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from hse import live
from hse.bounds import small_int
from messaging.selectors import conversation_for_user_or_none
from sessions_app import signalling
from sessions_app.selectors import session_for_user_or_none

REFUSED = 4403  # close code: not signed in, or asked for what is not theirs


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=REFUSED)
            return
        self.user_id = user.pk
        self.conversation = None
        groups = [live.user_group(user.pk)]
        wanted = await database_sync_to_async(_allowed_groups)(user, _query(self.scope))
        if wanted is None:
            await self.close(code=REFUSED)
            return
        groups += wanted
        self.conversation = next((g for g in wanted if g.startswith("conversation-")), None)
        self.session_id = next(
            (int(g.split("-")[1]) for g in wanted if g.startswith("session-")), None
        )
        self.groups_joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        if content.get("type") == "typing" and self.conversation:
            await self.channel_layer.group_send(
                self.conversation,
                {"type": "live.event", "event": {"type": "typing", "by": self.user_id}},
            )
        elif content.get("type") == "signal" and self.session_id is not None:
            error = await database_sync_to_async(_post_signal)(
                self.scope["user"], self.session_id, content.get("kind"), content.get("data")
            )
            if error:
                await self.send_json({"type": "error", "error": error})

    async def live_event(self, message):
        await self.send_json(message["event"])

    @classmethod
    async def decode_json(cls, text_data):
        # A signal is a few kilobytes at most; anything larger or deeper is not ours.
        if len(text_data) > signalling.MAX_BODY or signalling.nested_too_deep(
            text_data.encode("utf-8", "replace")
        ):
            return None
        return await super().decode_json(text_data)


def _post_signal(user, session_id: int, kind, data) -> str:
    """A call's signal sent over the socket: the same checks as over HTTP, every time (the
    room may have closed since the socket joined). Returns what was wrong, or ""."""
    session = session_for_user_or_none(user=user, session_id=session_id)
    now = timezone.now()
    if session is None or not signalling.window_open(session, now):
        return "The room is not open."
    try:
        signalling.signal_post(session=session, by=user, kind=kind, data=data, now=now)
    except signalling.SignalError as error:
        return str(error)
    return ""


def _query(scope) -> dict[str, str]:
    pairs = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=5)
    return {key: values[0] for key, values in pairs.items() if key in ("session", "conversation")}


def _allowed_groups(user, query: dict[str, str]) -> list[str] | None:
    """The groups of what the page shows, or None if the person may not see one of them."""
    groups = []
    if "session" in query:
        session_id = small_int(query["session"], digits=18)
        if session_id is None or session_for_user_or_none(user=user, session_id=session_id) is None:
            return None
        groups.append(live.session_group(session_id))
    if "conversation" in query:
        conversation_id = small_int(query["conversation"], digits=18)
        if conversation_id is None or (
            conversation_for_user_or_none(user=user, conversation_id=conversation_id) is None
        ):
            return None
        groups.append(live.conversation_group(conversation_id))
    return groups
