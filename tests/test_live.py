"""The pages' WebSocket: a socket joins only its own person's groups and the session or
conversation that person may see; what a service changes reaches it after the commit."""

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hse import live
from marketplace import live as consumers
from marketplace.asgi import application
from sessions_app import booking
from tests.test_booking_race import _signed_in
from tests.test_requests import package
from tests.waiting import PATIENCE

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def memory_layer(settings):
    # One process: the test and the consumer share the in-memory layer.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def cookie_of(user, sign_in: str | None = None) -> bytes:
    return f"{settings.SESSION_COOKIE_NAME}={sign_in or _signed_in(user)}".encode()


def run(scenario):
    """Runs ``scenario()`` on an event loop of its own thread: the browser tests' Playwright
    keeps a loop running in the suite's main thread."""

    async def closing():
        try:
            return await scenario()
        finally:  # the consumer's database thread lets its connection go, as a request does
            await database_sync_to_async(connections.close_all)()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, closing()).result()


def socket(
    path: str, user=None, origin: bytes = b"http://localhost", sign_in: str | None = None
) -> WebsocketCommunicator:
    """Made outside the event loop: signing in writes a session row (``sign_in``: the key of
    one made before). Every wait on it below has the suite's limit for a loaded machine
    (channels' own default is one second)."""
    headers = [(b"origin", origin)]
    if user is not None:
        headers.append((b"cookie", cookie_of(user, sign_in)))
    return WebsocketCommunicator(application, path, headers=headers)


def connects(path: str, user=None, origin: bytes = b"http://localhost") -> bool:
    communicator = socket(path, user, origin)

    async def attempt():
        connected, _ = await communicator.connect(timeout=PATIENCE)
        await communicator.disconnect(timeout=PATIENCE)
        return connected

    return run(attempt)


