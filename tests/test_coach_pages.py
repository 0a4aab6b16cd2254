from datetime import date

import pytest
from django.urls import reverse
from freezegun import freeze_time

from coaching.models import AvailabilityWindow, CoachProfile, TimeOff
from tests.factories import SkillFactory, UserFactory

PROFILE = reverse("coaching:profile_edit")
WINDOW_ADD = reverse("coaching:window_add")
TIME_OFF_ADD = reverse("coaching:time_off_add")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def new_coach(db):
    return UserFactory(display_name="Nina Newcoach", role="coach", time_zone="Europe/Berlin")


def profile_data(skill, **changes) -> dict:
    data = {
        "headline": "Career coach",
        "bio": "Ten years of helping people change careers.",
        "skills": [skill.pk],
        "languages": ["en", "de"],
        "hourly_price": "85.50",
        "minimum_notice_hours": "24",
        "time_zone": "Europe/Berlin",
    }
    data.update(changes)
    return data


def windows(coach) -> list[tuple[int, int, int]]:
    return list(coach.availability_windows.values_list("weekday", "start_minute", "end_minute"))


@pytest.mark.django_db
def test_a_complete_profile_lists_the_coach_with_price_in_minor_units(client, new_coach, skill):
    client.force_login(new_coach)
    assert client.get(PROFILE).status_code == 200
    assert not CoachProfile.objects.get(user=new_coach).is_listed

    response = client.post(PROFILE, profile_data(skill))

    assert response.status_code == 302
    assert response.url == reverse("coaching:availability")  # no hours yet: add them next
    profile = CoachProfile.objects.get(user=new_coach)
    assert not profile.is_listed  # nothing to sell without weekly hours
    window = {"weekday": "0", "start_minute": "540", "end_minute": "720"}
    client.post(reverse("coaching:window_add"), window)
    profile.refresh_from_db()
    assert profile.is_listed
    client.post(reverse("coaching:window_remove", args=[profile.availability_windows.get().pk]))
    profile.refresh_from_db()
    assert not profile.is_listed
    assert (profile.hourly_price, profile.minimum_notice_minutes) == (8550, 24 * 60)
    assert profile.language_names == ["English", "German"]
    assert list(profile.skills.all()) == [skill]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hourly_price": "-40"}, "The hourly price must be more than zero."),
        ({"hourly_price": "0"}, "The hourly price must be more than zero."),
        ({"hourly_price": "12.345"}, "has more decimals than USD allows"),
        ({"hourly_price": "lots"}, "is not an amount"),
        ({"minimum_notice_hours": "-1"}, "greater than or equal to 0"),
        ({"time_zone": "Moon/Base"}, "is not a time zone we know"),
        ({"languages": ["xx"]}, "is not one of the available choices"),
        ({"skills": []}, "This field is required"),
    ],
)
def test_bad_profile_input_says_why_and_changes_nothing(client, new_coach, skill, changes, message):
    client.force_login(new_coach)

    response = client.post(PROFILE, profile_data(skill, **changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    profile = CoachProfile.objects.get(user=new_coach)
    assert (profile.is_listed, profile.hourly_price, profile.headline) == (False, None, "")


@pytest.mark.django_db
def test_clients_and_strangers_have_no_coach_pages(client, alice):
    client.force_login(alice)
    for url in [PROFILE, reverse("coaching:availability")]:
        assert client.get(url).status_code == 404
    assert (
        client.post(WINDOW_ADD, {"weekday": 0, "start_minute": 540, "end_minute": 600}).status_code
        == 404
    )
    client.logout()
    assert client.get(PROFILE).status_code == 302  # to the login page


@pytest.mark.django_db
def test_adding_a_window_with_htmx_returns_the_updated_week(client, bob):
    client.force_login(bob.user)

    response = client.post(
        WINDOW_ADD, {"weekday": 5, "start_minute": 600, "end_minute": 780}, headers=HTMX
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="card" id="windows">')
    assert "10:00–13:00" in body
    assert (5, 600, 780) in windows(bob)


@pytest.mark.django_db
def test_adding_a_window_without_javascript_redirects_back(client, bob):
    client.force_login(bob.user)

    response = client.post(WINDOW_ADD, {"weekday": 5, "start_minute": 600, "end_minute": 780})

    assert response.status_code == 302
    assert (5, 600, 780) in windows(bob)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"weekday": 0, "start_minute": 660, "end_minute": 780},
            "overlaps your Monday 09:00–12:00",
        ),
        (
            {"weekday": 0, "start_minute": 480, "end_minute": 1440},
            "overlaps your Monday 09:00–12:00",
        ),
        ({"weekday": 6, "start_minute": 600, "end_minute": 600}, "must end after it starts"),
        ({"weekday": 6, "start_minute": 720, "end_minute": 600}, "must end after it starts"),
        ({"weekday": 9, "start_minute": 600, "end_minute": 700}, "Select a valid choice"),
        ({"weekday": 6, "start_minute": 601, "end_minute": 700}, "Select a valid choice"),
        ({"weekday": 6, "start_minute": "nine", "end_minute": 700}, "Select a valid choice"),
    ],
)
def test_bad_windows_say_why_and_change_nothing(client, bob, data, message):
    client.force_login(bob.user)
    before = windows(bob)

    response = client.post(WINDOW_ADD, data, headers=HTMX)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert windows(bob) == before


