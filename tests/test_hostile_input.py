"""What a hostile or careless visitor sends ends as a message or a 4xx, with nothing changed:
dates and numbers out of range, a booking beyond the horizon, another client's form token,
zones that are not zones, names with line breaks, Host headers that dodge the login limit,
and more open checkouts than anyone needs."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import User
from coaching.models import CoachProfile, TimeOff
from hse.emails import build_email
from ledger.models import Credit
from ledger.services import wallet_balance, wallet_post
from payments.models import Order, TopUp
from payments.sweeps import top_ups_expire_due
from requests_app.models import SessionRequest
from sessions_app.models import Session
from tests.factories import PASSWORD
from tests.payments_fixtures import NOW
from tests.test_requests import package

pytestmark = pytest.mark.django_db
FAR = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "9999-12-31T23:00:00Z", "0001-01-01"]


def whole_days(first, last) -> dict:
    """Time off from the start of ``first`` to the end of ``last``, on the coach's clock."""
    return {
        "starts": datetime.combine(first, time()),
        "ends": datetime.combine(last + timedelta(days=1), time()),
    }


def fund(user, amount=100_000):
    wallet_post(user=user, amount=amount, reason="top_up", key=f"fund-{user.pk}", now=NOW)


@freeze_time(NOW)
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2999-12-32", "x" * 5000])
@pytest.mark.parametrize("view", ["week", "month"])
def test_a_calendar_date_out_of_range_shows_today_with_a_message(client, alice, day, view):
    client.force_login(alice)
    response = client.get(reverse("marketplace:calendar"), {"date": day, "view": view})
    assert response.status_code == 200
    assert "That date is not valid; showing today." in response.content.decode()


@freeze_time(NOW)
@pytest.mark.parametrize("start", FAR)
def test_a_checkout_or_a_scheduling_at_an_absurd_time_says_so_and_changes_nothing(
    client, alice, bob, leadership, start
):
    fund(alice)
    package(alice, bob, leadership)
    client.force_login(alice)
    form = {"skill": "leadership", "duration": "60", "quantity": "1", "method": "wallet"}
    credit = Credit.objects.filter(client=alice).first()
    before = wallet_balance(user=alice)

    bought = client.post(reverse("payments:checkout", args=[bob.pk]), {**form, "start": start})
    scheduled = client.post(reverse("sessions:schedule", args=[credit.pk]), {"start": start})

    assert bought.status_code == 200 and bought.context["error"]
    assert scheduled.status_code == 409
    assert not Session.objects.exists()
    assert wallet_balance(user=alice) == before


@freeze_time(NOW)
@pytest.mark.parametrize("start", ["0001-01-01T00:00", "9999-12-31T23:45", "2099-01-05T10:00"])
def test_a_request_at_an_absurd_or_far_time_is_refused_and_holds_no_credit(
    client, alice, bob, leadership, start
):
    package(alice, bob, leadership)
    client.force_login(alice)
    kind = f"{bob.pk}:{leadership.pk}:60"

    response = client.post(reverse("requests:propose"), {"kind": kind, "start": start})

    assert response.status_code == 200
    assert not SessionRequest.objects.exists()
    assert not Credit.objects.filter(status="held").exists()


@freeze_time(NOW)
def test_nothing_is_booked_requested_or_taken_off_beyond_the_horizon(
    client, alice, bob, leadership
):
    from coaching.services import CoachingError, time_off_add
    from requests_app.services import RequestError, request_propose
    from sessions_app.booking import session_schedule_from_credit
    from sessions_app.lifecycle import BookingError

    package(alice, bob, leadership)
    credit = Credit.objects.filter(client=alice).first()
    beyond = (NOW + timedelta(days=181)).replace(hour=15, minute=0)
    within = (NOW + timedelta(days=179)).replace(hour=15, minute=0)

    with pytest.raises(RequestError, match="180 days ahead"):
        request_propose(by=alice, coach=bob, client=alice, starts_at=beyond, now=NOW)
    with pytest.raises(BookingError, match="180 days ahead"):
        session_schedule_from_credit(credit=credit, starts_at=beyond, by=alice, now=NOW)
    with pytest.raises(CoachingError, match="180 days ahead"):
        time_off_add(coach=bob, **whole_days(beyond.date(), beyond.date()), note="", now=NOW)
    assert request_propose(by=alice, coach=bob, client=alice, starts_at=within, now=NOW)
    credit.refresh_from_db()
    assert credit.status == "held"  # by the request within the horizon, only


