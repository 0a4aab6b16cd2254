"""Weekly series from a package: expanded on the coach's clock across a clock change, the
conflicts put to the client before anything is sent, one request accepted as one (all or
none), expiry, and cancelling one session or the rest of the series."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from freezegun import freeze_time

from hse.clock import local_time
from ledger import services as ledger
from ledger.models import Credit
from ledger.services import wallet_post
from payments.services import order_start
from requests_app import series
from requests_app.models import SeriesOccurrence, SessionRequest
from requests_app.services import (
    RequestError,
    request_accept,
    request_adjust,
    request_cancel,
    request_propose,
    request_reject,
    requests_expire_due,
    series_cancel_from,
    series_move_propose,
    series_propose,
)
from sessions_app import booking
from sessions_app.models import Session
from sessions_app.services import session_cancel

pytestmark = pytest.mark.django_db

NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
# Monday 15 Feb 2027. The US moves its clocks on Sunday 14 March, the EU on Sunday 28 March.
NOW = datetime(2027, 2, 15, 12, 0, tzinfo=UTC)
TUESDAY_16_BERLIN = series.WeeklyTime(weekday=1, minute=16 * 60)  # 10:00 in New York in winter
FIRST_DAY = date(2027, 2, 16)


def package(client, coach, skill, count=10):
    wallet_post(
        user=client, amount=count * 10000, reason="top_up", key=f"f{client.pk}-{count}", now=NOW
    )
    return order_start(
        client=client, coach=coach, skill=skill, duration_minutes=60, quantity=count,
        method="wallet", now=NOW,
    )  # fmt: skip


def statuses(client):
    return sorted(Credit.objects.filter(client=client).values_list("status", flat=True))


def plan(alice, bob, count=10, **kwargs):
    return series.plan(
        coach=bob, client=alice, duration_minutes=60, times=[TUESDAY_16_BERLIN],
        first_day=FIRST_DAY, count=count, now=NOW, **kwargs,
    )  # fmt: skip


def send(alice, occurrences, now=NOW):
    credit = Credit.objects.filter(client=alice, status="available").first()
    return series_propose(
        by=alice, credit=credit, starts=[o.starts_at for o in occurrences if not o.conflict],
        now=now,
    )  # fmt: skip


@pytest.fixture
def ten(alice, bob, leadership):
    return package(alice, bob, leadership)


def test_ten_weeks_across_the_us_change_keep_the_coachs_wall_time_and_note_the_shift(
    alice, bob, leadership, ten
):
    occurrences = plan_ = plan(alice, bob)

    assert [o.conflict for o in occurrences] == [""] * 10
    on_bobs_clock = [local_time(o.starts_at, NEW_YORK) for o in occurrences]
    assert {(t.hour, t.minute, t.weekday()) for t in on_bobs_clock} == {(10, 0, 1)}
    assert [t.date() for t in on_bobs_clock] == [
        FIRST_DAY + timedelta(weeks=week) for week in range(10)
    ]
    # Alice's clock reads 16:00 except in the two weeks between the US and the EU change.
    on_alices_clock = {o.starts_at.date(): local_time(o.starts_at, BERLIN).hour for o in plan_}
    assert [day for day, hour in on_alices_clock.items() if hour != 16] == [
        date(2027, 3, 16), date(2027, 3, 23),
    ]  # fmt: skip
    assert on_alices_clock[date(2027, 3, 16)] == 15
    assert [o.starts_at.date() for o in occurrences if o.shifted] == [
        date(2027, 3, 16), date(2027, 3, 23),
    ]  # fmt: skip

    request = send(alice, occurrences)
    request = request_accept(request=request, by=bob.user, now=NOW + timedelta(hours=1))

    sessions = Session.objects.filter(client=alice).order_by("starts_at")
    assert [local_time(s.starts_at, NEW_YORK).hour for s in sessions] == [10] * 10
    assert {s.status for s in sessions} == {"scheduled"}
    assert statuses(alice) == ["scheduled"] * 10
    assert request.status == "accepted" and request.session == sessions[0]


def test_the_setup_page_shows_alice_her_times_and_notes_the_shifted_weeks(
    client, alice, bob, leadership, ten
):
    client.force_login(alice)
    credit = Credit.objects.filter(client=alice).first()
    url = reverse("requests:series_new", args=[credit.pk])
    form = {"weekday_1": "1", "time_1": "16:00", "first_day": "2027-02-16", "count": "10"}

    with freeze_time(NOW):
        page = client.post(url, {**form, "action": "check"})

    html = page.content.decode()
    assert page.status_code == 200
    assert html.count("Your time is different this week") == 2
    assert "Tue 16 Mar, 15:00–16:00 CET" in html and "10:00–11:00 EDT for Bob Coach" in html
    assert "Tue 30 Mar, 16:00–17:00 CEST" in html
    assert not SessionRequest.objects.exists()  # checking sends nothing

    with freeze_time(NOW):
        sent = client.post(url, {**form, "action": "send"})
    request = SessionRequest.objects.get()
    assert sent.url == reverse("requests:detail", args=[request.pk])
    assert request.is_series and request.occurrences.count() == 10
    assert statuses(alice) == ["held"] * 10


@pytest.fixture
def bobs_tuesday_taken(carol, bob, leadership):
    """Carol already has Bob at 10:00 on Tuesday 2 March, the series' third week."""
    wallet_post(user=carol, amount=10000, reason="top_up", key="carol", now=NOW)
    taken = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
    order_start(
        client=carol, coach=bob, skill=leadership, duration_minutes=60, quantity=1,
        method="wallet", starts_at=taken, now=NOW,
    )  # fmt: skip
    return taken


