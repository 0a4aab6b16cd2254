"""axe-core over every page a person can open, at desktop and phone width: no serious or
critical violation. The pages come from the URLconf (through the authorisation matrix, which
fails when a route is missing from it), each opened by someone allowed to see it, plus the
account pages and the states of a page that only a query string reaches."""

from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests.test_authorization_matrix import ANON, CLIENT_A, COACH_A, MATRIX, build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 390)
SERIOUS = {"serious", "critical"}
# Not pages: answers for scripts and machines.
NOT_PAGES = {
    "healthz", "sessions:signals", "payments:stripe_webhook", "payouts:statement_csv",
    "marketplace:calendar_feed",  # an iCalendar file for calendar apps
}  # fmt: skip
ACCOUNT_PAGES = ["account_login", "account_signup", "account_reset_password"]
# Pages in a state only a query string reaches (route, viewer, query).
STATES = [
    ("payments:buy", CLIENT_A, "?skill=leadership&duration=60&quantity=1"),
    ("payments:buy", CLIENT_A, "?skill=leadership&duration=60&quantity=5"),
    ("marketplace:calendar", CLIENT_A, "?view=month"),
    ("marketplace:calendar", COACH_A, "?view=week"),
    ("coaching:catalog", ANON, "?q=lead&price_max=500&when=evenings"),
]


def pages(objects) -> list[tuple[str, str]]:
    """(viewer, path) for every page: opened by the first of client A, coach A and an
    anonymous visitor whom the matrix lets through."""
    found = []
    for route, (key, get_rule, _) in sorted(MATRIX.items()):
        if route in NOT_PAGES or get_rule.method_not_allowed:
            continue
        viewer = next(
            (who for who in (CLIENT_A, COACH_A) if who in get_rule.allowed),
            ANON if get_rule.public else None,
        )
        if viewer is not None:
            found.append((viewer, reverse(route, args=[objects[key].pk] if key else [])))
    found += [(ANON, reverse(name)) for name in ACCOUNT_PAGES]
    found += [(who, reverse(route, args=_args(route, objects)) + q) for route, who, q in STATES]
    return found


def _args(route, objects):
    key = MATRIX[route][0]
    return [objects[key].pk] if key else []


def signed_in(browser, live_server, person, width):
    context = browser.new_context(
        viewport={"width": width, "height": 900}, timezone_id="Europe/Berlin", locale="en-US"
    )
    if person is not None:
        client = Client()
        client.force_login(person)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        host = urlsplit(live_server.url).hostname
        context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "domain": host, "path": "/"}]
        )
    return context


def serious(results) -> list[str]:
    return [
        f"{rule['id']} ({rule['impact']}): {len(rule['nodes'])}× e.g. {rule['nodes'][0]['target']}"
        for rule in results.response["violations"]
        if rule["impact"] in SERIOUS
    ]


@pytest.fixture
def world(db):
    with transaction.atomic():
        return build_world()


def test_every_page_has_no_serious_accessibility_violation(browser, live_server, world):
    objects, people = world
    axe = Axe()
    found, table = {}, []
    for width in WIDTHS:
        contexts = {}
        for viewer, path in pages(objects):
            if viewer not in contexts:
                contexts[viewer] = signed_in(browser, live_server, people.get(viewer), width)
            page = contexts[viewer].new_page()
            page.goto(live_server.url + path)
            # Seen as the viewer, not as a login page (which would pass and prove nothing).
            assert viewer == ANON or "/accounts/login/" not in page.url, path
            results = axe.run(page)
            problems = serious(results)
            every = len(results.response["violations"])
            table.append(f"{width:>5} {viewer:<9} {path:<60} {every:>3} {len(problems):>3}")
            if problems:
                found[f"{width} {viewer} {path}"] = problems
            page.close()
        for context in contexts.values():
            context.close()
    print("\nwidth viewer    page" + " " * 56 + "all serious+critical")
    print("\n".join(table))
    total = sum(map(len, found.values()))
    print(f"pages checked: {len(table)}; serious or critical violations: {total}")
    assert found == {}, "\n".join(f"{page}: {problems}" for page, problems in found.items())
