"""Request pages: who may see and do what, bad input, the sidebar and the calendar."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from freezegun import freeze_time

from requests_app.models import SessionRequest
from requests_app.services import request_propose
from tests.factories import UserFactory
from tests.test_requests import IN_5_DAYS, SENT, package, use_up_credits

pytestmark = pytest.mark.django_db
SIDEBAR = {"HX-Request": "true", "HX-Target": "pending-panel"}


@pytest.fixture
def open_request(alice, bob, leadership):
    package(alice, bob, leadership)
    return request_propose(by=alice, coach=bob, client=alice, starts_at=IN_5_DAYS, now=SENT)


def url(name, req):
    return reverse(f"requests:{name}", args=[req.pk])


@freeze_time(SENT)
def test_strangers_and_other_clients_get_404_everywhere(client, carol, open_request):
    stranger = UserFactory()
    for person in (stranger, carol):
        client.force_login(person)
        assert client.get(url("detail", open_request)).status_code == 404
        for action in ("accept", "reject", "cancel", "adjust"):
            assert (
                client.post(url(action, open_request), {"start": "2026-11-28T12:00"}).status_code
                == 404
            )
    open_request.refresh_from_db()
    assert open_request.status == "pending"


@freeze_time(SENT)
def test_the_sender_cannot_accept_and_the_receiver_cannot_cancel(client, alice, bob, open_request):
    client.force_login(alice)
    client.post(url("accept", open_request))
    client.force_login(bob.user)
    response = client.post(url("cancel", open_request), follow=True)

    assert "Only the person who sent the request can cancel it." in response.content.decode()
    open_request.refresh_from_db()
    assert open_request.status == "pending"


@freeze_time(SENT)
def test_accepting_from_the_sidebar_re_renders_it_with_the_new_count(
    client, alice, bob, open_request
):
    client.force_login(bob.user)
    before = client.get(
        reverse("marketplace:pending"), headers={"HX-Request": "true"}
    ).content.decode()

    answer = client.post(url("accept", open_request), headers=SIDEBAR)
    # htmx follows the redirect in place, sending its headers again, as the client does here.
    assert (answer.status_code, answer.url) == (303, reverse("marketplace:pending"))
    response = client.get(answer.url, headers=SIDEBAR)

    body = response.content.decode()
    assert 'id="pending-panel"' in before and "Leadership session" in before
    assert response.status_code == 200
    assert 'hx-swap-oob="true"' in body  # the header badge, swapped out of band
    assert "Accepted. The session is in your calendar." in body
    assert "Nothing is waiting for you." in body
    open_request.refresh_from_db()
    assert open_request.status == "accepted"


@freeze_time(SENT)
def test_adjusting_shows_the_deadline_in_the_viewers_zone(client, alice, bob, open_request):
    client.force_login(bob.user)

    client.post(
        url("adjust", open_request), {"start": "2026-11-29T09:00"}
    )  # Bob's account zone: UTC

    open_request.refresh_from_db()
    assert open_request.starts_at == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    client.force_login(alice)
    page = client.get(url("detail", open_request)).content.decode()
    # Sent by the coach 4 days ahead: answer 48 h before; Alice reads it in Berlin time.
    assert "Answer by <strong>Fri 27 Nov, 10:00 CET</strong>" in page


@freeze_time(SENT)
@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("2026-11-23T20:00", "at least 24 hours"),
        ("2026-11-28T10:07", "15-minute grid"),
        ("next tuesday", "Enter a date and a time"),
        ("", "This field is required"),
    ],
)
def test_bad_adjustments_say_why_and_change_nothing(client, bob, open_request, start, message):
    client.force_login(bob.user)

    response = client.post(url("adjust", open_request), {"start": start}, follow=True)

    assert message in response.content.decode()
    open_request.refresh_from_db()
    assert (open_request.starts_at, open_request.proposals.count()) == (IN_5_DAYS, 1)


@freeze_time(SENT)
def test_a_time_that_does_not_exist_locally_is_refused(client, alice, bob, leadership):
    package(alice, bob, leadership)
    alice.time_zone = "Europe/Berlin"
    alice.save()
    client.force_login(alice)
    kind = f"{bob.pk}:{leadership.pk}:60"

    response = client.post(reverse("requests:propose"), {"kind": kind, "start": "2027-03-28T02:30"})

    assert "does not exist in your time zone" in response.content.decode()
    assert not SessionRequest.objects.exists()


@freeze_time(SENT)
def test_a_client_proposes_from_their_credits(client, alice, bob, leadership):
    package(alice, bob, leadership)
    client.force_login(alice)
    form = client.get(reverse("requests:propose"))
    kind = form.context["form"].fields["kind"].choices[0][0]

    response = client.post(reverse("requests:propose"), {"kind": kind, "start": "2026-11-28T15:00"})

    request = SessionRequest.objects.get()
    assert response.url == url("detail", request)
    assert request.starts_at == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)  # 15:00 in Berlin
    assert request.credit.status == "held"


@freeze_time(SENT)
def test_a_client_without_credits_is_told_to_buy_first(client, carol):
    client.force_login(carol)
    assert "No sessions to propose" in client.get(reverse("requests:propose")).content.decode()


@freeze_time(SENT)
def test_a_coach_proposes_to_a_client_and_not_to_a_stranger(client, alice, carol, bob, leadership):
    package(alice, bob, leadership)
    client.force_login(bob.user)
    page = client.get(reverse("requests:propose"))
    clients = [label for _, label in page.context["form"].fields["client"].choices]

    stranger = client.post(
        reverse("requests:propose"),
        {"client": carol.pk, "skill": leadership.pk, "duration": 30, "start": "2026-11-28T15:00"},
    )
    ok = client.post(
        reverse("requests:propose"),
        {"client": alice.pk, "skill": leadership.pk, "duration": 30, "start": "2026-11-28T15:00"},
    )

    assert clients == ["Alice Client"]
    assert "Select a valid choice" in stranger.content.decode()
    assert ok.status_code == 302
    assert SessionRequest.objects.get().duration_minutes == 30


@freeze_time(SENT)
def test_reject_without_javascript_asks_first(client, bob, open_request):
    client.force_login(bob.user)

    confirm = client.get(url("reject", open_request))
    done = client.post(url("reject", open_request))

    assert "Reject this request?" in confirm.content.decode()
    assert done.status_code == 302
    open_request.refresh_from_db()
    assert open_request.status == "rejected"


@freeze_time(SENT)
def test_calendar_week_and_month_show_sessions_and_requests(
    client, alice, bob, open_request, django_assert_max_num_queries
):
    client.force_login(alice)

    with django_assert_max_num_queries(10):
        week = client.get(reverse("marketplace:calendar"), {"date": "2026-11-28"})
    month = client.get(reverse("marketplace:calendar"), {"view": "month", "date": "2026-11-02"})
    bad = client.get(reverse("marketplace:calendar"), {"date": "2026-13-45"})

    assert "23–29 November 2026" in week.content.decode()
    items = [item for _, day_items in week.context["days"] for item in day_items]
    assert [(i.kind, i.status) for i in items] == [("request", "pending")]
    assert url("detail", open_request) in week.content.decode()
    assert (
        month.context["title"] == "November 2026" and len(month.context["weeks"]) == 6
    )  # 1 Nov is a Sunday
    assert bad.status_code == 200 and "That date is not valid" in bad.content.decode()


@freeze_time(SENT)
def test_the_calendar_costs_the_same_queries_for_one_item_or_many(
    client, alice, bob, leadership, open_request, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sessions_app.models import Session

    week = {"date": "2026-11-28"}
    for person, other in ((alice, "with Bob Coach"), (bob.user, "with Alice Client")):
        client.force_login(person)
        client.get(reverse("marketplace:calendar"), week)  # the header's count is kept after
        with CaptureQueriesContext(connection) as one:
            client.get(reverse("marketplace:calendar"), week)
        for day in (1, 2):
            start = IN_5_DAYS - timedelta(days=day)
            Session.objects.create(
                coach=bob, client=alice, skill=leadership, duration_minutes=60, starts_at=start,
                ends_at=start + timedelta(hours=1), status=Session.Status.SCHEDULED,
            )  # fmt: skip
        with django_assert_num_queries(len(one.captured_queries)):
            page = client.get(reverse("marketplace:calendar"), week)
        items = [item for _, day_items in page.context["days"] for item in day_items]
        assert {(i.kind, i.title, i.subtitle) for i in items} == {
            ("session", "Leadership", other),
            ("request", "Request: Leadership", other),
        }
        Session.objects.all().delete()


@freeze_time(SENT + timedelta(days=4, hours=12))
def test_a_request_past_its_deadline_shows_as_expired_before_the_sweep(
    client, alice, bob, open_request
):
    client.force_login(bob.user)

    page = client.get(url("detail", open_request)).content.decode()

    assert "Expired" in page and "Accept" not in page
    assert client.get("/").context["pending_count"] == 0
    open_request.refresh_from_db()
    assert open_request.status == "pending"  # the sweep has not run; pages know anyway


@freeze_time(SENT)
def test_the_sidebar_costs_the_same_queries_for_one_request_or_many(
    client, alice, bob, leadership, django_assert_num_queries
):
    """Each card knows whether accepting needs a payment (the client has no fitting credit)
    from the list's own query, not from one query per card."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    package(alice, bob, leadership)
    use_up_credits(alice)  # so accepting means paying

    def propose(hours):
        request_propose(
            by=bob.user, coach=bob, client=alice, skill=leadership, duration_minutes=30,
            starts_at=IN_5_DAYS + timedelta(hours=hours), now=SENT,
        )  # fmt: skip

    client.force_login(alice)
    propose(0)
    with CaptureQueriesContext(connection) as one:
        page = client.get(reverse("marketplace:pending"), headers=SIDEBAR)
    assert page.content.decode().count("Accept &amp; pay by card") == 1
    for hours in (6, 2, 4):  # sent out of order: the list is by deadline, the soonest first
        propose(hours)
    with django_assert_num_queries(len(one.captured_queries)):
        page = client.get(reverse("marketplace:pending"), headers=SIDEBAR)
    assert page.content.decode().count("Accept &amp; pay by card") == 4
    by_deadline = [f'id="request-{pk}"' for pk in SessionRequest.objects.order_by("deadline")
                   .values_list("pk", flat=True)]  # fmt: skip
    assert sorted(by_deadline, key=page.content.decode().index) == by_deadline
    assert len(one.captured_queries) <= 15