def test_conflicts_are_listed_and_nothing_is_sent_without_the_clients_choice(
    client, alice, bob, leadership, ten, bobs_tuesday_taken
):
    client.force_login(alice)
    url = reverse("requests:series_new", args=[Credit.objects.filter(client=alice).first().pk])
    form = {"weekday_1": "1", "time_1": "16:00", "first_day": "2027-02-16", "count": "10"}

    with freeze_time(NOW):
        checked = client.post(url, {**form, "action": "check"})
        # Sending all of them is refused while one cannot be booked.
        refused = client.post(url, {**form, "action": "send"})

    assert "1 of 10 cannot be booked" in checked.content.decode()
    assert "Already booked" in checked.content.decode()
    assert refused.status_code == 409
    assert "Choose: request only the free ones" in refused.content.decode()
    assert not SessionRequest.objects.exists()
    assert statuses(alice) == ["available"] * 10

    # Another time for the taken one (Wednesday 3 March, 16:00 in Berlin), checked again.
    with freeze_time(NOW):
        again = client.post(url, {**form, "instead_3": "2027-03-03T16:00", "action": "check"})
    assert "All 10 times are free" in again.content.decode()
    with freeze_time(NOW):
        client.post(url, {**form, "instead_3": "2027-03-03T16:00", "action": "send"})
    times = list(SeriesOccurrence.objects.values_list("starts_at", flat=True))
    assert len(times) == 10 and datetime(2027, 3, 3, 15, 0, tzinfo=UTC) in times
    assert bobs_tuesday_taken not in times


def test_book_only_the_free_ones(client, alice, bob, leadership, ten, bobs_tuesday_taken):
    client.force_login(alice)
    url = reverse("requests:series_new", args=[Credit.objects.filter(client=alice).first().pk])
    form = {"weekday_1": "1", "time_1": "16:00", "first_day": "2027-02-16", "count": "10"}

    with freeze_time(NOW):
        client.post(url, {**form, "action": "send_free"})

    request = SessionRequest.objects.get()
    assert request.occurrences.count() == 9
    assert statuses(alice) == ["available"] + ["held"] * 9


def test_each_kind_of_conflict_is_named(alice, bob, leadership, ten, settings):
    settings.HSE_BOOKING_HORIZON_DAYS = 30
    times = [
        series.WeeklyTime(weekday=0, minute=16 * 60),  # Monday 10:00 in New York
        series.WeeklyTime(weekday=5, minute=16 * 60),  # a Saturday: Bob does not work
    ]
    occurrences = series.plan(
        coach=bob, client=alice, duration_minutes=60, times=times, first_day=date(2027, 2, 15),
        count=10, now=NOW,
    )  # fmt: skip
    reasons = [o.conflict for o in occurrences]
    assert reasons[0].startswith("Too soon")  # Monday 15 Feb, three hours from now
    assert "Outside Bob Coach’s hours." in reasons
    assert any(reason.startswith("Too far ahead") for reason in reasons)