@pytest.mark.django_db
def test_touching_windows_are_allowed(client, bob):
    client.force_login(bob.user)

    client.post(WINDOW_ADD, {"weekday": 0, "start_minute": 720, "end_minute": 840}, headers=HTMX)

    assert (0, 720, 840) in windows(bob)


@pytest.mark.django_db
def test_removing_a_window_and_another_coachs_window_is_not_found(client, bob, dora):
    client.force_login(bob.user)
    mine = bob.availability_windows.first()
    theirs = dora.availability_windows.first()

    gone = client.post(reverse("coaching:window_remove", args=[mine.pk]), headers=HTMX)
    other = client.post(reverse("coaching:window_remove", args=[theirs.pk]), headers=HTMX)

    assert gone.status_code == 200
    assert not AvailabilityWindow.objects.filter(pk=mine.pk).exists()
    assert other.status_code == 404
    assert AvailabilityWindow.objects.filter(pk=theirs.pk).exists()


@pytest.mark.django_db
def test_removing_needs_post(client, bob):
    client.force_login(bob.user)
    window = bob.availability_windows.first()

    assert client.get(reverse("coaching:window_remove", args=[window.pk])).status_code == 405


@pytest.mark.django_db
@freeze_time("2026-11-21 12:00:00")
def test_time_off_covers_whole_local_days(client, bob):
    client.force_login(bob.user)

    response = client.post(
        TIME_OFF_ADD,
        {"first_day": "2026-12-24", "last_day": "2026-12-26", "note": "Holidays"},
        headers=HTMX,
    )

    assert response.status_code == 200
    assert "Thu 24 Dec 2026 – Sat 26 Dec 2026" in response.content.decode()
    off = TimeOff.objects.get(coach=bob)
    assert (off.first_day, off.last_day) == (date(2026, 12, 24), date(2026, 12, 26))
    starts, ends = off.instants()
    assert starts.isoformat() == "2026-12-24T05:00:00+00:00"  # midnight in New York
    assert ends.isoformat() == "2026-12-27T05:00:00+00:00"


@pytest.mark.django_db
@freeze_time("2026-11-21 12:00:00")
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"first_day": "2026-12-26", "last_day": "2026-12-24"}, "cannot be before the first"),
        ({"first_day": "2026-11-01", "last_day": "2026-11-02"}, "already over"),
        ({"first_day": "someday", "last_day": "2026-12-24"}, "Enter a valid date"),
        (
            {"first_day": "2026-12-25", "last_day": "2026-12-25"},
            "overlap time off you already have",
        ),
    ],
)
def test_bad_time_off_says_why_and_changes_nothing(client, bob, data, message):
    client.force_login(bob.user)
    client.post(TIME_OFF_ADD, {"first_day": "2026-12-24", "last_day": "2026-12-26"})
    before = list(
        TimeOff.objects.values_list("pk", "start_date", "start_time", "end_date", "end_time")
    )

    response = client.post(TIME_OFF_ADD, data, headers=HTMX)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert (
        list(TimeOff.objects.values_list("pk", "start_date", "start_time", "end_date", "end_time"))
        == before
    )


@pytest.mark.django_db
@freeze_time("2026-11-21 12:00:00")
def test_another_coachs_time_off_is_not_found(client, bob, dora):
    off = TimeOff.objects.create(
        coach=dora, start_date="2026-12-01", start_time="00:00", end_date="2026-12-02",
        end_time="00:00",
    )  # fmt: skip
    client.force_login(bob.user)

    response = client.post(reverse("coaching:time_off_remove", args=[off.pk]))

    assert response.status_code == 404
    assert TimeOff.objects.filter(pk=off.pk).exists()


@pytest.mark.django_db
def test_a_listed_coach_logging_in_goes_home_and_an_unlisted_one_to_the_profile(
    client, bob, new_coach
):
    from tests.factories import PASSWORD

    login = reverse("account_login")
    listed = client.post(login, {"login": bob.user.email, "password": PASSWORD})
    client.logout()
    unlisted = client.post(login, {"login": new_coach.email, "password": PASSWORD})

    assert listed.url == "/"
    assert unlisted.url == PROFILE


@pytest.mark.django_db
def test_the_database_refuses_a_negative_price_and_a_backwards_window(bob):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        CoachProfile.objects.filter(pk=bob.pk).update(hourly_price=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        AvailabilityWindow.objects.create(coach=bob, weekday=1, start_minute=600, end_minute=540)
    SkillFactory()  # the connection is still usable