@pytest.fixture
def a_session(alice, bob, leadership):
    package(alice, bob, leadership)
    credit = alice.credits.first()
    now = timezone.now()
    start = (now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    with transaction.atomic():
        session = booking.session_reserve(
            coach=bob, client=alice, skill=leadership, duration_minutes=60, starts_at=start,
            now=now, credit=credit, agreed=True,
        )  # fmt: skip
    return session


def test_a_socket_joins_only_what_its_person_may_see(alice, bob, carol, a_session):
    path = f"/ws/live/?session={a_session.pk}"
    assert connects(path, alice) and connects(path, bob.user)
    assert not connects(path, carol)  # someone else's session: the socket is refused
    assert not connects(path)  # not signed in
    assert not connects(path, alice, origin=b"http://evil.example")  # another site's page
    for bad in ("?session=999999999", "?session=-1", "?session=" + "9" * 40, "?session=x"):
        assert not connects("/ws/live/" + bad, alice), bad
    assert connects("/ws/live/", carol)  # her own group only


def test_a_change_reaches_the_sockets_of_its_session_and_person_after_the_commit(
    alice, bob, a_session
):
    client = socket(f"/ws/live/?session={a_session.pk}", alice)

    async def scenario():
        assert (await client.connect(timeout=PATIENCE))[0]
        await _sync_change()
        seen = [await client.receive_json_from(timeout=PATIENCE) for _ in range(2)]
        await client.disconnect(timeout=PATIENCE)
        return seen

    @database_sync_to_async
    def _sync_change():
        with transaction.atomic():
            booking.session_changed(a_session)
            # Nothing is pushed while the change can still roll back.

    seen = run(scenario)
    assert {event["type"] for event in seen} == {"room", "pending"}


def test_typing_goes_to_the_conversation_only_and_big_frames_are_dropped(alice):
    client = socket("/ws/live/", alice)

    async def scenario():
        assert (await client.connect(timeout=PATIENCE))[0]
        await client.send_json_to({"type": "typing"})  # no conversation joined: nothing
        await client.send_to(text_data="[" * 5000 + "]" * 5000)  # dropped, socket stays
        await client.send_json_to({"type": "ping"})
        nothing = await client.receive_nothing(timeout=0.3)
        await client.disconnect(timeout=PATIENCE)
        return nothing

    assert run(scenario)


def test_a_push_reaches_its_socket_while_the_database_thread_is_busy(alice):
    """A push to a page needs no database: it does not queue behind the socket's thread
    for database work (channels' own dispatch went there first for every event)."""
    client = socket("/ws/live/", alice)
    release = threading.Event()

    async def scenario():
        assert (await client.connect(timeout=PATIENCE))[0]
        # The one thread that runs sockets' database work, kept busy for up to 10 s.
        busy = asyncio.ensure_future(sync_to_async(release.wait)(10))
        await live.send_async([(live.user_group(alice.pk), {"type": "unread", "count": 3})])
        event = await client.receive_json_from(timeout=PATIENCE)
        release.set()
        still_busy_when_it_came = await busy  # False: the wait ran out first
        await client.disconnect(timeout=PATIENCE)
        return event, still_busy_when_it_came

    event, still_busy_when_it_came = run(scenario)
    assert event == {"type": "unread", "count": 3}
    assert still_busy_when_it_came


def test_signing_out_closes_that_browsers_sockets_at_once_and_no_others(alice):
    leaving = _signed_in(alice)
    closing = socket("/ws/live/", alice, sign_in=leaving)
    other = socket("/ws/live/", alice)  # the same person signed in on another browser
    browser = Client()
    browser.cookies[settings.SESSION_COOKIE_NAME] = leaving

    async def scenario():
        assert (await closing.connect(timeout=PATIENCE))[0]
        assert (await other.connect(timeout=PATIENCE))[0]
        answer = await sync_to_async(browser.post)(reverse("account_logout"))
        closed = await closing.receive_output(timeout=PATIENCE)
        untouched = await other.receive_nothing(timeout=0.3)
        await other.disconnect(timeout=PATIENCE)
        return answer.status_code, closed, untouched

    status, closed, untouched = run(scenario)
    assert status == 302
    assert closed == {"type": "websocket.close", "code": consumers.SIGN_IN_ENDED}
    assert untouched  # another browser's sign-in, still good: nothing was said to it


def test_a_socket_whose_sign_in_ended_elsewhere_is_closed_at_its_next_event(alice, monkeypatch):
    monkeypatch.setattr(consumers, "SIGN_IN_FRESH_SECONDS", 0)  # read again at every event
    client = socket("/ws/live/", alice)
    pending = [(live.user_group(alice.pk), {"type": "pending"})]

    @database_sync_to_async
    def password_changed():  # every sign-in of the account ends (its hash no longer holds)
        alice.set_password("a new one, 2026")
        alice.save()

    async def scenario():
        assert (await client.connect(timeout=PATIENCE))[0]
        await live.send_async(pending)
        before = await client.receive_json_from(timeout=PATIENCE)
        await password_changed()
        await live.send_async(pending)
        after = await client.receive_output(timeout=PATIENCE)
        await client.send_json_to({"type": "typing"})  # nothing is done for it now
        return before, after, await client.receive_nothing(timeout=0.3)

    before, after, nothing_more = run(scenario)
    assert before == {"type": "pending"}
    assert after == {"type": "websocket.close", "code": consumers.SIGN_IN_ENDED}
    assert nothing_more


def test_a_sign_in_that_cannot_be_read_now_keeps_its_socket(alice, monkeypatch):
    monkeypatch.setattr(consumers, "SIGN_IN_FRESH_SECONDS", 0)
    client = socket("/ws/live/", alice)

    async def database_away(scope):
        raise DatabaseError("the database is away")

    async def scenario():
        assert (await client.connect(timeout=PATIENCE))[0]
        monkeypatch.setattr(consumers, "get_user", database_away)
        await live.send_async([(live.user_group(alice.pk), {"type": "pending"})])
        event = await client.receive_json_from(timeout=PATIENCE)
        await client.disconnect(timeout=PATIENCE)
        return event

    assert run(scenario) == {"type": "pending"}  # not known now: not taken as signed out


def test_a_push_outside_a_transaction_and_with_no_layer_never_fails(settings):
    settings.CHANNEL_LAYERS = {}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    live.push(live.user_group(1), {"type": "pending"})  # no layer: nothing, no error


def test_a_signal_sent_over_the_socket_is_checked_stored_and_reaches_the_other_side(
    alice, bob, a_session
):
    from freezegun import freeze_time

    from sessions_app.models import Signal

    coach = socket(f"/ws/live/?session={a_session.pk}", bob.user)
    client = socket(f"/ws/live/?session={a_session.pk}", alice)

    async def scenario():
        assert (await coach.connect(timeout=PATIENCE))[0] and (
            await client.connect(timeout=PATIENCE)
        )[0]
        await client.send_json_to({"type": "signal", "kind": "hello"})
        got = await coach.receive_json_from(timeout=PATIENCE)
        assert await client.receive_nothing(timeout=0.3)  # not its own signal back
        await client.send_json_to({"type": "signal", "kind": "offer", "data": {"sdp": "x"}})
        refused = await client.receive_json_from(timeout=PATIENCE)
        await coach.disconnect(timeout=PATIENCE)
        await client.disconnect(timeout=PATIENCE)
        return got, refused

    with freeze_time(a_session.starts_at, tick=True):
        got, refused = run(scenario)
    assert got["type"] == "signal" and got["kind"] == "hello" and got["sender"] == alice.pk
    assert refused == {"type": "error", "about": "signal", "error": "data.type must be 'offer'"}
    assert list(Signal.objects.values_list("kind", flat=True)) == ["hello"]


def test_a_signal_over_the_socket_outside_the_rooms_window_is_refused(alice, a_session):
    from sessions_app.models import Signal

    client = socket(f"/ws/live/?session={a_session.pk}", alice)

    async def scenario():
        assert (await client.connect(timeout=PATIENCE))[0]
        await client.send_json_to({"type": "signal", "kind": "hello"})
        answer = await client.receive_json_from(timeout=PATIENCE)
        await client.disconnect(timeout=PATIENCE)
        return answer

    assert run(scenario) == {"type": "error", "about": "signal", "error": "The room is not open."}
    assert not Signal.objects.exists()


def test_a_socket_joins_a_conversation_only_of_its_pair(alice, bob, carol, dora):
    from messaging.services import conversation_for

    conversation = conversation_for(client=alice, coach=bob, now=timezone.now())
    path = f"/ws/live/?conversation={conversation.pk}"
    assert connects(path, alice) and connects(path, bob.user)
    for stranger in (carol, dora.user):
        assert not connects(path, stranger)


def test_a_session_ended_after_the_socket_joined_refuses_its_next_signal(alice, bob, a_session):
    """The socket keeps its copy of the session; the session's own "room" event makes it
    read the session again before the next signal."""
    from freezegun import freeze_time

    from sessions_app.models import Signal
    from sessions_app.services import session_end, session_start

    client = socket(f"/ws/live/?session={a_session.pk}", alice)

    async def scenario():
        assert (await client.connect(timeout=PATIENCE))[0]
        await client.send_json_to({"type": "signal", "kind": "hello"})
        stored = database_sync_to_async(lambda: list(Signal.objects.values_list("kind")))
        while not await stored():
            await asyncio.sleep(0.05)
        await database_sync_to_async(session_start)(
            session=a_session, by=bob.user, now=timezone.now()
        )
        await database_sync_to_async(session_end)(
            session=a_session, by=bob.user, now=timezone.now()
        )
        events = await _events_until(client, "room", times=2)
        await client.send_json_to({"type": "signal", "kind": "bye"})
        refused = await client.receive_json_from(timeout=PATIENCE)
        await client.disconnect(timeout=PATIENCE)
        return events, refused

    with freeze_time(a_session.starts_at + timedelta(minutes=1), tick=True):
        events, refused = run(scenario)
    assert [event["type"] for event in events if event["type"] == "room"] == ["room", "room"]
    assert refused == {"type": "error", "about": "signal", "error": "The room is not open."}
    assert list(Signal.objects.values_list("kind", flat=True)) == ["hello"]


async def _events_until(communicator, *wanted: str, times: int = 1) -> list[dict]:
    """What the socket is sent until each of ``wanted`` came (``times`` times)."""
    seen = []
    while any(sum(e["type"] == kind for e in seen) < times for kind in wanted):
        seen.append(await communicator.receive_json_from(timeout=PATIENCE))
    return seen


def test_a_chat_line_said_over_the_socket_reaches_both_sides_and_bad_lines_are_refused(alice, bob):
    from messaging.models import Message
    from messaging.services import conversation_for

    conversation = conversation_for(client=alice, coach=bob, now=timezone.now())
    path = f"/ws/live/?conversation={conversation.pk}"
    coach, client = socket(path, bob.user), socket(path, alice)

    async def scenario():
        assert (await coach.connect(timeout=PATIENCE))[0]
        assert (await client.connect(timeout=PATIENCE))[0]
        await client.send_json_to(
            {"type": "say", "body": "<b>Hi</b> Bob", "ref": "r1", "conversation": conversation.pk}
        )
        mine = await _events_until(client, "said", "message")
        theirs = await _events_until(coach, "message")
        refused = []
        for body in ("   ", "x" * 2001, "bell\x07", "half \ud83d", 12, None, ["a"]):
            line = {"type": "say", "body": body, "ref": "r2", "conversation": conversation.pk}
            await client.send_json_to(line)
            refused.append(await client.receive_json_from(timeout=PATIENCE))
        line = {"type": "say", "body": "ok", "ref": {"deep": 1}, "conversation": conversation.pk}
        await client.send_json_to(line)
        no_ref = [e for e in await _events_until(client, "said") if e["type"] == "said"]
        await coach.disconnect(timeout=PATIENCE)
        await client.disconnect(timeout=PATIENCE)
        return mine, theirs, refused, no_ref

    mine, theirs, refused, no_ref = run(scenario)
    line = Message.objects.get(body="<b>Hi</b> Bob")
    assert {"type": "said", "about": "say", "ref": "r1"} in mine
    own_line = next(event for event in mine if event["type"] == "message")
    their_line = next(event for event in theirs if event["type"] == "message")
    assert own_line["id"] == their_line["id"] == line.pk
    assert "chat-own" in own_line["html"] and "chat-theirs" in their_line["html"]
    assert "&lt;b&gt;Hi&lt;/b&gt;" in their_line["html"] and "<b>" not in their_line["html"]
    assert their_line["unread"] == 1 and "unread" not in own_line
    assert [answer["type"] for answer in refused] == ["error"] * 7
    assert refused[0]["error"] == "Write a message first." and refused[0]["ref"] == "r2"
    assert "at most 2000 characters" in refused[1]["error"]
    assert refused[3]["error"] == "Part of a character is missing: type it again."
    assert no_ref[-1]["ref"] == ""
    assert sorted(Message.objects.values_list("body", flat=True)) == ["<b>Hi</b> Bob", "ok"]


def test_a_line_shown_is_read_over_the_socket_up_to_its_id_and_nonsense_reads_nothing(alice, bob):
    from messaging.models import Message
    from messaging.services import conversation_for, message_send

    conversation = conversation_for(client=alice, coach=bob, now=timezone.now())
    first, second = (
        message_send(conversation=conversation, by=bob.user, body=text, now=timezone.now())
        for text in ("one", "two")
    )
    path = f"/ws/live/?conversation={conversation.pk}"
    coach, client = socket(path, bob.user), socket(path, alice)

    def read(upto):
        return {"type": "read", "upto": upto, "conversation": conversation.pk}

    async def scenario():
        assert (await coach.connect(timeout=PATIENCE))[0]
        assert (await client.connect(timeout=PATIENCE))[0]
        for nonsense in ("1", True, -1, 10**30, None, 1.5):
            await client.send_json_to(read(nonsense))
        await client.send_json_to({"type": "read", "upto": second.pk})  # which conversation?
        await client.send_json_to(read(first.pk))
        told = await coach.receive_json_from(timeout=PATIENCE)
        counted = await client.receive_json_from(timeout=PATIENCE)
        await coach.disconnect(timeout=PATIENCE)
        await client.disconnect(timeout=PATIENCE)
        return told, counted

    told, counted = run(scenario)
    assert told == {"type": "read", "conversation": conversation.pk, "upto": first.pk}
    assert counted == {"type": "unread", "count": 1}
    read_at = dict(Message.objects.values_list("pk", "read_at"))
    assert read_at[first.pk] is not None and read_at[second.pk] is None


def test_a_socket_of_another_person_cannot_say_or_read_in_a_conversation(alice, bob, carol):
    from messaging.models import Message
    from messaging.services import conversation_for

    conversation = conversation_for(client=alice, coach=bob, now=timezone.now())
    intruder = socket("/ws/live/", carol)

    async def scenario():
        assert (await intruder.connect(timeout=PATIENCE))[0]  # her own page, no conversation
        await intruder.send_json_to({"type": "say", "body": "hi", "conversation": conversation.pk})
        refused = await intruder.receive_json_from(timeout=PATIENCE)
        await intruder.send_json_to({"type": "read", "upto": 1, "conversation": conversation.pk})
        quiet = await intruder.receive_nothing(timeout=0.5)
        await intruder.disconnect(timeout=PATIENCE)
        return refused, quiet

    refused, quiet = run(scenario)
    assert (refused["type"], refused["code"]) == ("error", "elsewhere") and quiet
    assert not Message.objects.exists()


@pytest.mark.redis("the Redis cache's connections")
def test_each_requests_cache_object_shares_the_processs_redis_connections(settings):
    """Django makes a cache object per request context (thread or asyncio task); they must
    share one pool, or every request served over ASGI connects to Redis anew."""
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "hse.cache.ResilientRedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": "shared-pool-test",
        }
    }

    together = threading.Barrier(4)  # four threads at once: four contexts

    def in_a_context_of_its_own(n):
        together.wait(timeout=PATIENCE)
        cache = caches["default"]
        cache.set(f"k{n}", n)
        return cache, cache.get(f"k{n}")

    with ThreadPoolExecutor(4) as pool:
        used = list(pool.map(in_a_context_of_its_own, range(4)))
    assert [value for _, value in used] == list(range(4))
    assert len({id(cache) for cache, _ in used}) > 1  # Django's objects, one per context
    assert len({id(cache._cache) for cache, _ in used}) == 1
    pools = {id(cache._cache._get_connection_pool(write=True)) for cache, _ in used}
    assert len(pools) == 1


def test_pushes_kept_for_a_consumer_wait_for_the_commit_and_are_not_sent_from_the_thread():
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def listening():
        await layer.group_add(live.user_group(1), "listener")

    async def heard():
        try:
            return await asyncio.wait_for(layer.receive("listener"), 0.3)
        except TimeoutError:
            return None

    run(listening)
    with live.kept() as pushes:
        with transaction.atomic():
            live.push(live.user_group(1), {"type": "pending"})
            assert pushes == []  # not before the commit
        with transaction.atomic():
            live.push(live.user_group(1), {"type": "room"})
            transaction.set_rollback(True)
    assert pushes == [(live.user_group(1), {"type": "pending"})]
    assert run(heard) is None
    run(lambda: live.send_async(pushes))
    assert run(heard) == {"type": "live.event", "event": {"type": "pending"}}