def test_acceptance_books_all_or_none_and_tells_the_client_which_time_was_taken(
    alice, carol, bob, leadership, ten, mailoutbox, django_capture_on_commit_callbacks
):
    request = send(alice, plan(alice, bob))
    # Meanwhile Bob agreed with Carol on the fifth week's time (an agreed time books
    # whatever open proposals say).
    package(carol, bob, leadership, count=5)
    fifth = request.occurrences.get(position=5).starts_at
    carols = Credit.objects.filter(client=carol).first()
    booking.session_reserve(
        coach=bob, client=carol, skill=leadership, duration_minutes=60, starts_at=fifth,
        now=NOW, credit=carols, by=bob.user, agreed=True,
    )  # fmt: skip
    ledger.credit_schedule(credit=carols, by=bob.user, now=NOW, why="agreed with Carol")

    # Bob's account reads UTC (his profile, New York, is the series' clock).
    taken = r"Tue 16 Mar, 14:00 UTC \(5 of 10\)"
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RequestError, match=taken):
        request_accept(request=request, by=bob.user, now=NOW)

    request.refresh_from_db()
    assert request.status == "pending"
    assert not Session.objects.filter(client=alice).exists()
    assert statuses(alice) == ["held"] * 10
    told = [m for m in mailoutbox if m.to == [alice.email]]
    assert len(told) == 1 and "could not book your weekly series" in told[0].subject
    # Alice reads the taken time on her own clock (Berlin), not on Bob's.
    assert "Tue 16 Mar, 15:00 CET (5 of 10)" in told[0].body
    assert "14:00 UTC (5 of 10)" not in told[0].body

    request_cancel(request=request, by=alice, now=NOW)
    assert statuses(alice) == ["available"] * 10


def test_declined_or_unanswered_series_frees_every_credit(alice, bob, leadership, ten):
    first = send(alice, plan(alice, bob, count=4))
    request_reject(request=first, by=bob.user, now=NOW)
    assert statuses(alice) == ["available"] * 10

    second = send(alice, plan(alice, bob, count=10))
    assert statuses(alice) == ["held"] * 10
    assert requests_expire_due(now=second.deadline) == 1
    second.refresh_from_db()
    assert second.status == "expired"
    assert statuses(alice) == ["available"] * 10


def test_an_open_series_holds_its_times_and_cannot_be_adjusted(alice, carol, bob, leadership, ten):
    request = send(alice, plan(alice, bob, count=3))
    third = request.occurrences.get(position=3).starts_at
    package(carol, bob, leadership, count=5)
    with pytest.raises(RequestError, match="overlaps"):
        request_propose(by=carol, coach=bob, client=carol, starts_at=third, now=NOW)
    with pytest.raises(RequestError, match="accepted or declined as one"):
        request_adjust(request=request, by=bob.user, starts_at=third + timedelta(days=1), now=NOW)
    assert request.occurrences.count() == 3


def test_a_series_needs_as_many_free_credits_as_times(alice, bob, leadership):
    package(alice, bob, leadership, count=5)
    with pytest.raises(RequestError, match="You have 5 free 60-minute Leadership sessions"):
        send(alice, plan(alice, bob, count=6))
    assert statuses(alice) == ["available"] * 5


def test_move_or_cancel_one_session_or_this_and_the_rest(alice, bob, leadership, ten):
    request = request_accept(request=send(alice, plan(alice, bob, count=6)), by=bob.user, now=NOW)
    sessions = list(Session.objects.filter(client=alice).order_by("starts_at"))

    # One: the second week is cancelled alone, more than 24 h ahead, so its credit is back.
    session_cancel(session=sessions[1], by=alice, now=NOW)
    # Moved: the third week goes to Wednesday through a reschedule request.
    moved_to = sessions[2].starts_at + timedelta(days=1)
    move = request_propose(
        by=alice, coach=bob, client=alice, starts_at=moved_to, now=NOW, target_session=sessions[2]
    )
    request_accept(request=move, by=bob.user, now=NOW)
    # This and the rest: from the fourth week on.
    cancelled = series_cancel_from(session=sessions[3], by=alice, now=NOW)

    assert [s.pk for s in cancelled] == [s.pk for s in sessions[3:]]
    states = {s.pk: (s.status, s.starts_at) for s in Session.objects.filter(client=alice)}
    assert states[sessions[0].pk] == ("scheduled", sessions[0].starts_at)
    assert states[sessions[1].pk][0] == "cancelled"
    assert states[sessions[2].pk] == ("scheduled", moved_to)
    assert [states[s.pk][0] for s in sessions[3:]] == ["cancelled"] * 3
    assert statuses(alice) == ["available"] * 8 + ["scheduled"] * 2
    assert request.occurrences.filter(session__status="scheduled").count() == 2


