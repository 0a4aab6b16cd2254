"""Every pending action is taken in the panel itself: the survey, confirming with a rating,
reporting, a late coach; a refusal shows on the card that caused it, and the count follows."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from freezegun import freeze_time

from requests_app.services import request_propose
from sessions_app.models import PreSessionSurvey, Report, Session
from tests.test_session_lifecycle import T, at

pytestmark = pytest.mark.django_db
PANEL = reverse("marketplace:pending")
SIDEBAR = {"HX-Request": "true", "HX-Target": "pending-panel"}


def from_panel(client, name: str, session, data: dict) -> str:
    """Posts one card's form as htmx does, follows the 303 in place; the panel's HTML."""
    answer = client.post(reverse(name, args=[session.pk]), data, headers=SIDEBAR)
    assert (answer.status_code, answer.url) == (303, PANEL)
    return client.get(PANEL, headers=SIDEBAR).content.decode()


def card(panel: str, card_id: str) -> str:
    found = re.search(rf'<article class="request-card" id="{card_id}">.*?</article>', panel, re.S)
    assert found, f"no card {card_id}"
    return found.group(0)


def badge(panel: str) -> str:
    return re.search(r'<span class="count">(\d+)</span>', panel).group(1)


def test_the_survey_is_answered_in_the_panel_and_an_empty_one_is_refused_on_its_card(
    client, alice, session
):
    client.force_login(alice)
    with freeze_time(T - timedelta(days=1)):
        panel = client.get(PANEL, headers=SIDEBAR).content.decode()
        assert 'name="goals"' in card(panel, f"survey-{session.pk}")
        assert badge(panel) == "1"

        refused = from_panel(client, "sessions:survey", session, {"goals": "", "challenges": ""})
        shown = card(refused, f"survey-{session.pk}")
        assert "This field is required." in shown and '<details class="adjust" open>' in shown
        assert not PreSessionSurvey.objects.exists()

        panel = from_panel(
            client, "sessions:survey", session, {"goals": "Lead calmly", "challenges": "Nerves"}
        )
    assert "Your coach will read your answers" in panel
    assert "Nothing is waiting for you." in panel
    assert 'hx-swap-oob="true"' in panel and badge(panel) == "0"
    assert session.survey.goals == "Lead calmly"


def test_a_session_is_confirmed_with_stars_in_the_panel(client, alice, session):
    client.force_login(alice)
    with freeze_time(at(60 + 16)):
        panel = client.get(PANEL, headers=SIDEBAR).content.decode()
        shown = card(panel, f"confirm-{session.pk}")
        # Real radio buttons, each named for a screen reader, not a dropdown of stars.
        assert shown.count('type="radio" name="rating"') == 6  # five stars and "No rating"
        assert '<span class="visually-hidden">4 stars</span>' in shown
        assert "<select" not in shown.split("Report it")[0]

        panel = from_panel(client, "sessions:confirm", session, {"rating": "4", "comment": "Good"})
    session.refresh_from_db()
    assert (session.status, session.rating, session.rating_comment) == (
        Session.Status.CONFIRMED, 4, "Good",
    )  # fmt: skip
    assert "Your session is confirmed." in panel and badge(panel) == "0"


def test_a_report_from_the_panel_needs_details_and_is_refused_on_its_card(client, alice, session):
    client.force_login(alice)
    with freeze_time(at(60 + 16)):
        refused = from_panel(
            client, "sessions:report", session,
            {"reason": "technical", "details": "  ", "card": "to_confirm"},
        )  # fmt: skip
        assert "Details: This field is required." in card(refused, f"confirm-{session.pk}")
        assert not Report.objects.exists()

        panel = from_panel(
            client, "sessions:report", session,
            {"reason": "technical", "details": "No sound at all", "card": "to_confirm"},
        )  # fmt: skip
    assert "Your report was sent." in panel
    assert Report.objects.get(session=session).reason == "technical"


def test_a_late_coach_is_reported_from_the_panel(client, alice, session):
    client.force_login(alice)
    with freeze_time(at(6)):
        panel = client.get(PANEL, headers=SIDEBAR).content.decode()
        shown = card(panel, f"coach-late-{session.pk}")
        assert '<option value="no_show" selected>' in shown
        assert reverse("sessions:room", args=[session.pk]) in shown

        panel = from_panel(
            client, "sessions:report", session,
            {"reason": "no_show", "details": "I waited 6 minutes", "card": "coach_late"},
        )  # fmt: skip
    assert "Your report was sent." in panel and badge(panel) == "0"
    session.refresh_from_db()
    assert session.status == Session.Status.REPORTED


def test_a_move_shows_the_time_it_moves_from_and_a_bad_adjustment_stays_on_its_card(
    client, alice, bob, session
):
    sent = T - timedelta(days=4)
    moved = request_propose(
        by=bob.user, coach=bob, client=alice, starts_at=T + timedelta(days=1), now=sent,
        target_session=session,
    )  # fmt: skip
    client.force_login(alice)
    with freeze_time(sent + timedelta(minutes=5)):
        shown = card(client.get(PANEL, headers=SIDEBAR).content.decode(), f"request-{moved.pk}")
        # Alice reads Berlin time: the session of Mon 15:00 moves to Tue 15:00.
        assert "Booked for Mon 30 Nov, 15:00–16:00 CET; moves to" in shown
        assert "Tue 1 Dec, 15:00" in shown

        answer = client.post(
            reverse("requests:adjust", args=[moved.pk]), {"start": "2026-12-01T15:07"},
            headers=SIDEBAR,
        )  # fmt: skip
        panel = client.get(answer.url, headers=SIDEBAR).content.decode()
    shown = card(panel, f"request-{moved.pk}")
    assert "15-minute grid" in shown and '<details class="adjust" open>' in shown
    assert "15-minute grid" not in panel.replace(shown, "")
