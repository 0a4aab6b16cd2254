import pytest
from django.core.management import call_command

from accounts.models import User
from coaching.models import CoachProfile
from marketplace.demo import DEMO_PASSWORD


@pytest.mark.django_db
def test_demo_data_fills_an_empty_database_once_and_prints_logins(client, capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    counts = (User.objects.count(), CoachProfile.objects.count())
    call_command("seed_demo")
    second = capsys.readouterr().out

    assert "Demo data loaded." in first
    assert "already has users" in second
    assert (User.objects.count(), CoachProfile.objects.count()) == counts
    assert CoachProfile.objects.listed().count() == 12
    zones = set(CoachProfile.objects.values_list("time_zone", flat=True))
    assert {"America/New_York", "Europe/Berlin"} <= zones
    assert len(zones) >= 8
    assert all(coach.availability_windows.exists() for coach in CoachProfile.objects.all())
    assert "alice@demo.hse" in second and DEMO_PASSWORD in second
    assert client.login(email="alice@demo.hse", password=DEMO_PASSWORD)
    assert client.login(email="bob@demo.hse", password=DEMO_PASSWORD)
    assert User.objects.get(email="admin@demo.hse").is_staff
    from requests_app.models import SessionRequest
    from sessions_app.models import Session

    states = set(SessionRequest.objects.values_list("status", flat=True))
    assert states == {"pending", "accepted", "rejected", "cancelled", "expired"}
    assert Session.objects.filter(status="scheduled").count() >= 3
    assert {"ended", "reported", "confirmed"} <= set(
        Session.objects.values_list("status", flat=True)
    )
    from django.utils import timezone

    from sessions_app.lifecycle import phase

    soon = Session.objects.filter(status="scheduled").order_by("starts_at").first()
    assert phase(soon, timezone.now()).room_open  # a newcomer can enter a room at once
    alice = User.objects.get(email="alice@demo.hse")
    bob = User.objects.get(email="bob@demo.hse")
    client.force_login(alice)
    assert client.get("/").context["pending_count"] >= 2  # Bob's request and her survey
    client.force_login(bob)
    assert client.get("/").context["pending_count"] >= 1


@pytest.mark.postgres("a flush; on SQLite the reset makes the file anew (CI's embedded step)")
@pytest.mark.django_db(transaction=True)
def test_the_demo_can_be_reset_so_its_room_is_open_again(settings, capsys):
    from datetime import timedelta

    from django.core.management.base import CommandError
    from django.utils import timezone
    from freezegun import freeze_time

    from sessions_app.lifecycle import phase
    from sessions_app.models import Session

    def room_open_now() -> bool:
        return any(
            phase(session, timezone.now()).room_open
            for session in Session.objects.filter(status="scheduled")
        )

    call_command("seed_demo")
    assert room_open_now()
    with freeze_time(timezone.now() + timedelta(days=2), tick=True):
        assert not room_open_now()  # two days on, the demo's room is long closed
        settings.DEBUG = False
        with pytest.raises(CommandError, match="DEBUG"):
            call_command("seed_demo", "--reset")
        settings.DEBUG = True
        call_command("seed_demo", "--reset")
        assert "Demo data loaded." in capsys.readouterr().out
        assert room_open_now()
        assert User.objects.filter(email="alice@demo.hse").count() == 1