def test_only_the_series_people_cancel_the_rest(alice, carol, bob, leadership, ten):
    request_accept(request=send(alice, plan(alice, bob, count=2)), by=bob.user, now=NOW)
    first = Session.objects.filter(client=alice).order_by("starts_at").first()
    with pytest.raises(RequestError, match="not part of a weekly series of yours"):
        series_cancel_from(session=first, by=carol, now=NOW)
    # The coach may: both sessions are cancelled and Alice gets both credits back.
    assert len(series_cancel_from(session=first, by=bob.user, now=NOW)) == 2
    assert statuses(alice) == ["available"] * 10


GOOD = {"weekday_1": "1", "time_1": "16:00", "first_day": "2027-02-16", "count": "3"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"count": "9" * 400}, "less than or equal to 10"),
        ({"count": "0"}, "greater than or equal to 1"),
        ({"count": "-3"}, "greater than or equal to 1"),
        ({"count": "1e9"}, "Enter a whole number"),
        ({"weekday_1": "9"}, "Select a valid choice"),
        ({"weekday_1": "1\x00"}, "Select a valid choice"),
        ({"time_1": "25:00"}, "Enter a valid time"),
        ({"time_1": "16:07"}, "15-minute grid"),
        ({"time_1": ""}, "required"),
        ({"weekday_2": "3"}, "Give both a weekday and a time"),
        ({"first_day": "9999-12-31"}, "between 2000 and 2999"),
        ({"first_day": "0001-01-01"}, "between 2000 and 2999"),
        ({"first_day": "2027-02-30"}, "Enter a valid date"),
        ({"instead_1": "tomorrow\x07"}, "Time 1: Enter a date and a time"),
        ({"instead_2": "9999-01-01T10:00"}, "Time 2: Enter a date and a time"),
    ],
)
def test_hostile_series_input_is_refused_with_a_reason(
    client, alice, bob, leadership, ten, changes, message
):
    client.force_login(alice)
    url = reverse("requests:series_new", args=[Credit.objects.filter(client=alice).first().pk])
    with freeze_time(NOW):
        page = client.post(url, {**GOOD, **changes, "action": "send"})
    assert page.status_code == 400
    assert message in page.content.decode()
    assert not SessionRequest.objects.exists()
    assert statuses(alice) == ["available"] * 10


def test_other_peoples_credits_and_sessions_answer_404(client, alice, carol, bob, leadership, ten):
    credit = Credit.objects.filter(client=alice).first()
    request_accept(request=send(alice, plan(alice, bob, count=2)), by=bob.user, now=NOW)
    session = Session.objects.filter(client=alice).first()
    for person in (carol, bob.user):
        client.force_login(person)
        url = reverse("requests:series_new", args=[credit.pk])
        assert client.get(url).status_code == client.post(url, GOOD).status_code == 404
    client.force_login(carol)
    cancel_rest = reverse("requests:series_cancel_rest", args=[session.pk])
    assert client.post(cancel_rest).status_code == 404
    client.force_login(alice)
    used = Credit.objects.filter(client=alice, status="scheduled").first()
    assert client.get(reverse("requests:series_new", args=[used.pk])).status_code == 404
    assert client.get(reverse("requests:series_new", args=[10**15])).status_code == 404
    assert Session.objects.filter(status="scheduled").count() == 2


def booked_series(alice, bob, count=6):
    request_accept(request=send(alice, plan(alice, bob, count=count)), by=bob.user, now=NOW)
    return list(Session.objects.filter(client=alice).order_by("starts_at"))


