"""WebRTC signalling endpoints: only the session's two people, only in the join window;
malformed messages get 400 and change nothing."""

import json

import pytest
from django.urls import reverse
from freezegun import freeze_time

from sessions_app.models import Attendance, Signal
from sessions_app.signalling import SignalError, signal_clean
from tests.factories import UserFactory
from tests.test_requests import package
from tests.test_session_lifecycle import at

pytestmark = pytest.mark.django_db
OFFER = {"kind": "offer", "data": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}


def url(session):
    return reverse("sessions:signals", args=[session.pk])


def post(client, session, body):
    return client.post(url(session), json.dumps(body), content_type="application/json")


@freeze_time(at(1))
def test_the_two_people_exchange_signals_and_each_reads_only_the_others(
    client, alice, bob, session
):
    client.force_login(bob.user)
    assert post(client, session, OFFER).status_code == 201
    assert post(client, session, {"kind": "hello"}).status_code == 201
    assert client.get(url(session)).json() == {"signals": []}  # not his own

    client.force_login(alice)
    signals = client.get(url(session), {"after": 0}).json()["signals"]
    assert [s["kind"] for s in signals] == ["offer", "hello"]
    after = client.get(url(session), {"after": signals[-1]["id"]}).json()
    assert after == {"signals": []}
    assert Attendance.objects.filter(kind="join", user=bob.user).count() == 1  # hello


@freeze_time(at(1))
def test_strangers_and_the_coachs_other_client_get_404(client, carol, bob, leadership, session):
    package(carol, bob, leadership)  # Carol is Bob's client too, but not in this session
    for person in (carol, UserFactory()):
        client.force_login(person)
        assert client.get(url(session)).status_code == 404
        assert post(client, session, OFFER).status_code == 404
    client.logout()
    assert client.get(url(session)).status_code == 302  # to the login page
    assert not Signal.objects.exists()


@pytest.mark.parametrize("moment", [at(-16), at(60 + 15)])
def test_outside_the_join_window_everyone_gets_404(client, alice, bob, session, moment):
    with freeze_time(moment):
        for person in (alice, bob.user):
            client.force_login(person)
            assert client.get(url(session)).status_code == 404
            assert post(client, session, OFFER).status_code == 404
    assert not Signal.objects.exists()


@freeze_time(at(-15))
def test_the_window_opens_15_minutes_before(client, alice, session):
    client.force_login(alice)
    assert client.get(url(session)).status_code == 200


@freeze_time(at(1))
@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "the body must be JSON"),
        ('{"kind": "hello", "data": ' + "[" * 30000 + "]" * 30000 + "}", "nested too deep"),
        ('{"kind": "offer", "data": {"sdp": "v=0 [[[[[[[[[[", "x": [[[[[[[[]]]]]]]]}}', "too deep"),
        ([1, 2], "the body must be a JSON object"),
        ({"kind": "shout"}, "kind must be one of"),
        ({"kind": "offer", "data": "v=0"}, "data must be an object"),
        ({"kind": "offer", "data": {"type": "answer", "sdp": "v=0"}}, "data.type must be 'offer'"),
        (
            {"kind": "answer", "data": {"type": "answer", "sdp": "hello"}},
            "not a session description",
        ),
        ({"kind": "answer", "data": {"type": "answer", "sdp": "v=0" + "x" * 30000}}, "at most"),
        ({"kind": "candidate", "data": {"candidate": 42}}, "data.candidate must be a string"),
        ({"kind": "candidate", "data": {"candidate": "", "sdpMLineIndex": -1}}, "whole number"),
        ({"kind": "hello", "data": {"x": 1}}, "hello carries no data"),
        ({"kind": "media", "data": {"video": "off", "audio": True}}, "media data must be"),
        ({"kind": "media", "data": {"video": False}}, "media data must be"),
        ({"kind": "media", "data": {"video": 0, "audio": 1}}, "media data must be"),
    ],
)
def test_malformed_signals_get_400_and_change_nothing(client, alice, session, body, error):
    client.force_login(alice)
    raw = body if isinstance(body, str) else json.dumps(body)

    response = client.post(url(session), raw, content_type="application/json")

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert not Signal.objects.exists()
    assert not Attendance.objects.exists()


@freeze_time(at(1))
def test_a_bad_after_is_400(client, alice, session):
    client.force_login(alice)
    assert client.get(url(session), {"after": "-1"}).status_code == 400


def test_candidates_are_cleaned_to_known_fields():
    cleaned = signal_clean(
        "candidate",
        {
            "candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "extra": "dropped",
        },
    )
    assert cleaned == {
        "candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }
    with pytest.raises(SignalError):
        signal_clean("candidate", {"candidate": "x", "sdpMLineIndex": True})


def test_ice_servers_come_from_the_environment():
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup(); "
        "from django.conf import settings; print(settings.ICE_SERVERS)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hse.settings"}
    good = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "ICE_SERVERS": '[{"urls": "stun:stun.example.org:3478"}]'},
        capture_output=True,
        text=True,
        check=False,
    )
    bad = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "ICE_SERVERS": "stun:nope"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "stun.example.org" in good.stdout
    assert bad.returncode != 0 and "ICE_SERVERS must be a JSON list" in bad.stderr


def test_media_states_are_plain_booleans():
    assert signal_clean("media", {"video": False, "audio": True}) == {"video": False, "audio": True}
