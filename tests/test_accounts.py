import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

SIGNUP = reverse("account_signup")
LOGIN = reverse("account_login")


def signup_data(**changes) -> dict:
    data = {
        "display_name": "Erin Example",
        "email": "erin@example.com",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "role": "client",
        "time_zone": "America/New_York",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_signing_up_as_a_client_keeps_name_role_and_zone(client):
    response = client.post(SIGNUP, signup_data())

    assert response.status_code == 302
    user = User.objects.get(email="erin@example.com")
    assert (user.display_name, user.role, user.time_zone) == (
        "Erin Example",
        "client",
        "America/New_York",
    )
    assert len(mail.outbox) == 1  # the verification email, even when it is optional


@pytest.mark.django_db
def test_a_new_coach_is_sent_to_complete_the_profile(client):
    response = client.post(SIGNUP, signup_data(role="coach"))

    assert response.status_code == 302
    assert response.url == reverse("coaching:profile_edit")
    assert User.objects.get(email="erin@example.com").is_coach


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "Mars/Olympus_Mons", "is not a time zone we know"),
        ("time_zone", "", "This field is required"),
        ("role", "admin", "is not one of the available choices"),
        ("display_name", "", "This field is required"),
    ],
)
def test_signup_with_bad_input_says_why_and_creates_nobody(client, field, value, message):
    response = client.post(SIGNUP, signup_data(**{field: value}))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_account_settings_change_name_and_zone(client, alice):
    client.force_login(alice)

    response = client.post(
        reverse("accounts:settings"), {"display_name": "Alice A.", "time_zone": "Asia/Tokyo"}
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.display_name, alice.time_zone) == ("Alice A.", "Asia/Tokyo")


@pytest.mark.django_db
def test_a_malformed_zone_in_settings_is_refused_and_changes_nothing(client, alice):
    client.force_login(alice)

    response = client.post(
        reverse("accounts:settings"), {"display_name": "Renamed", "time_zone": "Europe/Atlantis"}
    )

    assert response.status_code == 200
    assert "“Europe/Atlantis” is not a time zone we know" in response.content.decode()
    alice.refresh_from_db()
    assert (alice.display_name, alice.time_zone) == ("Alice Client", "Europe/Berlin")


@pytest.mark.django_db
def test_account_settings_need_a_login(client):
    response = client.get(reverse("accounts:settings"))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


@pytest.mark.django_db
def test_login_with_email_and_password(client, alice):
    response = client.post(LOGIN, {"login": "alice@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert client.get(reverse("accounts:settings")).status_code == 200


@pytest.mark.django_db
def test_mandatory_verification_keeps_an_unverified_user_out(client, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    user = UserFactory(email="new@example.com")
    EmailAddress.objects.filter(user=user).update(verified=False)

    response = client.post(LOGIN, {"login": "new@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert client.get(reverse("accounts:settings")).status_code == 302


@pytest.mark.django_db
def test_repeated_login_failures_are_rate_limited(client, alice):
    pages = [
        client.post(LOGIN, {"login": "alice@example.com", "password": "wrong"}).content.decode()
        for _ in range(6)
    ]

    assert "Too many failed login attempts" not in pages[0]
    assert "Too many failed login attempts" in pages[-1]
    # Even the right password is refused while the limit holds.
    right = client.post(LOGIN, {"login": "alice@example.com", "password": PASSWORD})
    assert right.status_code == 200
    assert "Too many failed login attempts" in right.content.decode()
    assert client.get(reverse("accounts:settings")).status_code == 302


@pytest.mark.django_db
def test_password_reset_answers_the_same_for_known_and_unknown_emails(client, alice):
    known = client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    unknown = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url
    assert [m.to for m in mail.outbox] == [["alice@example.com"], ["nobody@example.com"]]