def test_the_badge_is_kept_and_counted_again_after_a_change(client, bob, open_request):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from requests_app.services import request_reject

    now = SENT + timedelta(minutes=1)
    client.force_login(bob.user)
    with freeze_time(now):
        assert client.get("/").context["pending_count"] == 1
        with CaptureQueriesContext(connection) as again:
            assert client.get("/").context["pending_count"] == 1
        assert not any("UNION ALL" in query["sql"] for query in again.captured_queries)

        request_reject(request=open_request, by=bob.user, now=now)

        assert client.get("/").context["pending_count"] == 0


def test_a_deadline_passing_shows_in_the_badge_within_half_a_minute(client, bob, open_request):
    client.force_login(bob.user)
    with freeze_time(open_request.deadline - timedelta(seconds=1)):
        assert client.get("/").context["pending_count"] == 1
    with freeze_time(open_request.deadline + timedelta(seconds=30)):
        assert client.get("/").context["pending_count"] == 0


@freeze_time(SENT)
def test_admins_read_requests_with_their_history_and_cannot_change_them(client, open_request):
    sam = UserFactory(display_name="Sam Staff", is_staff=True, is_superuser=True)
    client.force_login(sam)
    listing = client.get(reverse("admin:requests_app_sessionrequest_changelist")).content.decode()
    assert "Waiting for an answer" in listing
    # Times carry their zone: the admin's own (UTC here), never a bare time.
    assert " UTC" in listing
    page_url = reverse("admin:requests_app_sessionrequest_change", args=[open_request.pk])
    page = client.get(page_url).content.decode()
    assert "propose" in page  # the history: the request's first event
    client.post(page_url, {"status": "accepted", "deadline": "2031-01-01 00:00"})
    open_request.refresh_from_db()
    assert open_request.status == "pending"
    assert client.get(reverse("admin:requests_app_sessionrequest_add")).status_code == 403