@freeze_time(NOW)
def test_a_far_off_request_shows_its_year(client, alice, bob, leadership):
    from requests_app.services import request_propose

    package(alice, bob, leadership)
    with freeze_time(datetime(2026, 12, 20, 10, 0, tzinfo=UTC)):
        request_propose(
            by=alice, coach=bob, client=alice, starts_at=datetime(2027, 1, 5, 15, 0, tzinfo=UTC),
            now=datetime(2026, 12, 20, 10, 0, tzinfo=UTC),
        )  # fmt: skip
        client.force_login(alice)
        page = client.get(reverse("requests:detail", args=[SessionRequest.objects.get().pk]))
    assert "Tue 5 Jan 2027, 16:00" in page.content.decode()  # Alice is in Berlin


@freeze_time(NOW)
@pytest.mark.parametrize("bad", ["9" * 5000, "1e999999", "-1", "٣"])
def test_numbers_of_any_length_or_shape_are_a_message(client, alice, bob, leadership, bad):
    client.force_login(alice)
    checkout = {"skill": "leadership", "duration": bad, "quantity": bad, "method": "wallet"}

    assert client.post(reverse("payments:checkout", args=[bob.pk]), checkout).status_code == 200
    assert client.get(reverse("payments:buy", args=[bob.pk]), checkout).status_code == 200
    assert client.get(reverse("marketplace:coach_detail", args=[bob.pk]), {"duration": bad})
    assert client.get(reverse("payments:wallet"), {"topup": bad}).status_code == 200
    assert client.get(reverse("requests:propose"), {"session": bad}).status_code in (200, 404)
    top_up = client.post(reverse("payments:top_up"), {"amount": bad})
    assert top_up.status_code == 200 and not TopUp.objects.exists()
    client.force_login(bob.user)
    profile = client.post(
        reverse("coaching:profile_edit"),
        {
            "headline": "Coach", "bio": "Bio", "skills": [leadership.pk], "languages": ["en"],
            "hourly_price": bad, "minimum_notice_hours": bad, "time_zone": "Europe/Berlin",
        },
    )  # fmt: skip
    assert profile.status_code == 200
    bob.refresh_from_db()
    assert bob.hourly_price == 10000


@freeze_time(NOW)
def test_time_off_on_the_last_day_of_year_9999_is_a_message(client, bob):
    client.force_login(bob.user)
    response = client.post(
        reverse("coaching:time_off_add"), {"first_day": "9999-12-31", "last_day": "9999-12-31"}
    )
    assert response.status_code < 500
    assert not TimeOff.objects.exists()


@freeze_time(NOW)
def test_a_form_token_another_client_used_buys_anew(client, alice, carol, bob, leadership):
    fund(alice)
    fund(carol)
    form = {
        "skill": "leadership", "duration": "60", "quantity": "5", "method": "wallet",
        "token": "same-token",
    }  # fmt: skip
    for person in (alice, carol):
        client.force_login(person)
        assert client.post(reverse("payments:checkout", args=[bob.pk]), form).status_code == 302

    assert sorted(Order.objects.values_list("client_id", flat=True)) == sorted([alice.pk, carol.pk])


@freeze_time(NOW)
def test_a_fourth_open_checkout_is_refused_with_a_message(client, alice, bob, leadership):
    from payments.services import PaymentError, order_start

    for hours in range(3):
        order_start(
            client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=1,
            method="stripe", starts_at=datetime(2026, 11, 23, 14 + hours, tzinfo=UTC), now=NOW,
        )  # fmt: skip
    with pytest.raises(PaymentError, match="3 checkouts waiting"):
        order_start(
            client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=1,
            method="stripe", starts_at=datetime(2026, 11, 24, 14, tzinfo=UTC), now=NOW,
        )  # fmt: skip
    # A package holds no time: it may still be bought.
    order_start(
        client=alice, coach=bob, skill=leadership, duration_minutes=60, quantity=5,
        method="stripe", now=NOW,
    )  # fmt: skip
    assert Session.objects.filter(status="held").count() == 3


