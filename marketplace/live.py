"""One WebSocket per page: it carries what the page waits for, pushed by ``hse.live``.

A page opens ``/ws/live/`` with the session and the conversation it shows, if any
(``?session=12&conversation=7``). The socket joins its person's group always, and a
session's or a conversation's group only when that person may see it (the same scoped
lookups as the pages); anything else refuses the whole connection, so a page never thinks
it is live when it is not. Most events are triggers (the page reads what changed over HTTP,
as it does when it polls); a chat line carries itself (``messaging.services``).

From the page come, each checked as over HTTP:
- a call's signal (``signal``), stored for a peer that polls and passed to the room;
- a chat line (``say``, with its conversation; answered ``said`` or ``error`` with the
  page's ``ref``), sent as the thread's form would send it;
- that a pushed line of its conversation was shown (``read``, up to its id);
- ``typing``, passed to the other person of the conversation.

The session and the conversation the socket joined are kept from the connection: who may
see them does not change. A session's times and status do, so the copy is read again after
the session's own "room" event (every change of its state sends one) or once it is a minute
old, and every signal is checked against it.

The sign-in the socket connected with must still hold: signing out closes that browser's
sockets at once (``signed_out``), and a socket whose sign-in has ended otherwise (the
password changed, the account closed, the sign-in expired) is closed at its first event
once the last check is a minute old. Either way the page connects again with the cookie it
has now, and is refused if that no longer signs anyone in."""

import hashlib
import logging
import time
from importlib import import_module
from urllib.parse import parse_qs

from channels.auth import get_user
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from hse import live
from hse.bounds import small_int
from messaging import services as messaging
from messaging.selectors import conversation_for_user_or_none
from sessions_app import signalling
from sessions_app.selectors import session_for_user_or_none

