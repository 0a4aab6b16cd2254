"""The pages' WebSocket: a socket joins only its own person's groups and the session or
conversation that person may see; what a service changes reaches it after the commit."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from hse import live
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


def cookie_of(user) -> bytes:
    return f"{settings.SESSION_COOKIE_NAME}={_signed_in(user)}".encode()


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


def socket(path: str, user=None, origin: bytes = b"http://localhost") -> WebsocketCommunicator:
    """Made outside the event loop: signing in writes a session row. Every wait on it below
    has the suite's limit for a loaded machine (channels' own default is one second)."""
    headers = [(b"origin", origin)]
    if user is not None:
        headers.append((b"cookie", cookie_of(user)))
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
        own = await client.receive_json_from(timeout=PATIENCE)  # its own, which the page skips
        assert own["sender"] == alice.pk
        await client.send_json_to({"type": "signal", "kind": "offer", "data": {"sdp": "x"}})
        refused = await client.receive_json_from(timeout=PATIENCE)
        await coach.disconnect(timeout=PATIENCE)
        await client.disconnect(timeout=PATIENCE)
        return got, refused

    with freeze_time(a_session.starts_at, tick=True):
        got, refused = run(scenario)
    assert got["type"] == "signal" and got["kind"] == "hello" and got["sender"] == alice.pk
    assert refused == {"type": "error", "error": "data.type must be 'offer'"}
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

    assert run(scenario) == {"type": "error", "error": "The room is not open."}
    assert not Signal.objects.exists()


def test_a_socket_joins_a_conversation_only_of_its_pair(alice, bob, carol, dora):
    from messaging.services import conversation_for

    conversation = conversation_for(client=alice, coach=bob, now=timezone.now())
    path = f"/ws/live/?conversation={conversation.pk}"
    assert connects(path, alice) and connects(path, bob.user)
    for stranger in (carol, dora.user):
        assert not connects(path, stranger)