def test_a_pending_top_up_expires_like_an_order(alice):
    from payments.services import topup_start

    top_up = topup_start(user=alice, amount=2500, now=NOW)

    assert top_ups_expire_due(now=NOW + timedelta(minutes=29)) == 0
    assert top_ups_expire_due(now=NOW + timedelta(minutes=31)) == 1
    assert top_ups_expire_due(now=NOW + timedelta(minutes=32)) == 0
    top_up.refresh_from_db()
    assert top_up.status == TopUp.Status.EXPIRED


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe/Berlln", "", "../../etc/passwd"])
def test_the_admins_forms_refuse_a_zone_that_is_not_one(alice, bob, zone):
    from django.forms import modelform_factory

    # The admin's change forms are model forms: the models' own validators run there.
    for instance in (alice, bob):
        form = modelform_factory(type(instance), fields=["time_zone"])(
            {"time_zone": zone}, instance=instance
        )
        assert not form.is_valid() and "time_zone" in form.errors


@freeze_time(NOW)
def test_a_bad_zone_already_saved_shows_utc_and_emails_still_go(client, alice, bob, leadership):
    User.objects.filter(pk=alice.pk).update(time_zone="Mars/Olympus")
    CoachProfile.objects.filter(pk=bob.pk).update(time_zone="Europe/Berlln")
    alice.refresh_from_db()
    client.force_login(alice)

    for url in (
        reverse("sessions:list"),
        reverse("marketplace:calendar"),
        reverse("marketplace:coach_detail", args=[bob.pk]),
        reverse("payments:buy", args=[bob.pk]) + "?skill=leadership&duration=60&quantity=1",
    ):
        assert client.get(url).status_code == 200, url
    receipt = {"top_up": TopUp(amount=100, currency="USD", paid_at=NOW), "url": "/"}
    message = build_email(to=alice, subject="Hello", template="top_up_receipt", context=receipt)
    assert "UTC" in message.body


def test_a_name_with_a_line_break_is_refused_and_a_subject_never_breaks(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("accounts:settings"),
        {"display_name": "Alice\r\nBcc: everyone@example.com", "time_zone": "Europe/Berlin"},
    )
    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.display_name == "Alice Client"

    receipt = {"top_up": TopUp(amount=100, currency="USD", paid_at=NOW), "url": "/"}
    message = build_email(
        to=alice, subject="Booked: X with Bob\r\nBcc: x@y", template="top_up_receipt",
        context=receipt,
    )  # fmt: skip
    assert message.subject == "[HSE] Booked: X with Bob Bcc: x@y"
    mail.get_connection().send_messages([message])  # Django refuses a header with a newline


@pytest.mark.parametrize("host", ["127.0.0.1:1", "LOCALHOST", "localhost.", "127.0.0.1"])
def test_host_variants_share_one_allowance_of_failed_logins(alice, host):
    hosts = ["localhost", "127.0.0.1:8000", "Localhost", host]
    for number in range(5):
        Client(HTTP_HOST=hosts[number % len(hosts)]).post(
            reverse("account_login"), {"login": alice.email, "password": "wrong"}
        )
    answer = Client(HTTP_HOST=host).post(
        reverse("account_login"), {"login": alice.email, "password": PASSWORD}
    )
    assert "Too many failed login attempts" in answer.content.decode()