log = logging.getLogger(__name__)
REFUSED = 4403  # close code: not signed in, or asked for what is not theirs
# Close code: the sign-in the socket connected with ended. The page connects again with the
# browser's cookie as it is now: a new password renews the sign-in of the browser that set
# it (its key changes), and a browser that signed out is refused.
SIGN_IN_ENDED = 4401
SESSION_FRESH_SECONDS = 60
SIGN_IN_FRESH_SECONDS = 60
MAX_REF = 40  # the page's name for a line it sent, echoed back


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=REFUSED)
            return
        self.user = user
        self.sign_in = self.scope["session"].session_key
        self.sign_in_read_at = time.monotonic()
        self.session = self.conversation = None
        found = await database_sync_to_async(_shown)(user, _query(self.scope))
        if found is None:
            await self.close(code=REFUSED)
            return
        self.session, self.conversation = found
        self.session_read_at = time.monotonic()
        self.groups_joined = [live.user_group(user.pk)]
        if self.session is not None:
            self.groups_joined.append(live.session_group(self.session.pk))
        if self.conversation is not None:
            self.groups_joined.append(live.conversation_group(self.conversation.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def dispatch(self, message):
        # Channels first closes the database thread's stale connections before every
        # handler: a trip to that one thread for each frame from the page and each push to
        # it, queued behind every socket's database work. Here all database work runs in
        # database_sync_to_async, which closes them around each call, so an event goes
        # straight to its handler.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or not await self._still_signed_in():
            return
        kind = content.get("type")
        if kind == "typing" and self.conversation is not None:
            await self.channel_layer.group_send(
                live.conversation_group(self.conversation.pk),
                {"type": "live.event", "event": {"type": "typing", "by": self.user.pk}},
            )
        elif kind == "signal" and self.session is not None:
            await self._signal(content.get("kind"), content.get("data"))
        elif kind == "say":
            await self._say(content)
        elif (
            kind == "read"
            and self.conversation is not None
            and content.get("conversation") == self.conversation.pk
        ):
            upto = content.get("upto")
            if isinstance(upto, int) and not isinstance(upto, bool) and 0 < upto < 10**18:
                pushes = await database_sync_to_async(_read)(self.user, self.conversation, upto)
                await live.send_async(pushes)

    async def _signal(self, kind, data) -> None:
        """Stored (a peer that polls reads it there), then passed to the room's sockets."""
        if time.monotonic() - self.session_read_at > SESSION_FRESH_SECONDS:
            await self._read_session()
            if self.session is None:
                return
        error, pushes = await database_sync_to_async(_store_signal)(
            self.user, self.session, kind, data
        )
        if error:
            await self.send_json({"type": "error", "about": "signal", "error": error})
        await live.send_async(pushes)

    async def _say(self, content: dict) -> None:
        ref = content.get("ref")
        answer = {
            "about": "say",
            "ref": ref if isinstance(ref, str) and len(ref) <= MAX_REF else "",
        }
        conversation = self.conversation
        if conversation is None or content.get("conversation") != conversation.pk:
            # Not the conversation this socket joined (chat.js sends those over HTTP, as
            # the room's panel does for one begun after the socket connected).
            answer.update(type="error", code="elsewhere", error="Not this socket's conversation.")
        else:
            error, pushes = await database_sync_to_async(_say)(
                self.user, conversation, content.get("body")
            )
            answer.update({"type": "error", "error": error} if error else {"type": "said"})
            await live.send_async(pushes)
        await self.send_json(answer)

    async def _read_session(self) -> None:
        self.session = await database_sync_to_async(session_for_user_or_none)(
            user=self.user, session_id=self.session.pk
        )
        self.session_read_at = time.monotonic()
        if self.session is None:  # no longer theirs to see: nothing more of it
            await self._refuse()

    async def _still_signed_in(self) -> bool:
        """Whether the sign-in the socket connected with still holds (read again once a
        minute); if not, the socket is closed."""
        if self.sign_in is None:  # closed below: events still on their way are dropped
            return False
        if time.monotonic() - self.sign_in_read_at > SIGN_IN_FRESH_SECONDS:
            engine = import_module(settings.SESSION_ENGINE)
            try:
                now_signed_in = await get_user({"session": engine.SessionStore(self.sign_in)})
            except DatabaseError:  # not known now: the socket stays, and asks at its next event
                log.warning("could not read a socket's sign-in again", exc_info=True)
                return True
            self.sign_in_read_at = time.monotonic()
            if now_signed_in.pk != self.user.pk:
                await self._refuse(SIGN_IN_ENDED)
                return False
        return True

    async def _refuse(self, code: int = REFUSED) -> None:
        self.sign_in = None
        await self.close(code=code)

    async def live_event(self, message):
        event = message["event"]
        if event.get("type") == "signed-out":  # for the consumer, not the page
            if event.get("sign_in") == sign_in_tag(self.sign_in or ""):
                await self._refuse(SIGN_IN_ENDED)
            return
        if not await self._still_signed_in():
            return
        if event.get("type") == "room" and self.session is not None:
            self.session_read_at = float("-inf")  # its state changed: read before the next
        elif event.get("type") == "signal" and event.get("sender") == self.user.pk:
            return  # the room's own signal, back from its group: the page has it
        await self.send_json(event)

    @classmethod
    async def decode_json(cls, text_data):
        # A signal is a few kilobytes, a chat line 2,000 characters (under 24 KB even with
        # every character escaped): anything larger or deeper is not ours.
        if len(text_data) > signalling.MAX_BODY or signalling.nested_too_deep(
            text_data.encode("utf-8", "replace")
        ):
            return None
        return await super().decode_json(text_data)


def sign_in_tag(session_key: str) -> str:
    """A sign-in's name in a push: a digest of its key, so the key itself (as good as the
    password while it lasts) never travels over the channel layer."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def signed_out(sender, request, user, **kwargs) -> None:
    """``user_logged_out``: the sockets of the browser that signed out are closed at once
    (its pages then poll, and their next request is sent to sign in)."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        live.push(
            live.user_group(user.pk), {"type": "signed-out", "sign_in": sign_in_tag(session_key)}
        )


def _store_signal(user, session, kind, data) -> tuple[str, list]:
    """A call's signal sent over the socket: the same checks as over HTTP, against the
    socket's copy of the session (the room may have closed since it joined). Returns what
    was wrong (or ""), and the push to the room, for the consumer to send."""
    now = timezone.now()
    if session is None or not signalling.window_open(session, now):
        return "The room is not open.", []
    with live.kept() as pushes:
        try:
            signalling.signal_post(session=session, by=user, kind=kind, data=data, now=now)
        except signalling.SignalError as error:
            return str(error), []
    return "", pushes


def _say(user, conversation, body) -> tuple[str, list]:
    """A chat line from the thread's form: the rules of ``messaging.services``. Returns what
    was wrong (or ""), and the pushes it made, for the consumer to send."""
    if not isinstance(body, str):
        return "Write a message first.", []
    with live.kept() as pushes:
        try:
            messaging.message_send(
                conversation=conversation, by=user, body=body, now=timezone.now()
            )
        except messaging.MessagingError as error:
            return str(error), []
    return "", pushes


def _read(user, conversation, upto: int) -> list:
    with live.kept() as pushes:
        messaging.conversation_read(
            conversation=conversation, by=user, now=timezone.now(), upto=upto
        )
    return pushes


def _query(scope) -> dict[str, str]:
    pairs = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=5)
    return {key: values[0] for key, values in pairs.items() if key in ("session", "conversation")}


def _shown(user, query: dict[str, str]):
    """(session, conversation) the page shows, each None if it shows none, or None if the
    person may not see one of them."""
    session = conversation = None
    if "session" in query:
        session_id = small_int(query["session"], digits=18)
        if session_id is None:
            return None
        session = session_for_user_or_none(user=user, session_id=session_id)
        if session is None:
            return None
    if "conversation" in query:
        conversation_id = small_int(query["conversation"], digits=18)
        if conversation_id is None:
            return None
        conversation = conversation_for_user_or_none(user=user, conversation_id=conversation_id)
        if conversation is None:
            return None
    return session, conversation
