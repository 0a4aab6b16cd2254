"""Fair cancellations (issue 22): a client's late cancellation pays the coach, a coach's late
cancellation or absence goes on their record, and a client who does not come counts as
attended unless the attendance evidence says the coach never came either."""

from datetime import timedelta

import pytest
from django.urls import reverse
from freezegun import freeze_time

from ledger.models import EarningEntry
from sessions_app import services
from sessions_app import sweeps as timers
from sessions_app.models import CoachIncident, Session
from tests.test_session_lifecycle import T

pytestmark = pytest.mark.django_db
OVER = T + timedelta(hours=1, minutes=15) + timedelta(hours=72)  # end + auto-end + window


def _settle(now):
    timers.sessions_auto_end_due(now=now)
    return timers.sessions_auto_confirm_due(now=now)


def test_a_client_who_does_not_come_counts_as_attended_and_the_coach_is_paid(bob, session):
    # The coach waits in the lobby and starts; the client never comes.
    services.session_enter_lobby(session=session, by=bob.user, now=T - timedelta(minutes=5))
    services.session_start(session=session, by=bob.user, now=T)
    assert _settle(OVER) == 1
    session.refresh_from_db()
    assert session.status == "confirmed" and session.credit.status == "used"
    assert EarningEntry.objects.filter(credit=session.credit, kind="earned").count() == 1
    assert not CoachIncident.objects.exists()


def test_a_coach_in_the_lobby_who_never_started_is_paid_when_the_client_did_not_come(bob, session):
    services.session_enter_lobby(session=session, by=bob.user, now=T)
    assert _settle(OVER) == 1
    session.refresh_from_db()
    assert session.status == "confirmed" and session.credit.status == "used"


def test_a_coach_with_no_trace_gives_the_credit_back_and_gets_a_record(alice, bob, session):
    # The client came and waited; nothing of the coach; nobody reported it.
    services.session_enter_lobby(session=session, by=alice, now=T)
    assert _settle(OVER - timedelta(minutes=1)) == 0
    assert _settle(OVER) == 1
    assert _settle(OVER) == 0  # the sweep again changes nothing
    session.refresh_from_db()
    assert session.status == "cancelled"
    assert session.credit.status == "available"  # the client may book it again
    assert not EarningEntry.objects.filter(credit=session.credit).exists()
    [incident] = CoachIncident.objects.all()
    assert (incident.coach, incident.session, incident.kind) == (bob, session, "no_show")
    assert session.events.filter(action="coach_absent").count() == 1


def test_the_same_rule_holds_when_a_page_catches_up_before_the_sweep(alice, bob, session):
    # Confirming after the window applies what the clock did: the coach never came, so the
    # session is given back, not confirmed, and nobody is paid.
    with pytest.raises(services.BookingError, match="cancelled"):
        services.session_confirm(session=session, by=alice, now=OVER)
    assert not EarningEntry.objects.exists()


def test_a_late_client_cancellation_pays_the_coach_and_an_early_one_does_not(alice, session):
    late = T - timedelta(hours=23)
    services.session_cancel(session=session, by=alice, now=late)
    session.refresh_from_db()
    assert session.credit.status == "used"
    assert EarningEntry.objects.get(credit=session.credit).kind == "earned"
    assert not CoachIncident.objects.exists()


def test_a_coach_cancelling_late_goes_on_the_record_and_early_does_not(
    alice, bob, leadership, session
):
    services.session_cancel(session=session, by=bob.user, now=T - timedelta(hours=23))
    session.refresh_from_db()
    assert session.credit.status == "available"
    [incident] = CoachIncident.objects.all()
    assert incident.kind == "late_cancel" and incident.coach == bob
    assert "less than 24 hours" in incident.note


def test_a_coach_cancelling_early_has_no_record(bob, session):
    services.session_cancel(session=session, by=bob.user, now=T - timedelta(hours=25))
    assert Session.objects.get().status == "cancelled"
    assert not CoachIncident.objects.exists()


def test_the_session_page_states_the_policy_and_the_coach_is_warned_when_late(
    client, alice, bob, session
):
    page = reverse("sessions:detail", args=[session.pk])
    client.force_login(alice)
    with freeze_time(T - timedelta(days=2)):
        html = client.get(page).content.decode()
    assert "Cancellations and no-shows" in html
    assert "Cancelling up to 24 hours before keeps the session" in html
    client.force_login(bob.user)
    with freeze_time(T - timedelta(hours=2)):
        html = client.get(page).content.decode()
    assert "so the cancellation goes on your record" in html
    with freeze_time(T - timedelta(days=2)):
        html = client.get(page).content.decode()
    assert "so the cancellation goes on your record" not in html


def test_the_admin_lists_incidents_filtered_by_kind(client, bob, session, django_user_model):
    services.session_cancel(session=session, by=bob.user, now=T - timedelta(hours=1))
    admin = django_user_model.objects.create_superuser(
        email="root@example.com", password="x", display_name="Root"
    )
    client.force_login(admin)
    url = reverse("admin:sessions_app_coachincident_changelist")
    assert (
        "cancelled less than 24 hours" in client.get(url, {"kind": "late_cancel"}).content.decode()
    )
    assert "cancelled less than" not in client.get(url, {"kind": "no_show"}).content.decode()
    assert client.get(url, {"kind": "junk"}).status_code < 500
