"""Two-sided reviews (issue 22): a session the clock confirmed can still be rated for 14
days, and the coach answers a review publicly, once, editable, shown under it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from freezegun import freeze_time

from sessions_app import services
from sessions_app import sweeps as timers
from sessions_app.lifecycle import BookingError
from sessions_app.models import Session
from tests.test_session_lifecycle import T

pytestmark = pytest.mark.django_db
CONFIRMED = T + timedelta(hours=1, minutes=15) + timedelta(hours=72)


@pytest.fixture
def auto_confirmed(bob, session):
    """Bob held the session; nobody confirmed it, so the clock did."""
    services.session_start(session=session, by=bob.user, now=T)
    timers.sessions_auto_end_due(now=CONFIRMED)
    assert timers.sessions_auto_confirm_due(now=CONFIRMED) == 1
    session.refresh_from_db()
    assert session.status == "confirmed" and session.rating is None
    return session


def test_an_auto_confirmed_session_can_be_rated_for_14_days_once(alice, auto_confirmed):
    last = CONFIRMED + timedelta(days=14, seconds=-1)
    services.session_rate(session=auto_confirmed, by=alice, rating=4, comment=" Good ", now=last)
    auto_confirmed.refresh_from_db()
    assert (auto_confirmed.rating, auto_confirmed.rating_comment) == (4, "Good")
    with pytest.raises(BookingError, match="rated this session already"):
        services.session_rate(session=auto_confirmed, by=alice, rating=5, comment="", now=last)


def test_the_rating_window_closes_after_14_days(alice, auto_confirmed):
    with pytest.raises(BookingError, match="14 days"):
        services.session_rate(
            session=auto_confirmed, by=alice, rating=5, comment="",
            now=CONFIRMED + timedelta(days=14),
        )  # fmt: skip
    assert Session.objects.get().rating is None


def test_only_the_client_rates_and_only_from_1_to_5(alice, bob, carol, auto_confirmed):
    for person in (bob.user, carol):
        with pytest.raises(BookingError, match="Only the client"):
            services.session_rate(
                session=auto_confirmed, by=person, rating=5, comment="", now=CONFIRMED
            )
    for bad in (None, 0, 6, 10**9):
        with pytest.raises(BookingError, match="1 to 5"):
            services.session_rate(
                session=auto_confirmed, by=alice, rating=bad, comment="", now=CONFIRMED
            )


def test_a_session_not_yet_confirmed_cannot_be_rated_this_way(alice, session):
    with pytest.raises(BookingError, match="14 days after it is confirmed"):
        services.session_rate(session=session, by=alice, rating=5, comment="", now=T)


def test_the_rate_page_and_its_hostile_input(client, alice, bob, carol, auto_confirmed):
    url = reverse("sessions:rate", args=[auto_confirmed.pk])
    for other in (carol, bob.user):
        client.force_login(other)
        assert client.get(url).status_code == 404
        assert client.post(url, {"rating": "5"}).status_code == 404
    client.force_login(alice)
    with freeze_time(CONFIRMED + timedelta(days=1)):
        detail = client.get(reverse("sessions:detail", args=[auto_confirmed.pk])).content
        assert b"Rate this session" in detail
        assert b"How was it?" in client.get(url).content
        for form in (
            {"rating": "abc"}, {"rating": "0"}, {"rating": "6"}, {"rating": ""},
            {"rating": "5", "comment": "x" * 5000}, {"rating": "5", "comment": "bad\x00"},
        ):  # fmt: skip
            response = client.post(url, form)
            assert response.status_code == 400, form
            assert b"errorlist" in response.content, form
        assert Session.objects.get().rating is None
        response = client.post(url, {"rating": "5", "comment": "Clear and kind"})
        assert response.status_code == 302
    assert Session.objects.get().rating == 5
    page = client.get(reverse("marketplace:coach_detail", args=[bob.pk])).content.decode()
    assert "Clear and kind" in page


def test_the_coach_replies_once_edits_it_and_it_shows_under_the_review(
    client, alice, bob, dora, auto_confirmed
):
    services.session_rate(
        session=auto_confirmed, by=alice, rating=5, comment="Great", now=CONFIRMED
    )
    url = reverse("sessions:reply", args=[auto_confirmed.pk])
    for other in (alice, dora.user):
        client.force_login(other)
        assert client.post(url, {"reply": "Hi"}).status_code == 404
    client.force_login(bob.user)
    detail = reverse("sessions:detail", args=[auto_confirmed.pk])
    assert b"Answer this review publicly" in client.get(detail).content
    for junk in ("", "   ", "x" * 2001, "nul\x00"):
        response = client.post(url, {"reply": junk}, follow=True)
        assert response.status_code == 200 and b"message-error" in response.content
    assert Session.objects.get().coach_reply == ""
    client.post(url, {"reply": "Thank you, Alice!"})
    client.post(url, {"reply": "Thank you, Alice! See you soon."})
    session = Session.objects.get()
    assert session.coach_reply == "Thank you, Alice! See you soon."
    page = client.get(reverse("marketplace:coach_detail", args=[bob.pk])).content.decode()
    assert "Bob Coach replied:</b> Thank you, Alice! See you soon." in page
    assert page.count("replied:") == 1


def test_no_reply_without_a_review(bob, session):
    with pytest.raises(BookingError, match="no review"):
        services.review_reply(session=session, by=bob.user, text="Hello", now=T)