def test_move_this_and_the_rest_keeps_the_coachs_wall_time_and_moves_all_or_none(
    alice, carol, bob, leadership, ten
):
    sessions = booked_series(alice, bob)
    # The third week and the later ones move to Wednesday, 16:00 on Alice's clock in winter.
    wednesday = datetime(2027, 3, 3, 15, 0, tzinfo=UTC)
    request = series_move_propose(by=alice, session=sessions[2], starts_at=wednesday, now=NOW)
    new_times = list(request.occurrences.values_list("starts_at", flat=True))
    on_bobs_clock = [local_time(at, NEW_YORK) for at in new_times]
    assert [(t.weekday(), t.hour) for t in on_bobs_clock] == [(2, 10)] * 4  # across the change
    assert [t.date() for t in on_bobs_clock] == [date(2027, 3, d) for d in (3, 10, 17, 24)]

    # Carol is given Bob's Wednesday 17 March meanwhile: accepting moves nothing.
    package(carol, bob, leadership, count=5)
    carols = Credit.objects.filter(client=carol).first()
    booking.session_reserve(
        coach=bob, client=carol, skill=leadership, duration_minutes=60, starts_at=new_times[2],
        now=NOW, credit=carols, by=bob.user, agreed=True,
    )  # fmt: skip
    with pytest.raises(RequestError, match="none of the sessions was moved"):
        request_accept(request=request, by=bob.user, now=NOW)
    assert [s.starts_at for s in Session.objects.filter(client=alice).order_by("starts_at")] == [
        s.starts_at for s in sessions
    ]
    request_cancel(request=request, by=alice, now=NOW)
    assert statuses(alice) == ["available"] * 4 + ["scheduled"] * 6

    # A week later instead: each lands on the old time of the next, which moves too.
    week_later = sessions[2].starts_at + timedelta(weeks=1)
    request = series_move_propose(by=bob.user, session=sessions[2], starts_at=week_later, now=NOW)
    request_accept(request=request, by=alice, now=NOW)
    after = {s.pk: s.starts_at for s in Session.objects.filter(client=alice)}
    assert [after[s.pk] for s in sessions[:2]] == [s.starts_at for s in sessions[:2]]
    assert [local_time(after[s.pk], NEW_YORK).hour for s in sessions[2:]] == [10] * 4
    assert [local_time(after[s.pk], NEW_YORK).date() for s in sessions[2:]] == [
        local_time(s.starts_at, NEW_YORK).date() + timedelta(weeks=1) for s in sessions[2:]
    ]
    assert after[sessions[2].pk] == sessions[3].starts_at  # the old time of the next one


def test_the_move_page_plans_the_new_times_and_refuses_nonsense(
    client, alice, bob, leadership, ten
):
    sessions = booked_series(alice, bob, count=3)
    client.force_login(alice)
    url = reverse("requests:series_move_rest", args=[sessions[1].pk])
    with freeze_time(NOW):
        assert client.get(url).status_code == 200
        checked = client.post(url, {"start": "2027-02-24T16:00", "action": "check"})
        refused = client.post(url, {"start": "24 Feb\x00", "action": "send"})
        sent = client.post(url, {"start": "2027-02-24T16:00", "action": "send"})
    assert "10:00–11:00 EST for Bob Coach" in checked.content.decode()
    assert refused.status_code == 400 and "Enter a date and a time" in refused.content.decode()
    request = SessionRequest.objects.get(target_session=sessions[1])
    assert sent.url == reverse("requests:detail", args=[request.pk])
    assert request.occurrences.count() == 2
    with freeze_time(NOW):
        again = client.post(url, {"start": "2027-02-25T16:00", "action": "send"})
    assert again.status_code == 409 and "already proposed" in again.content.decode()


def test_a_cancelled_session_closes_the_move_of_the_rest_that_includes_it(
    alice, bob, leadership, ten
):
    """Its credit, given back and held again by another request, is not the move's to free."""
    sessions = booked_series(alice, bob, count=4)
    move = series_move_propose(
        by=alice, session=sessions[0], starts_at=sessions[0].starts_at + timedelta(days=1),
        now=NOW,
    )  # fmt: skip
    session_cancel(session=sessions[2], by=alice, now=NOW)
    move.refresh_from_db()
    assert move.status == "cancelled"

    third = sessions[2].credit
    again = request_propose(
        by=alice, coach=bob, client=alice, starts_at=sessions[2].starts_at + timedelta(days=2),
        now=NOW,
    )  # fmt: skip
    assert again.credit_id == third.pk
    with pytest.raises(RequestError, match="already cancelled"):
        request_reject(request=move, by=bob.user, now=NOW)
    assert requests_expire_due(now=move.deadline) == 0
    third.refresh_from_db()
    assert third.status == "held"


