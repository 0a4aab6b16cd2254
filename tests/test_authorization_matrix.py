"""Every route of the site, every method, every kind of person: the expected answer.

The routes are read from the URLconf; a route missing from MATRIX fails the test, so a
new view must say who may reach it (deny by default). Objects belong to client A (Alice)
and coach A (Bob); client B (Carol), coach B (Dora) and staff (Sam) are everyone else.
"""

from dataclasses import dataclass, field
from datetime import time, timedelta
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.services import calendar_feed_renew
from coaching.models import BusyCalendar, TimeOff
from ledger import services as ledger
from ledger.services import wallet_post
from messaging.services import conversation_for, message_send
from payments.packages import extension_ask
from payments.services import order_start, topup_start
from requests_app.services import request_accept, request_propose, series_propose
from sessions_app import booking
from tests.factories import CoachFactory, SkillFactory, UserFactory

ANON, CLIENT_A, CLIENT_B, COACH_A, COACH_B, STAFF = (
    "anon",
    "client_a",
    "client_b",
    "coach_a",
    "coach_b",
    "staff",
)
PEOPLE = (CLIENT_A, CLIENT_B, COACH_A, COACH_B, STAFF)
ACTORS = (ANON, *PEOPLE)
OUR_APPS = (
    "accounts", "coaching", "payments", "payouts", "sessions", "requests", "marketplace",
    "messaging",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """Who gets through for one method. ``allowed`` get an answer that is not 403/404
    (``codes`` narrows it); everyone else gets 404; anonymous visitors are sent to log in
    unless ``public``. ``method_not_allowed`` means 405 for everyone signed in."""

    allowed: frozenset = frozenset()
    public: bool = False
    method_not_allowed: bool = False
    codes: dict = field(default_factory=dict)  # actor -> exact status expected


def rule(*allowed, public=False, codes=None):
    return Rule(allowed=frozenset(allowed), public=public, codes=codes or {})


NOT_ALLOWED = Rule(method_not_allowed=True)
PUBLIC_NO_POST = Rule(method_not_allowed=True, public=True)


def not_allowed_for(*who):
    """405 for those who may reach the route at all; everyone else finds nothing (404)."""
    return Rule(method_not_allowed=True, allowed=frozenset(who))


SIGNED_IN = PEOPLE
CLIENTS = (CLIENT_A, CLIENT_B, STAFF)  # staff accounts are clients by role
COACHES = (COACH_A, COACH_B)
A_SIDE = (CLIENT_A, COACH_A)

# route -> (kwargs key, GET rule, POST rule)
MATRIX = {
    "healthz": (None, rule(*ACTORS, public=True), PUBLIC_NO_POST),
    "coaching:catalog": (None, rule(*ACTORS, public=True), PUBLIC_NO_POST),
    "marketplace:coach_detail": ("coach", rule(*ACTORS, public=True), PUBLIC_NO_POST),
    "coaching:profile_edit": (None, rule(*COACHES), rule(*COACHES)),
    "coaching:offers_edit": (None, not_allowed_for(*COACHES), rule(*COACHES)),
    "coaching:availability": (None, rule(*COACHES), not_allowed_for(*COACHES)),
    "coaching:window_add": (None, not_allowed_for(*COACHES), rule(*COACHES)),
    "coaching:window_remove": ("window", not_allowed_for(*COACHES), rule(COACH_A)),
    "coaching:time_off_add": (None, not_allowed_for(*COACHES), rule(*COACHES)),
    "coaching:time_off_remove": ("time_off", not_allowed_for(*COACHES), rule(COACH_A)),
    "coaching:busy_calendar_add": (None, not_allowed_for(*COACHES), rule(*COACHES)),
    "coaching:busy_calendar_remove": ("busy_calendar", not_allowed_for(*COACHES), rule(COACH_A)),
    "accounts:settings": (None, rule(*SIGNED_IN), rule(*SIGNED_IN)),
    "accounts:calendar_feed_new": (None, NOT_ALLOWED, rule(*SIGNED_IN)),
    "payments:buy": (
        "coach",
        rule(*CLIENTS, *COACHES, codes={COACH_A: 302, COACH_B: 302}),
        NOT_ALLOWED,
    ),
    "payments:checkout": ("coach", NOT_ALLOWED, rule(*CLIENTS)),
    "payments:order_detail": ("order", rule(CLIENT_A), NOT_ALLOWED),
    "payments:order_cancel": ("order", rule(CLIENT_A), rule(CLIENT_A)),
    "payments:top_up_cancel": ("top_up", rule(CLIENT_A), rule(CLIENT_A)),
    "payments:wallet": (None, rule(*SIGNED_IN), NOT_ALLOWED),
    # Alice's package: she asks for more time or ends it; Bob answers the extension.
    "payments:package_extend": ("order", NOT_ALLOWED, rule(CLIENT_A)),
    "payments:package_end": ("order", rule(CLIENT_A), rule(CLIENT_A)),
    "payments:extension_detail": ("extension", rule(COACH_A), NOT_ALLOWED),
    "payments:extension_answer": ("extension", NOT_ALLOWED, rule(COACH_A)),
    "payments:top_up": (None, NOT_ALLOWED, rule(*SIGNED_IN)),
    "payments:stripe_webhook": (
        None,
        PUBLIC_NO_POST,
        Rule(allowed=frozenset(ACTORS), public=True, codes={a: 400 for a in ACTORS}),
    ),
    "sessions:list": (None, rule(*SIGNED_IN), NOT_ALLOWED),
    "marketplace:pending": (None, rule(*SIGNED_IN), NOT_ALLOWED),
    "marketplace:calendar": (None, rule(*SIGNED_IN), NOT_ALLOWED),
    # Alice's private calendar address: the secret in it is the key, whoever holds it.
    "marketplace:calendar_feed": ("calendar_feed", rule(*ACTORS, public=True), PUBLIC_NO_POST),
    "sessions:past": (None, rule(*SIGNED_IN), NOT_ALLOWED),
    "marketplace:dashboard": (None, rule(*COACHES), NOT_ALLOWED),
    "sessions:detail": ("session", rule(*A_SIDE), NOT_ALLOWED),
    "sessions:survey": ("session", rule(CLIENT_A), rule(CLIENT_A)),
    "sessions:schedule": ("credit", rule(CLIENT_A), rule(CLIENT_A)),
    "sessions:room": ("session", rule(*A_SIDE), NOT_ALLOWED),
    "sessions:signals": ("session", rule(*A_SIDE), rule(*A_SIDE)),
    "sessions:start": ("session", NOT_ALLOWED, rule(*A_SIDE)),
    "sessions:join": ("session", NOT_ALLOWED, rule(*A_SIDE)),
    "sessions:leave": ("session", NOT_ALLOWED, rule(*A_SIDE)),
    "sessions:left": ("session", rule(*A_SIDE), NOT_ALLOWED),
    "sessions:end": ("session", NOT_ALLOWED, rule(*A_SIDE)),
    "sessions:late": ("session", NOT_ALLOWED, rule(*A_SIDE)),
    "sessions:late_wait": ("session", NOT_ALLOWED, rule(*A_SIDE)),
    "sessions:confirm": ("session", rule(CLIENT_A), rule(CLIENT_A)),
    "sessions:report": ("session", rule(CLIENT_A), rule(CLIENT_A)),
    "sessions:cancel": ("session", NOT_ALLOWED, rule(*A_SIDE)),
    "sessions:rate": ("session", rule(CLIENT_A), rule(CLIENT_A)),
    "sessions:reply": ("session", NOT_ALLOWED, rule(COACH_A)),
    "requests:propose": (None, rule(*SIGNED_IN), rule(*SIGNED_IN)),
    "requests:detail": ("request", rule(*A_SIDE), NOT_ALLOWED),
    "requests:accept": ("request", NOT_ALLOWED, rule(*A_SIDE)),
    "requests:reject": ("request", rule(*A_SIDE), rule(*A_SIDE)),
    "requests:cancel": ("request", NOT_ALLOWED, rule(*A_SIDE)),
    "requests:adjust": ("request", NOT_ALLOWED, rule(*A_SIDE)),
    "requests:series_new": ("credit", rule(CLIENT_A), rule(CLIENT_A)),
    "requests:series_cancel_rest": ("series_session", rule(*A_SIDE), rule(*A_SIDE)),
    "requests:series_move_rest": ("series_session", rule(*A_SIDE), rule(*A_SIDE)),
    "messaging:list": (None, rule(*SIGNED_IN), NOT_ALLOWED),
    "messaging:unread": (None, rule(*SIGNED_IN), NOT_ALLOWED),
    "messaging:thread": ("conversation", rule(*A_SIDE), rule(*A_SIDE)),
    "messaging:read": (
        "conversation",
        NOT_ALLOWED,
        rule(*A_SIDE, codes={CLIENT_A: 400, COACH_A: 400}),  # no "upto": said why
    ),
    # Writing to coach A: any client (Alice has a conversation; Carol and Sam may start one);
    # a coach writes to no coach, and to no one about themself.
    "messaging:start": ("coach_user", rule(*CLIENTS), rule(*CLIENTS)),
    # A coach's earnings and payouts: each coach their own, nobody else's (no ids in them).
    "payouts:statement": (None, rule(*COACHES), not_allowed_for(*COACHES)),
    "payouts:statement_csv": (None, rule(*COACHES), not_allowed_for(*COACHES)),
    "payouts:payouts": (None, rule(*COACHES), not_allowed_for(*COACHES)),
    "payouts:request": (None, not_allowed_for(*COACHES), rule(*COACHES)),
    "payouts:method_manual": (None, not_allowed_for(*COACHES), rule(*COACHES)),
    "payouts:stripe_setup": (None, not_allowed_for(*COACHES), rule(*COACHES)),
    "payouts:stripe_return": (None, rule(*COACHES), not_allowed_for(*COACHES)),
    "payouts:stripe_use": (None, not_allowed_for(*COACHES), rule(*COACHES)),
    "payouts:auto_weekly": (None, not_allowed_for(*COACHES), rule(*COACHES)),
}


def our_routes() -> set[str]:
    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace in OUR_APPS:
                yield f"{namespace}:{pattern.name}"

    top_level = {
        pattern.name for pattern in get_resolver().url_patterns if isinstance(pattern, URLPattern)
    }  # the project's own routes outside the apps (allauth and admin test themselves)
    return set(walk(get_resolver().url_patterns)) | top_level


def test_every_route_is_in_the_matrix():
    routes = our_routes()
    assert routes - set(MATRIX) == set(), "add the new routes to MATRIX: who may reach them?"
    assert set(MATRIX) - routes == set(), "MATRIX names routes that no longer exist"


@pytest.fixture
def world(db):
    return build_world()


def build_world():
    """Alice (client A) and Bob (coach A) with a session running now, an order, a free
    credit, an open request; Carol and Dora (B side) and Sam (staff) own nothing of theirs.
    Call inside a transaction."""
    skill = SkillFactory(name="Leadership", slug="leadership")
    bob = CoachFactory(
        user__display_name="Bob", skills=[skill], windows=[(d, 0, 1440) for d in range(7)]
    )
    dora = CoachFactory(user__display_name="Dora", skills=[skill])
    alice = UserFactory(display_name="Alice")
    carol = UserFactory(display_name="Carol")
    sam = UserFactory(display_name="Sam", is_staff=True, is_superuser=True)
    now = timezone.now()
    wallet_post(user=alice, amount=100_000, reason="top_up", key="fund", now=now)
    order = order_start(
        client=alice,
        coach=bob,
        skill=skill,
        duration_minutes=60,
        quantity=5,
        method="wallet",
        now=now,
    )
    credits = list(alice.credits.all())
    start = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 15)
    session = booking.session_reserve(
        coach=bob, client=alice, skill=skill, duration_minutes=60, starts_at=start,
        now=start - timedelta(days=1), credit=credits[0], agreed=True,
    )  # fmt: skip
    ledger.credit_schedule(credit=credits[0], by=alice, now=now, why="the running session")
    later = (now + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    request = request_propose(by=alice, coach=bob, client=alice, starts_at=later, now=now)
    # A weekly series of one, accepted: its session can be cancelled with the rest.
    series = series_propose(
        by=alice, credit=credits[1], starts=[later + timedelta(days=1)], now=now
    )
    series = request_accept(request=series, by=bob.user, now=now)
    conversation = conversation_for(client=alice, coach=bob, now=now)
    message_send(conversation=conversation, by=bob.user, body="Hello Alice", now=now)
    objects = {
        "coach": bob,
        "order": order,
        "top_up": topup_start(user=alice, amount=5000, now=now),
        "credit": credits[-1],
        "session": session,
        "request": request,
        "series_session": series.session,
        "window": bob.availability_windows.first(),
        "conversation": conversation,
        "extension": extension_ask(order=order, by=alice, now=now),
        "coach_user": bob.user,
        "busy_calendar": BusyCalendar.objects.create(
            coach=bob, url="https://calendar.example.com/bob.ics", created_at=now
        ),
        # reverse() takes the address's token where the other routes take a pk.
        "calendar_feed": SimpleNamespace(pk=calendar_feed_renew(user=alice, now=now).token),
        "time_off": TimeOff.objects.create(
            coach=bob,
            start_date=(now + timedelta(days=40)).date(),
            start_time=time(),
            end_date=(now + timedelta(days=41)).date(),
            end_time=time(),
        ),
    }
    people = {CLIENT_A: alice, CLIENT_B: carol, COACH_A: bob.user, COACH_B: dora.user, STAFF: sam}
    return objects, people


def expected_ok(status: int, actor: str, rule_: Rule) -> bool:
    if actor in rule_.codes:
        return status == rule_.codes[actor]
    return status not in (403, 404, 405) and status < 500


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_route_answers_each_person_as_the_matrix_says(route, world):
    objects, people = world
    key, get_rule, post_rule = MATRIX[route]
    url = reverse(route, args=[objects[key].pk] if key else [])
    failures = []
    for method, rule_ in (("get", get_rule), ("post", post_rule)):
        for actor in ACTORS:
            client = Client()
            if actor != ANON:
                client.force_login(people[actor])
            with transaction.atomic():
                status = getattr(client, method)(url).status_code
                transaction.set_rollback(True)  # each probe leaves the world as it was
            if actor == ANON and not rule_.public:
                ok = status == 302
            elif rule_.method_not_allowed:
                reaches = not rule_.allowed or actor in rule_.allowed
                ok = status == (405 if reaches else 404)
            elif actor in rule_.allowed:
                ok = expected_ok(status, actor, rule_)
            else:
                ok = status == 404
            if not ok:
                failures.append(f"{method.upper()} {url} as {actor}: {status}")
    assert not failures, "\n".join(failures)
