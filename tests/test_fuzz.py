"""Every route, every form field and query parameter the code reads, hostile values: never a
500. The routes come from the URLconf (through the authorisation matrix, which fails when a
route is missing from it), the parameter names from the project's forms and from what the
views read, so a new route or field is fuzzed without anyone listing it here."""

import ast
import inspect
import json
from pathlib import Path

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.check_layers import LAYERS
from tests.test_authorization_matrix import MATRIX, world  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def _form_fields() -> set[str]:
    import importlib

    names = set()
    for app in LAYERS:
        if not (ROOT / app / "forms.py").exists():
            continue
        module = importlib.import_module(f"{app}.forms")
        for _, form in inspect.getmembers(module, inspect.isclass):
            if issubclass(form, forms.BaseForm) and form.__module__ == module.__name__:
                names.update(form.base_fields)
    return names


def _read_parameters() -> set[str]:
    """The names views read with ``.get("name")`` or ``["name"]`` on GET, POST or params."""
    names = set()
    for app in LAYERS:
        for path in (ROOT / app).glob("*views*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "get"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                ):
                    names.add(node.args[0].value)
                elif (
                    isinstance(node, ast.Subscript)
                    and isinstance(node.slice, ast.Constant)
                    and isinstance(node.slice.value, str)
                ):
                    names.add(node.slice.value)
    return names


# Extra names the pages themselves use in their links (htmx targets, the calendar's views).
PARAMETERS = sorted(_form_fields() | _read_parameters() | {"more", "view", "page", "show"})

HOSTILE_TEXTS = [
    "", "0", "-1", "1e9", "1e999999", "9" * 5000, "NaN", "inf", "٣", "1_000", "0x10",
    "0001-01-01", "9999-12-31", "0001-01-01T00:00", "9999-12-31T23:59",
    "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-02-30", "1970-01-01T00:00Z",
    "\x00", "a\r\nb", "\u202e", "\x1b[31m", "\ufeff", "<script>alert(1)</script>",
    "x" * 10_000, "Mars/Olympus", "../../etc/passwd", "leadership", "wallet", "stripe",
    "30", "45", "60", "1", "5", "all", "month", "week", "no_show",
]  # fmt: skip
HOSTILE = st.one_of(
    st.sampled_from(HOSTILE_TEXTS),
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
FUZZ = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _url(route: str, key, objects, other_id) -> str:
    if key is None:
        return reverse(route)
    return reverse(route, args=[other_id if other_id is not None else objects[key].pk])


@pytest.mark.parametrize("route", sorted(MATRIX))
@FUZZ
@given(
    data=st.data(),
    params=st.dictionaries(st.sampled_from(PARAMETERS), HOSTILE, max_size=6),
)
def test_no_route_answers_500_to_anything(world, route, data, params):  # noqa: F811
    """Everyone, on client A's and coach A's objects (so also on someone else's), or on an
    id that exists nowhere; hostile values alone, or in an otherwise sensible form (so the
    code behind the first checks is reached too), as a page or as htmx asks for a part."""
    objects, people = world
    key, _, _ = MATRIX[route]
    person = data.draw(st.sampled_from(["anon", *sorted(people)]), label="person")
    other_id = data.draw(st.sampled_from([None, None, 2**62]), label="object")
    base = data.draw(st.sampled_from([{}, SENSIBLE]), label="base")
    headers = data.draw(st.sampled_from(HTMX), label="headers")
    client = Client(raise_request_exception=False)
    if person != "anon":
        client.force_login(people[person])
    url = _url(route, key, objects, other_id)
    params = {**base, **params}

    assert client.get(url, params, headers=headers).status_code < 500
    assert client.post(url, params, headers=headers).status_code < 500


# What a real form sends, so a hostile value in one field meets the checks behind the others.
SENSIBLE = {
    "skill": "leadership", "duration": "60", "quantity": "1", "method": "wallet",
    "start": "2031-03-04T15:00:00Z", "date": "2031-03-04", "view": "week", "rating": "5",
    "reason": "no_show", "details": "The coach never came.", "goals": "Lead", "amount": "20",
    "challenges": "Time", "display_name": "Eve", "time_zone": "Europe/Berlin",
}  # fmt: skip
HTMX = [
    {},
    {"HX-Request": "true"},
    {"HX-Request": "true", "HX-Target": "drawer"},
    {"HX-Request": "true", "HX-Target": "room-state"},
    {"HX-Request": "true", "HX-Target": 'drawer"><script>'},
]


ALLAUTH = ["account_login", "account_signup", "account_reset_password", "account_logout"]
ALLAUTH_FIELDS = ["login", "password", "email", "password1", "password2", "remember", "next"]


@pytest.mark.parametrize("route", ALLAUTH)
@FUZZ
@given(params=st.dictionaries(st.sampled_from(ALLAUTH_FIELDS + PARAMETERS), HOSTILE, max_size=6))
def test_no_account_page_answers_500_to_anything(db, route, params):
    client = Client(raise_request_exception=False)
    assert client.get(reverse(route), params).status_code < 500
    assert client.post(reverse(route), params).status_code < 500


DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        json.dumps({"kind": "offer", "data": {"type": "offer", "sdp": "v=0\u0000x"}}),
        '{"kind": "offer", "data": {"type": "offer", "sdp": "v=0\\ud800"}}',
        '{"kind": "candidate", "data": {"candidate": "\\u0000", "sdpMid": "0"}}',
        json.dumps({"kind": "candidate", "data": {"candidate": "a" * 70_000}}),
        json.dumps({"kind": "hello", "data": {"x": [[[[[[[[[[]]]]]]]]]]}}),
        "\udcff not utf-8".encode("utf-8", "surrogateescape"),
    ],
)
def test_signalling_refuses_bodies_it_cannot_store_with_a_400(world, body):  # noqa: F811
    objects, people = world
    client = Client(raise_request_exception=False)
    client.force_login(people["client_a"])
    url = reverse("sessions:signals", args=[objects["session"].pk])

    response = client.post(url, body, content_type="application/json")

    assert response.status_code == 400
    assert "error" in response.json()
