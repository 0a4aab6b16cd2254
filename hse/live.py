"""Push to pages: what a page waits for is sent to the sockets of a group (a person, a
session, a conversation) once the change that caused it has committed. A page whose socket
is not connected polls instead, so a push that is lost (Redis away, a worker on the embedded
default, which has no shared layer) only makes a page a little late, never wrong."""

import asyncio
import logging
from contextlib import contextmanager
from contextvars import ContextVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)
_kept: ContextVar[list | None] = ContextVar("hse_live_kept", default=None)


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def session_group(session_id: int) -> str:
    return f"session-{session_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation-{conversation_id}"


def push(group: str, event: dict) -> None:
    """Sends ``event`` (a JSON object with a "type") to ``group`` after the commit."""
    push_many([(group, event)])


def push_many(sends: list[tuple[str, dict]]) -> None:
    """Several pushes after the commit, in one trip to the event loop (a booking tells
    everyone concerned at once)."""
    if sends:
        transaction.on_commit(lambda: _send_or_keep(sends))


@contextmanager
def kept():
    """The pushes made inside (once committed) are kept in the list it gives, for a caller
    on the event loop to send (``send_async``): a socket's consumer, whose database work
    runs in a thread that would otherwise wait for the loop at every commit."""
    sends: list[tuple[str, dict]] = []
    token = _kept.set(sends)
    try:
        yield sends
    finally:
        _kept.reset(token)


def _send_or_keep(sends: list[tuple[str, dict]]) -> None:
    keeping = _kept.get()
    if keeping is not None:
        keeping.extend(sends)
    else:
        send_now(sends)


def send_now(sends: list[tuple[str, dict]]) -> None:
    try:
        async_to_sync(send_async)(sends)
    except Exception:
        log.warning("could not push %d events", len(sends), exc_info=True)


async def send_async(sends: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    results = await asyncio.gather(
        *(layer.group_send(group, {"type": "live.event", "event": event})
          for group, event in sends),
        return_exceptions=True,
    )  # fmt: skip
    for (group, event), result in zip(sends, results, strict=True):
        if isinstance(result, Exception):  # that page polls; the change itself stands
            log.warning("could not push %s to %s: %r", event.get("type"), group, result)