def test_signing_up_with_a_zone_that_is_not_one_is_refused(client):
    response = client.post(
        reverse("account_signup"),
        {
            "display_name": "Eve", "email": "eve@example.com", "password1": "a-long-pass-9",
            "password2": "a-long-pass-9", "role": "client", "time_zone": "Mars/Olympus",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert not User.objects.filter(email="eve@example.com").exists()


@freeze_time(NOW)
def test_time_off_that_ends_beyond_the_horizon_is_refused(bob):
    from coaching.services import CoachingError, time_off_add

    first = (NOW + timedelta(days=170)).date()
    with pytest.raises(CoachingError, match="180 days ahead"):
        time_off_add(coach=bob, **whole_days(first, first + timedelta(days=300)), note="", now=NOW)
    assert not TimeOff.objects.exists()
    time_off_add(coach=bob, **whole_days(first, first + timedelta(days=5)), note="", now=NOW)


@freeze_time(NOW)
def test_a_bad_zone_is_logged_and_emails_name_the_zone_they_use(client, alice, caplog):
    User.objects.filter(pk=alice.pk).update(time_zone="Mars/Olympus")
    alice.refresh_from_db()
    client.force_login(alice)
    with caplog.at_level("WARNING", logger="accounts.timezones"):
        assert client.get(reverse("sessions:list")).status_code == 200
    assert "unknown time zone 'Mars/Olympus'" in caplog.text
    receipt = {"top_up": TopUp(amount=100, currency="USD", paid_at=NOW), "url": "/"}
    message = build_email(to=alice, subject="Hello", template="top_up_receipt", context=receipt)
    html = message.alternatives[0][0]
    assert "Your times are in UTC." in html and "Mars" not in html


def test_an_old_zone_name_is_taken_as_its_current_one_and_the_list_has_no_aliases(client):
    from accounts.timezones import canonical_zone, zone_choices

    listed = [name for _, zones in zone_choices() for name, _ in zones]
    assert "Asia/Kolkata" in listed and "Europe/Kyiv" in listed and "UTC" in listed
    assert not {"Asia/Calcutta", "Europe/Kiev", "US/Eastern", "Etc/GMT+5"} & set(listed)
    assert len(listed) < 450 and len(listed) == len(set(listed))
    assert [region for region, _ in zone_choices()][:3] == ["Africa", "America", "Antarctica"]
    assert canonical_zone("US/Eastern") == "America/New_York" and canonical_zone("Mars/X") == ""
    assert canonical_zone("UTC") == "UTC" and canonical_zone("Etc/UTC") == "UTC"

    client.post(
        reverse("account_signup"),
        {
            "display_name": "Ravi", "email": "ravi@example.com", "password1": "a-long-pass-9",
            "password2": "a-long-pass-9", "role": "client", "time_zone": "Asia/Calcutta",
        },
    )  # fmt: skip
    assert User.objects.get(email="ravi@example.com").time_zone == "Asia/Kolkata"


@pytest.mark.parametrize(
    "field, value",
    [("headline", "Coach\u0007of bells"), ("headline", "Two\nlines"), ("bio", "Tab\x0bbed\x00")],
)
def test_a_profile_with_control_characters_is_refused(client, bob, field, value):
    client.force_login(bob.user)
    form = {
        "headline": bob.headline, "bio": bob.bio, "skills": [s.pk for s in bob.skills.all()],
        "languages": ["en"], "hourly_price": "100", "minimum_notice_hours": "12",
        "time_zone": "America/New_York", field: value,
    }  # fmt: skip
    response = client.post(reverse("coaching:profile_edit"), form)
    assert response.status_code == 200 and response.context["form"].errors.get(field)
    assert getattr(CoachProfile.objects.get(pk=bob.pk), field) == getattr(bob, field)


def test_a_time_off_note_with_a_line_break_is_refused(client, bob):
    from coaching.forms import TimeOffForm

    form = TimeOffForm({"first_day": "2031-01-05", "last_day": "2031-01-06", "note": "a\r\nb"})
    assert not form.is_valid() and "note" in form.errors


def test_behind_a_proxy_the_login_limit_counts_the_visitors_address(settings, rf):
    from allauth.account.adapter import get_adapter

    request = rf.post(
        "/accounts/login/", REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.9",
    )  # fmt: skip
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    assert get_adapter(request).get_client_ip(request) == "10.0.0.2"  # the proxy's, by default
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert get_adapter(request).get_client_ip(request) == "203.0.113.9"  # what our proxy saw
