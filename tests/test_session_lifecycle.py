"""One session walked through every minute that matters, the timers, cancellation and
the admins' report decisions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from freezegun import freeze_time

from ledger.models import Credit, WalletEntry
from ledger.services import wallet_balance
from sessions_app import services
from sessions_app import sweeps as timers
from sessions_app.lifecycle import phase
from sessions_app.models import Attendance, Report, Session, SessionEvent
from sessions_app.selectors import forget_pending_counts
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
T = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York: Bob's hours
BOOKED_AT = T - timedelta(days=5)


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def room(client, session):
    return client.get(reverse("sessions:room", args=[session.pk]))


def sweeps(now) -> tuple[int, int, int, int]:
    return (
        timers.coach_late_notify_due(now=now),
        timers.sessions_auto_end_due(now=now),
        timers.sessions_auto_confirm_due(now=now),
        timers.reminders_send_due(now=now),
    )


def test_walk_one_session_through_every_minute_that_matters(
    client, alice, bob, session, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps(T - timedelta(hours=23)) == (0, 0, 0, 1)  # the day-before reminder
        assert sweeps(T - timedelta(hours=23)) == (0, 0, 0, 0)
    # Client and coach, each told by the calendar of their own zone.
    reminders = {m.to[0]: m.subject for m in mailoutbox if "Reminder" in m.subject}
    assert reminders == {
        "alice@example.com": "[HSE] Reminder: your session starts tomorrow at 15:00 CET",
        "bob@example.com": "[HSE] Reminder: your session starts tomorrow at 14:00 UTC",
    }

    with freeze_time(at(-16)):
        assert not phase(session, at(-16)).room_open
        detail = client.get(reverse("sessions:detail", args=[session.pk])).content.decode()
        assert '<button class="btn btn-primary" disabled>Enter room</button>' in detail
        assert "opens today at 14:45 CET" in detail

    with freeze_time(at(-15)):
        assert phase(session, at(-15)).room_open
        page = room(client, session).content.decode()
        assert "Waiting for Bob Coach to start" in page
        assert "Report</a>" not in page

    with freeze_time(at(4)):
        assert not phase(session, at(4)).can_report
        assert "has not started 5 minutes" not in room(client, session).content.decode()
        assert sweeps(at(4))[0] == 0

    with freeze_time(at(5)), django_capture_on_commit_callbacks(execute=True):
        assert phase(session, at(5)).can_report
        assert (
            "has not started 5 minutes after the start time"
            in room(client, session).content.decode()
        )
        assert sweeps(at(5))[0] == 1
        assert sweeps(at(5))[0] == 0
    assert any("has not started" in m.subject for m in mailoutbox)

    with freeze_time(at(6)):
        client.force_login(bob.user)
        response = client.post(reverse("sessions:start", args=[session.pk]))
        assert response.status_code == 302
        session.refresh_from_db()
        assert session.status == "in_progress" and session.started_at == at(6)
        client.force_login(alice)
        assert "has started the session" in room(client, session).content.decode()
        client.post(reverse("sessions:join", args=[session.pk]))
        # The call page says hello when it opens: that is the join's evidence.
        hello = client.post(
            reverse("sessions:signals", args=[session.pk]), {"kind": "hello"},
            content_type="application/json",
        )  # fmt: skip
        assert hello.status_code == 201

    with freeze_time(at(50)):
        client.force_login(bob.user)
        client.post(reverse("sessions:end", args=[session.pk]))
        session.refresh_from_db()
        assert session.status == "ended" and session.ended_at == at(50)
        client.force_login(alice)
        # The client still in the room is moved to confirm-or-report by the room's poll.
        polled = client.get(
            reverse("sessions:room", args=[session.pk]) + "?call=1",
            headers={"HX-Request": "true", "HX-Target": "room-state"},
        )
        assert polled["HX-Redirect"] == reverse("sessions:confirm", args=[session.pk])
        assert client.get("/").context["pending_count"] == 1  # confirm or report

    kinds = list(Attendance.objects.values_list("kind", flat=True))
    # Alice opened the lobby four times: one arrival.
    assert kinds.count("lobby") == 1 and {"start", "join", "end"} <= set(kinds)

    almost = session.ended_at + timedelta(hours=72, minutes=-1)
    with freeze_time(almost):
        assert sweeps(almost)[2] == 0
        assert phase(session, almost).status == "ended"
    ended = session.ended_at + timedelta(hours=72)
    with freeze_time(ended):
        assert phase(session, ended).status == "confirmed"  # pages know before the sweep
        assert sweeps(ended)[2] == 1
        events = SessionEvent.objects.count()
        assert sweeps(ended) == (0, 0, 0, 0)
        assert SessionEvent.objects.count() == events
    session.refresh_from_db()
    assert session.status == "confirmed"
    assert session.credit.status == Credit.Status.USED


def test_a_coach_who_leaves_without_ending_is_ended_15_minutes_after_the_end(session, bob):
    services.session_start(session=session, by=bob.user, now=at(0))
    end = session.ends_at

    assert sweeps(end + timedelta(minutes=14))[1] == 0
    assert phase(Session.objects.get(), end + timedelta(minutes=15)).status == "ended"
    assert sweeps(end + timedelta(minutes=15))[1] == 1
    assert sweeps(end + timedelta(minutes=15))[1] == 0
    session.refresh_from_db()
    assert session.status == "ended" and session.ended_at == end + timedelta(minutes=15)
    assert Attendance.objects.filter(kind="auto_end").count() == 1


def test_confirm_rates_the_coach_and_sends_the_post_session_email(
    client, alice, bob, session, mailoutbox, django_capture_on_commit_callbacks
):
    services.session_start(session=session, by=bob.user, now=at(0))
    services.session_end(session=session, by=bob.user, now=at(55))
    client.force_login(alice)
    # The coach page keeps reviews in the cache: a new rating must replace them at once.
    before = client.get(reverse("marketplace:coach_detail", args=[bob.pk])).content.decode()
    assert "1 review" not in before

    with freeze_time(at(60)), django_capture_on_commit_callbacks(execute=True):
        bad = client.post(reverse("sessions:confirm", args=[session.pk]), {"rating": "9"})
        good = client.post(
            reverse("sessions:confirm", args=[session.pk]),
            {"rating": "5", "comment": "Clear and kind"},
        )

    assert "Select a valid choice" in bad.content.decode()
    assert good.status_code == 302
    session.refresh_from_db()
    assert (session.status, session.rating, session.rating_comment) == (
        "confirmed",
        5,
        "Clear and kind",
    )
    assert any("Thank you for your session" in m.subject for m in mailoutbox)
    page = client.get(reverse("marketplace:coach_detail", args=[bob.pk])).content.decode()
    assert "5.0" in page and "1 review" in page and "Clear and kind" in page


def test_a_cached_value_read_while_a_change_commits_is_not_served_after_it():
    from hse.cache import get_or_set_versioned, new_versions

    def read_old_rows():
        new_versions("reviews-demo", [7])  # the change commits while this page reads
        return "old"

    assert get_or_set_versioned("reviews-demo", 7, read_old_rows, timeout=60) == "old"
    assert get_or_set_versioned("reviews-demo", 7, lambda: "new", timeout=60) == "new"
    assert get_or_set_versioned("reviews-demo", 7, lambda: "newer", timeout=60) == "new"


@pytest.mark.redis("counts the commands the Redis server processed")
def test_a_kept_value_is_served_in_one_round_trip_to_redis():
    from django.core.cache import cache

    from hse.cache import get_or_set_many_versioned

    redis = cache._cache.get_client()
    reads = {"a": lambda: 1, "b": lambda: 2}
    assert get_or_set_many_versioned("demo", reads, timeout=60) == {"a": 1, "b": 2}

    before = redis.info("stats")["total_commands_processed"]
    assert get_or_set_many_versioned("demo", reads, timeout=60) == {"a": 1, "b": 2}
    # This INFO is counted too: one MGET for both versions and both values, then INFO.
    assert redis.info("stats")["total_commands_processed"] - before == 2


def test_only_the_client_confirms_or_reports_and_strangers_see_nothing(
    client, alice, carol, bob, session
):
    services.session_start(session=session, by=bob.user, now=at(0))
    services.session_end(session=session, by=bob.user, now=at(55))
    for person, status in ((bob.user, 404), (carol, 404), (UserFactory(), 404)):
        client.force_login(person)
        assert client.get(reverse("sessions:confirm", args=[session.pk])).status_code == status
        assert (
            client.post(
                reverse("sessions:report", args=[session.pk]), {"reason": "other", "details": "x"}
            ).status_code
            == status
        )
    client.force_login(carol)
    for name in ("detail", "room", "left"):
        assert client.get(reverse(f"sessions:{name}", args=[session.pk])).status_code == 404
    for name in ("start", "join", "leave", "end", "cancel"):
        assert client.post(reverse(f"sessions:{name}", args=[session.pk])).status_code == 404
    session.refresh_from_db()
    assert session.status == "ended"


def test_the_client_cannot_start_or_end_and_the_coach_cannot_confirm(alice, bob, session):
    with pytest.raises(services.BookingError, match="Only the coach"):
        services.session_start(session=session, by=alice, now=at(0))
    services.session_start(session=session, by=bob.user, now=at(0))
    with pytest.raises(services.BookingError, match="Only the coach"):
        services.session_end(session=session, by=alice, now=at(10))
    services.session_end(session=session, by=bob.user, now=at(10))
    with pytest.raises(services.BookingError, match="Only the client"):
        services.session_confirm(session=session, by=bob.user, now=at(20))


@pytest.mark.parametrize(
    ("who", "hours_before", "credit_after"),
    [("client", 25, "available"), ("client", 23, "used"), ("coach", 1, "available")],
)
def test_cancelling_returns_or_uses_the_credit(
    alice,
    bob,
    session,
    who,
    hours_before,
    credit_after,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    by = alice if who == "client" else bob.user
    with django_capture_on_commit_callbacks(execute=True):
        services.session_cancel(session=session, by=by, now=T - timedelta(hours=hours_before))

    session.refresh_from_db()
    assert session.status == "cancelled"
    assert session.credit.status == credit_after
    assert sorted(m.to[0] for m in mailoutbox if "cancelled" in m.subject) == sorted(
        [alice.email, bob.user.email]
    )
    with pytest.raises(services.BookingError):
        services.session_cancel(session=session, by=by, now=T - timedelta(hours=hours_before))


def test_reporting_a_late_coach_from_the_lobby(client, alice, session):
    client.force_login(alice)
    with freeze_time(at(4)):
        early = client.post(
            reverse("sessions:report", args=[session.pk]),
            {"reason": "no_show", "details": "Nobody came"},
        )
        assert "cannot be reported now" in early.content.decode()
    with freeze_time(at(7)):
        empty = client.post(
            reverse("sessions:report", args=[session.pk]), {"reason": "no_show", "details": ""}
        )
        assert "This field is required" in empty.content.decode()
        done = client.post(
            reverse("sessions:report", args=[session.pk]),
            {"reason": "no_show", "details": "Nobody came"},
        )
    assert done.status_code == 302
    session.refresh_from_db()
    assert session.status == "reported"
    assert Report.objects.get().reason == "no_show"


@pytest.fixture
def sam(db):
    return UserFactory(
        display_name="Sam Staff", email="sam@example.com", is_staff=True, is_superuser=True
    )


@pytest.fixture
def report(alice, session):
    return services.session_report(
        session=session, by=alice, now=at(7), reason="no_show", details="Nobody came"
    )


def decide(client, report, button, note=""):
    return client.post(
        reverse("admin:sessions_app_report_change", args=[report.pk]),
        {"decision_note": note, button: "1"},
    )


@pytest.mark.parametrize(
    ("button", "balance", "session_status", "credit_status", "state"),
    [
        ("_refund_wallet", 10000, "refunded", "refunded", "refunded"),
        (
            "_refund_original",
            10000,
            "refunded",
            "refunded",
            "refunded",
        ),  # paid by wallet: back to it
        ("_return_credit", 0, "cancelled", "available", "credit"),
    ],
)
def test_each_decision_moves_money_once_even_when_clicked_twice(
    client,
    alice,
    sam,
    report,
    button,
    balance,
    session_status,
    credit_status,
    state,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    client.force_login(sam)
    with django_capture_on_commit_callbacks(execute=True):
        first = decide(client, report, button)
        second = decide(client, report, button)

    assert first.status_code == second.status_code == 302
    report.refresh_from_db()
    assert (report.state, report.decided_by) == (state, sam)
    assert wallet_balance(user=alice) == balance
    assert WalletEntry.objects.filter(reason="refund").count() == (1 if balance else 0)
    session = report.session
    session.refresh_from_db()
    assert session.status == session_status
    assert session.credit.status == credit_status
    assert len([m for m in mailoutbox if "decided" in m.subject]) == 1


def test_declining_needs_a_note_and_moves_no_money(
    client, alice, sam, report, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(sam)
    decide(client, report, "_decline")
    report.refresh_from_db()
    assert report.state == "open"

    with django_capture_on_commit_callbacks(execute=True):
        decide(client, report, "_decline", note="The attendance shows the coach started on time.")

    report.refresh_from_db()
    assert report.state == "declined"
    assert wallet_balance(user=alice) == 0
    assert not WalletEntry.objects.filter(reason="refund").exists()
    mail = next(m for m in mailoutbox if "decided" in m.subject)
    assert "The attendance shows the coach started on time." in mail.body


def test_only_staff_reach_the_admin(client, alice, bob, report):
    url = reverse("admin:sessions_app_report_change", args=[report.pk])
    for person in (alice, bob.user):
        client.force_login(person)
        response = client.post(url, {"_refund_wallet": "1"})
        assert response.status_code == 302 and "/admin/login/" in response.url
    report.refresh_from_db()
    assert report.state == "open"


def test_the_report_page_shows_evidence_and_the_list_puts_open_first(
    client, alice, bob, sam, report
):
    services.session_enter_lobby(session=report.session, by=alice, now=at(-2))
    client.force_login(sam)

    page = client.get(
        reverse("admin:sessions_app_report_change", args=[report.pk])
    ).content.decode()
    listing = client.get(reverse("admin:sessions_app_report_changelist"), {"q": "alice"})

    assert "Entered the lobby" in page and "Nobody came" in page and "Refund to wallet" in page
    assert listing.status_code == 200 and "Leadership" in listing.content.decode()


def test_the_coach_dashboard_shows_earnings_after_the_fee(client, alice, bob, session):
    services.session_start(session=session, by=bob.user, now=at(0))
    services.session_end(session=session, by=bob.user, now=at(55))
    services.session_confirm(session=session, by=alice, now=at(60), rating=4)
    client.force_login(bob.user)

    page = client.get(reverse("marketplace:dashboard"))

    months = page.context["earnings"]
    assert [(m.sessions, m.gross, m.net) for m in months] == [(1, 10000, 8500)]
    assert "$85.00" in page.content.decode()
    client.force_login(alice)
    assert client.get(reverse("marketplace:dashboard")).status_code == 404


def test_a_sessions_row_leads_to_its_page_and_to_the_room_once_it_opens(
    client, alice, bob, leadership, session
):
    from tests.test_requests import package

    package(alice, bob, leadership)
    client.force_login(alice)
    with freeze_time(at(-16)):
        page = client.get(reverse("sessions:list")).content.decode()
    assert f'href="{reverse("sessions:detail", args=[session.pk])}"' in page
    credit = Credit.objects.filter(client=alice, status="available").order_by("pk").first()
    assert f'href="{reverse("sessions:schedule", args=[credit.pk])}"' in page
    with freeze_time(at(-14)):
        page = client.get(reverse("sessions:list")).content.decode()
    assert f'href="{reverse("sessions:room", args=[session.pk])}"' in page and "Room open" in page
    client.force_login(bob.user)  # the coach's dashboard lists it the same way
    with freeze_time(at(-14)):
        page = client.get(reverse("marketplace:dashboard")).content.decode()
    assert f'href="{reverse("sessions:room", args=[session.pk])}"' in page


def test_the_sessions_page_costs_the_same_queries_for_one_session_or_many(
    client, alice, bob, leadership, session, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    with freeze_time(BOOKED_AT), CaptureQueriesContext(connection) as one:
        assert client.get(reverse("sessions:list")).status_code == 200
    forget_pending_counts(alice.pk)  # as the services do; the rows below skip them
    for day in (3, 1, 2):  # booked out of order: the page lists them soonest first
        Session.objects.create(
            coach=bob, client=alice, skill=leadership, duration_minutes=60,
            starts_at=T + timedelta(days=day), ends_at=T + timedelta(days=day, hours=1),
            status=Session.Status.SCHEDULED, rating=None,
        )  # fmt: skip
    with freeze_time(BOOKED_AT), django_assert_num_queries(len(one.captured_queries)):
        page = client.get(reverse("sessions:list"))
    starts = [row.starts_at for row in page.context["upcoming"]]
    assert len(starts) == 4 and starts == sorted(starts)
    assert len(one.captured_queries) <= 15


def test_the_pending_list_sorts_each_waiting_session_by_kind_and_the_badge_counts_them(
    client, alice, bob, leadership, django_assert_max_num_queries
):
    def booked(hours: float, status=Session.Status.SCHEDULED, **extra):
        start = T + timedelta(hours=hours)
        return Session.objects.create(
            coach=bob, client=alice, skill=leadership, duration_minutes=60, starts_at=start,
            ends_at=start + timedelta(hours=1), status=status, **extra,
        )  # fmt: skip

    later = booked(30)  # booked first, listed second: the list is by start
    survey = booked(24)  # tomorrow, no survey yet
    late = booked(-0.25)  # started 15 minutes ago, the coach has not come
    over = booked(-3, Session.Status.ENDED, ended_at=T - timedelta(hours=2))
    booked(-100, Session.Status.ENDED, ended_at=T - timedelta(hours=99))  # auto-confirmed
    booked(48, Session.Status.CANCELLED)
    client.force_login(alice)

    with freeze_time(T), django_assert_max_num_queries(6):
        page = client.get(reverse("marketplace:pending"))

    actions = page.context["actions"]
    assert (actions.surveys, actions.coach_late, actions.to_confirm) == (
        [survey, later],
        [late],
        [over],
    )
    with freeze_time(T):
        assert client.get("/").context["pending_count"] == 4


def test_the_sessions_page_asks_the_client_for_a_missing_survey_and_nobody_else(
    client, alice, bob, session
):
    from sessions_app.models import PreSessionSurvey

    def badge_for(user) -> bool:
        client.force_login(user)
        with freeze_time(BOOKED_AT):
            return "Survey to answer" in client.get(reverse("sessions:list")).content.decode()

    assert badge_for(alice) and not badge_for(bob.user)
    PreSessionSurvey.objects.create(
        session=session, goals="Lead", challenges="Time", answered_at=BOOKED_AT
    )
    assert not badge_for(alice)


def test_the_lobby_records_an_arrival_once_and_again_only_after_leaving(client, alice, session):
    client.force_login(alice)
    with freeze_time(at(-10)):
        for _ in range(3):
            assert room(client, session).status_code == 200
    assert Attendance.objects.filter(kind="lobby").count() == 1
    with freeze_time(at(20)):
        client.post(reverse("sessions:leave", args=[session.pk]))
        room(client, session)
        room(client, session)
    assert list(Attendance.objects.values_list("kind", flat=True)) == ["lobby", "leave", "lobby"]


def test_a_cancelled_session_asks_for_no_survey(client, alice, session):
    client.force_login(alice)
    with freeze_time(T - timedelta(days=2)):
        client.post(reverse("sessions:cancel", args=[session.pk]))
        detail = client.get(reverse("sessions:detail", args=[session.pk])).content.decode()
        survey = client.get(reverse("sessions:survey", args=[session.pk]), follow=True)
    assert "Answer the survey" not in detail
    assert "Not answered; the session is cancelled." in detail
    assert "there is no survey to answer" in survey.content.decode()


def test_the_admin_reads_how_a_session_was_paid_and_cannot_set_its_state(client, sam, report):
    client.force_login(sam)
    page = client.get(
        reverse("admin:sessions_app_report_change", args=[report.pk])
    ).content.decode()
    assert "from the wallet" in page and "sends it back to the wallet" in page

    session = report.session
    client.post(
        reverse("admin:sessions_app_session_change", args=[session.pk]),
        {"status": "cancelled", "starts_at_0": "2031-01-01", "starts_at_1": "10:00"},
    )
    session.refresh_from_db()
    assert session.status == "reported"


def test_a_coach_running_late_says_so_and_the_clients_wait_moves_report(
    client, alice, bob, session
):
    """In the lobby: the coach's one tap; the client may report at once or wait, and waiting
    moves Report (and the coach-late notice) by the coach's minutes. All of it is evidence,
    and the notice is a line of their conversation."""
    from messaging.models import Message

    client.force_login(bob.user)
    with freeze_time(at(-3)):
        assert "I'm 10 minutes late" in room(client, session).content.decode()
        client.post(reverse("sessions:late", args=[session.pk]), {"minutes": "7"})  # not offered
        session.refresh_from_db()
        assert session.late_minutes is None
        client.post(reverse("sessions:late", args=[session.pk]), {"minutes": "10"})
    client.force_login(alice)
    with freeze_time(at(1)):
        page = room(client, session).content.decode()
        assert "Bob Coach is running about 10 minutes late." in page
        assert "Report now" in page  # before the usual 5 minutes: the coach said so
        assert "report-bar" not in page
        client.post(reverse("sessions:late_wait", args=[session.pk]))
        client.post(reverse("sessions:late_wait", args=[session.pk]))  # a second tap: no change
    session.refresh_from_db()
    assert session.report_after == at(15)
    with freeze_time(at(6)):
        page = room(client, session).content.decode()
        assert "You agreed to wait: Report opens at" in page and "report-bar" not in page
        assert sweeps(at(6))[0] == 0  # no coach-late notice while the client waits
    with freeze_time(at(15)):
        assert "report-bar" in room(client, session).content.decode()
    kinds = list(session.attendance.values_list("kind", flat=True))
    assert kinds.count("late_note") == 1 and kinds.count("late_wait") == 1
    notice = Message.objects.get(kind="notice")
    assert notice.sender == bob.user and "10 minutes late" in notice.body