@pytest.mark.parametrize("closes", ["reject", "cancel", "expire"])
def test_a_move_of_the_rest_frees_no_credit_when_it_closes(alice, bob, leadership, ten, closes):
    """A move names its sessions' credits but holds none: declined, withdrawn or expired, it
    leaves every credit where it is, even one that came to be held by another request."""
    sessions = booked_series(alice, bob, count=4)
    move = series_move_propose(
        by=alice, session=sessions[0], starts_at=sessions[0].starts_at + timedelta(days=1),
        now=NOW,
    )  # fmt: skip
    # A credit of the move held by another request: what a cancellation racing the move
    # (or any later way back) can leave.
    third = sessions[2].credit
    ledger.credit_give_back(credit=third, by=None, now=NOW, why="t")
    other = request_propose(
        by=alice, coach=bob, client=alice, starts_at=sessions[2].starts_at + timedelta(days=2),
        now=NOW,
    )  # fmt: skip
    assert other.credit_id == third.pk
    before = statuses(alice)

    if closes == "reject":
        request_reject(request=move, by=bob.user, now=NOW)
    elif closes == "cancel":
        request_cancel(request=move, by=alice, now=NOW)
    else:
        assert requests_expire_due(now=move.deadline) >= 1
    move.refresh_from_db()
    assert move.status != "pending"
    third.refresh_from_db()
    assert third.status == "held" and statuses(alice) == before


def test_moving_the_rest_of_a_two_weekday_series_keeps_each_ones_hour_and_length(
    alice, bob, leadership, ten
):
    """Tuesdays at 10:00 and Thursdays at 09:00 on Bob's clock, moved a day later: Wednesdays
    at 10:00 and Fridays at 09:00; a session made 30 minutes keeps its 30 minutes."""
    times = [TUESDAY_16_BERLIN, series.WeeklyTime(weekday=3, minute=15 * 60)]
    occurrences = series.plan(
        coach=bob, client=alice, duration_minutes=60, times=times, first_day=FIRST_DAY,
        count=4, now=NOW,
    )  # fmt: skip
    request_accept(request=send(alice, occurrences), by=bob.user, now=NOW)
    sessions = list(Session.objects.filter(client=alice).order_by("starts_at"))
    shorter = request_propose(
        by=alice, coach=bob, client=alice, starts_at=sessions[1].starts_at, now=NOW,
        target_session=sessions[1], duration_minutes=30,
    )  # fmt: skip
    request_accept(request=shorter, by=bob.user, now=NOW)

    move = series_move_propose(
        by=alice, session=sessions[0], starts_at=sessions[0].starts_at + timedelta(days=1),
        now=NOW,
    )  # fmt: skip

    def on_bobs_clock(at):
        return local_time(at, NEW_YORK).strftime("%a %H:%M")

    planned = list(move.occurrences.order_by("position"))
    assert [on_bobs_clock(s.starts_at) for s in sessions] == [
        "Tue 10:00", "Thu 09:00", "Tue 10:00", "Thu 09:00",
    ]  # fmt: skip
    assert [on_bobs_clock(o.starts_at) for o in planned] == [
        "Wed 10:00", "Fri 09:00", "Wed 10:00", "Fri 09:00",
    ]  # fmt: skip
    assert [(o.ends_at - o.starts_at).seconds // 60 for o in planned] == [60, 30, 60, 60]

    request_accept(request=move, by=bob.user, now=NOW)
    after = list(Session.objects.filter(client=alice).order_by("starts_at"))
    assert [on_bobs_clock(s.starts_at) for s in after] == [
        "Wed 10:00", "Fri 09:00", "Wed 10:00", "Fri 09:00",
    ]  # fmt: skip
    assert [s.duration_minutes for s in after] == [60, 30, 60, 60]


def test_the_setup_page_reads_the_same_number_of_times_for_2_or_20_times(
    client, alice, bob, leadership, django_assert_max_num_queries
):
    package(alice, bob, leadership, count=20)
    client.force_login(alice)
    url = reverse("requests:series_new", args=[Credit.objects.filter(client=alice).first().pk])
    form = {
        "weekday_1": "1", "time_1": "16:00", "weekday_2": "3", "time_2": "15:00",
        "first_day": "2027-02-16", "action": "check",
    }  # fmt: skip
    counts = []
    for count in (2, 2, 20):  # the first warms the caches every page shares
        with freeze_time(NOW), CaptureQueriesContext(connection) as queries:
            page = client.post(url, {**form, "count": str(count)})
        assert page.status_code == 200
        counts.append(len(queries))
    assert counts[1] == counts[2]
    with freeze_time(NOW), django_assert_max_num_queries(8):
        client.post(url, {**form, "count": "20"})
