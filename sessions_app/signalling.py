"""WebRTC signalling relayed by the application: offers, answers and ICE candidates are
posted by one browser and polled by the other. Only the session's coach and client, and
only while the room is open, may read or write them."""

import re
from datetime import datetime

from django.db.models import Max

from accounts.models import User
from hse import live
from sessions_app.lifecycle import phase
from sessions_app.models import Attendance, Session, Signal

MAX_TEXT = 20_000  # an SDP is a few kilobytes; anything far larger is not a signal
MAX_BODY = 64 * 1024
MAX_BATCH = 100


MAX_DEPTH = 8  # a signal is {"kind", "data": {...}}: three levels; more is not a signal
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


def nested_too_deep(body: bytes) -> bool:
    """Whether JSON ``body`` nests arrays and objects deeper than a signal ever does,
    found without parsing it (a parser would recurse as deep as the body asks)."""
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", body)):
        depth += 1 if bracket in (b"[", b"{") else -1
        if depth > MAX_DEPTH:
            return True
    return False


class SignalError(ValueError):
    """A malformed signal; the message says what is wrong (answered with 400)."""


def window_open(session: Session, now: datetime) -> bool:
    return phase(session, now).room_open


def _text(value, name: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise SignalError(f"{name} must be a string of at most {MAX_TEXT} characters")
    # PostgreSQL stores neither a NUL nor half of a surrogate pair; no signal holds them.
    if "\x00" in value or (not value.isascii() and not _encodable(value)):
        raise SignalError(f"{name} holds characters no signal has")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def signal_clean(kind, data) -> dict:
    """The signal's data, checked field by field; raises SignalError."""
    if kind not in Signal.Kind.values:
        raise SignalError(f"kind must be one of {', '.join(Signal.Kind.values)}")
    if kind in (Signal.Kind.HELLO, Signal.Kind.BYE):
        if data not in (None, {}):
            raise SignalError(f"{kind} carries no data")
        return {}
    if not isinstance(data, dict):
        raise SignalError("data must be an object")
    if kind == Signal.Kind.MEDIA:
        # What the other side shows: a name instead of a black frame, a muted sign.
        if set(data) != {"video", "audio"} or not all(
            isinstance(data[key], bool) for key in ("video", "audio")
        ):
            raise SignalError('media data must be {"video": true|false, "audio": true|false}')
        return {"video": data["video"], "audio": data["audio"]}
    if kind in (Signal.Kind.OFFER, Signal.Kind.ANSWER):
        if data.get("type") != kind:
            raise SignalError(f"data.type must be {kind!r}")
        sdp = _text(data.get("sdp"), "data.sdp")
        if not sdp.startswith("v=0"):
            raise SignalError("data.sdp is not a session description")
        return {"type": kind, "sdp": sdp}
    # An ICE candidate; an empty candidate string means "no more candidates".
    index = data.get("sdpMLineIndex")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
        raise SignalError("data.sdpMLineIndex must be a whole number or null")
    return {
        "candidate": _text(data.get("candidate"), "data.candidate"),
        "sdpMid": _text(data.get("sdpMid"), "data.sdpMid", optional=True),
        "sdpMLineIndex": index,
    }


def signal_post(*, session: Session, by: User, kind: str, data, now: datetime) -> Signal:
    cleaned = signal_clean(kind, data)
    signal = Signal.objects.create(
        session=session, sender=by, kind=kind, data=cleaned, created_at=now
    )
    # Joining and leaving the call (also by a refresh or a closed tab) is evidence.
    if kind == Signal.Kind.HELLO:
        Attendance.objects.create(session=session, user=by, kind=Attendance.Kind.JOIN, at=now)
    elif kind == Signal.Kind.BYE:
        Attendance.objects.create(session=session, user=by, kind=Attendance.Kind.LEAVE, at=now)
    live.push(
        live.session_group(session.pk),
        {"type": "signal", "id": signal.id, "sender": by.pk, "kind": kind, "data": cleaned},
    )
    return signal


def signals_for(*, session: Session, user: User, after: int) -> list[Signal]:
    """What the other person sent after ``after``, oldest first."""
    return list(
        Signal.objects.filter(session=session, id__gt=after)
        .exclude(sender=user)
        .order_by("id")[:MAX_BATCH]
    )


def last_signal_id(*, session: Session) -> int:
    return Signal.objects.filter(session=session).aggregate(last=Max("id"))["last"] or 0
