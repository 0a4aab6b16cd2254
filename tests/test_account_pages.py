"""allauth's pages in HSE's look and words: "Log in", never "Sign In"; forms still work."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

LOGIN = reverse("account_login")
NEW_PASSWORD = "a-brand-new-passphrase-7"
# allauth's own wording, which our pages replace.
NOT_OUR_WORDS = ("Sign In", "Sign Up", "Sign Out", "Remember Me", "sign in", "signed in")


def our_page(response, heading: str) -> str:
    """The page's HTML, after checking it is ours: our layout, the heading, none of allauth's
    wording and no label ending in a colon."""
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="container page auth-page"' in html
    assert f"<h1>{heading}</h1>" in html
    for words in NOT_OUR_WORDS:
        assert words not in html, words
    assert not re.search(r":\s*</label>", html)
    return html


def link_in_last_email() -> str:
    return re.search(r"http://testserver(/accounts/\S+/)", mail.outbox[-1].body).group(1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "heading"),
    [
        ("account_login", "Log in"),
        ("account_signup", "Create your account"),
        ("account_reset_password", "Forgot your password?"),
        ("account_reset_password_done", "Check your email"),
        ("account_reset_password_from_key_done", "Your password is changed"),
        ("account_email_verification_sent", "Confirm your email address"),
        ("account_inactive", "This account is inactive"),
    ],
)
def test_pages_for_visitors_are_in_our_look_and_words(client, url_name, heading):
    our_page(client.get(reverse(url_name)), heading)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url_name", "heading"),
    [
        ("account_change_password", "Change your password"),
        ("account_email", "Email addresses"),
        ("account_logout", "Log out"),
        ("account_reauthenticate", "Confirm it’s you"),
    ],
)
def test_pages_for_a_logged_in_person_are_in_our_look_and_words(client, alice, url_name, heading):
    client.force_login(alice)

    our_page(client.get(reverse(url_name)), heading)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name", ["account_change_password", "account_email", "account_reauthenticate"]
)
def test_account_pages_send_a_visitor_to_log_in_first(client, url_name):
    response = client.get(reverse(url_name))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


@pytest.mark.django_db
def test_logging_out_asks_first_and_a_visitor_is_sent_home(client, alice):
    assert client.get(reverse("account_logout")).status_code == 302

    client.force_login(alice)
    html = our_page(client.get(reverse("account_logout")), "Log out")
    assert "alice@example.com" in html

    response = client.post(reverse("account_logout"), follow=True)
    assert not response.context["user"].is_authenticated
    assert "You’re logged out." in response.content.decode()


@pytest.mark.django_db
def test_set_password_is_for_an_account_without_one(client, alice, carol):
    client.force_login(alice)
    assert client.get(reverse("account_set_password")).url == reverse("account_change_password")

    carol.set_unusable_password()
    carol.save()
    client.force_login(carol)
    html = our_page(client.get(reverse("account_set_password")), "Set a password")
    assert ">Confirm password</label>" in html


@pytest.mark.django_db
def test_the_login_form_keeps_allauths_fields_in_our_words(client):
    html = our_page(client.get(LOGIN), "Log in")

    for name in ("csrfmiddlewaretoken", "login", "password", "remember"):
        assert f'name="{name}"' in html
    assert "Remember me" in html
    assert f'<a href="{reverse("account_reset_password")}">Forgot your password?</a>' in html
    assert f'<a href="{reverse("account_signup")}">Create an account</a>' in html
    assert "placeholder=" not in html
    assert '<button type="submit" class="btn btn-primary btn-block">Log in</button>' in html


@pytest.mark.django_db
def test_logging_in_with_the_right_password_logs_in_and_says_so(client, alice):
    response = client.post(LOGIN, {"login": "alice@example.com", "password": PASSWORD}, follow=True)

    assert response.context["user"] == alice
    assert "You’re logged in as Alice Client." in response.content.decode()


@pytest.mark.django_db
def test_a_wrong_password_is_refused_in_the_error_box_above_the_fields(client, alice):
    response = client.post(LOGIN, {"login": "alice@example.com", "password": "wrong"})

    html = our_page(response, "Log in")
    box = html.index('<ul class="errorlist nonfield">')
    assert "are not correct" in html[box:]
    assert box < html.index('name="login"')
    assert not response.context["user"].is_authenticated


@pytest.mark.django_db
def test_a_field_error_shows_under_its_own_field(client):
    response = client.post(LOGIN, {"login": "not-an-email", "password": ""})

    html = our_page(response, "Log in")
    password_field = html[html.index('<label for="id_password">') :]
    assert password_field.index("This field is required") < password_field.index("</div>")
    assert 'aria-invalid="true"' in html


@pytest.mark.django_db
def test_signup_says_confirm_password_and_points_to_log_in(client):
    html = our_page(client.get(reverse("account_signup")), "Create your account")

    assert ">Confirm password</label>" in html
    assert f'<a href="{LOGIN}">Log in</a>' in html


@pytest.mark.django_db
def test_a_reset_link_lets_alice_choose_a_new_password_and_log_in_with_it(client, alice):
    response = client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert response.url == reverse("account_reset_password_done")
    assert mail.outbox[-1].to == ["alice@example.com"]

    # The link's key moves into the session, and the page drops it from its address.
    form_page = client.get(link_in_last_email(), follow=True)
    html = our_page(form_page, "Choose a new password")
    assert ">New password</label>" in html and ">Confirm new password</label>" in html

    done = client.post(
        form_page.redirect_chain[-1][0],
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        follow=True,
    )
    our_page(done, "Your password is changed")

    client.logout()
    old = client.post(LOGIN, {"login": "alice@example.com", "password": PASSWORD})
    assert old.status_code == 200 and not old.context["user"].is_authenticated
    new = client.post(LOGIN, {"login": "alice@example.com", "password": NEW_PASSWORD})
    assert new.status_code == 302
    assert client.get(reverse("accounts:settings")).status_code == 200


@pytest.mark.django_db
def test_a_used_reset_link_says_so_and_offers_a_new_one(client, alice):
    client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    link = link_in_last_email()
    alice.set_password(NEW_PASSWORD)
    alice.save()

    html = our_page(client.get(link), "This link no longer works")
    assert f'href="{reverse("account_reset_password")}">Send me a new link</a>' in html


@pytest.mark.django_db
def test_mismatched_new_passwords_are_refused_next_to_the_second(client, alice):
    client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    form_page = client.get(link_in_last_email(), follow=True)

    response = client.post(
        form_page.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": "other"}
    )

    html = our_page(response, "Choose a new password")
    second = html[html.index('<label for="id_password2">') :]
    assert second.index("You must type the same password each time.") < second.index("</div>")


@pytest.mark.django_db
def test_changing_the_password_asks_for_the_current_one(client, alice):
    client.force_login(alice)
    url = reverse("account_change_password")

    wrong = client.post(
        url, {"oldpassword": "wrong", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert "Please type your current password." in our_page(wrong, "Change your password")

    right = client.post(
        url,
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Your password is changed." in right.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


@pytest.mark.django_db
def test_the_link_in_the_signup_email_confirms_the_address(client):
    client.post(
        reverse("account_signup"),
        {
            "display_name": "Erin Example",
            "email": "erin@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "role": "client",
            "time_zone": "Europe/Berlin",
        },
    )
    link = link_in_last_email()

    html = our_page(client.get(link), "Confirm your email address")
    assert "<strong>erin@example.com</strong>" in html
    response = client.post(link, follow=True)

    assert EmailAddress.objects.get(email="erin@example.com").verified
    assert "Thanks, erin@example.com is confirmed." in response.content.decode()


@pytest.mark.django_db
def test_a_broken_confirmation_link_says_so(client):
    response = client.get(reverse("account_confirm_email", args=["not-a-key"]))

    html = our_page(response, "This link no longer works")
    assert f'href="{LOGIN}">Log in</a>' in html


@pytest.mark.django_db
def test_the_email_page_lists_addresses_with_allauths_actions(client, alice):
    EmailAddress.objects.create(user=alice, email="alice@work.example", verified=False)
    client.force_login(alice)

    html = our_page(client.get(reverse("account_email")), "Email addresses")

    assert html.count('type="radio" name="email"') == 2
    for action in ("action_primary", "action_send", "action_remove", "action_add"):
        assert f'name="{action}"' in html
    assert "Not confirmed" in html


@pytest.mark.django_db
def test_an_inactive_account_is_told_so_and_stays_out(client):
    sam = UserFactory(email="sam@example.com", is_active=False)

    response = client.post(LOGIN, {"login": sam.email, "password": PASSWORD}, follow=True)

    assert response.redirect_chain == [(reverse("account_inactive"), 302)]
    our_page(response, "This account is inactive")
    assert not response.context["user"].is_authenticated
