"""What coaches earn: a session earns its price less the platform fee once it stands
(confirmed by the client or the clock, a report on it declined, or cancelled by the client
too late), once; one that does not stand earns nothing, and a refund takes it back. The
dashboard's months are the sums of these entries."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.urls import reverse

from ledger.models import EarningEntry
from ledger.services import platform_fee
from payments import refunds
from sessions_app import services
from sessions_app import sweeps as timers
from sessions_app.models import Report
from tests.factories import UserFactory
from tests.test_session_lifecycle import T, at

pytestmark = pytest.mark.django_db
PRICE, FEE = 10000, 1500  # Bob's hour, and the platform's 15 %


@pytest.fixture
def sam(db):
    return UserFactory(display_name="Sam Staff", is_staff=True)


def held(session, bob):
    services.session_start(session=session, by=bob.user, now=at(0))
    services.session_end(session=session, by=bob.user, now=at(55))


def earned(bob) -> list[tuple[str, int, int, int]]:
    return list(
        EarningEntry.objects.filter(coach=bob).values_list("kind", "gross", "fee", "amount")
    )


def test_the_fee_is_the_setting_rounded_half_up(settings):
    assert platform_fee(10000) == 1500
    settings.HSE_PLATFORM_FEE_PERCENT = 12.5
    assert platform_fee(1004) == 126  # 125.5 rounds up
    assert platform_fee(1003) == 125  # 125.375 rounds down


def test_a_session_confirmed_by_the_client_earns_once(alice, bob, session):
    held(session, bob)
    services.session_confirm(session=session, by=alice, now=at(60))
    with pytest.raises(services.BookingError):  # a second click
        services.session_confirm(session=session, by=alice, now=at(61), rating=5)

    assert earned(bob) == [("earned", PRICE, FEE, PRICE - FEE)]
    entry = EarningEntry.objects.get()
    assert (entry.session, entry.credit) == (session, session.credit)


def test_a_session_the_clock_confirms_earns_once_however_often_the_sweep_runs(bob, session):
    held(session, bob)
    later = at(55) + timedelta(hours=72, minutes=1)

    assert timers.sessions_auto_confirm_due(now=later) == 1
    assert timers.sessions_auto_confirm_due(now=later) == 0

    assert earned(bob) == [("earned", PRICE, FEE, PRICE - FEE)]


def test_a_declined_report_earns_and_a_refunded_one_does_not(alice, bob, session, sam):
    report = services.session_report(
        session=session, by=alice, now=at(7), reason="no_show", details="Nobody came"
    )
    refunds.report_decide(
        report=report, decision=Report.Decision.DECLINE, by=sam, now=at(70), note="He came."
    )
    assert earned(bob) == [("earned", PRICE, FEE, PRICE - FEE)]

    # The same session refunded later after all (goodwill): what Bob earned goes back.
    refunds.credit_refund(credit=session.credit, to_card=False, by=sam, now=at(90), why="t")
    assert earned(bob) == [
        ("reversed", -PRICE, -FEE, -(PRICE - FEE)),
        ("earned", PRICE, FEE, PRICE - FEE),
    ]
    assert EarningEntry.objects.aggregate(total=Sum("amount"))["total"] == 0


@pytest.mark.parametrize("decision", [Report.Decision.REFUND_WALLET, Report.Decision.RETURN_CREDIT])
def test_a_refunded_or_returned_session_earns_nothing(alice, bob, session, sam, decision):
    report = services.session_report(
        session=session, by=alice, now=at(7), reason="no_show", details="Nobody came"
    )
    refunds.report_decide(report=report, decision=decision, by=sam, now=at(70))
    refunds.report_decide(report=report, decision=decision, by=sam, now=at(71))

    assert earned(bob) == []


@pytest.mark.parametrize(
    ("who", "hours_before", "earns"),
    [("client", 23, True), ("client", 25, False), ("coach", 1, False)],
)
def test_only_a_late_cancellation_by_the_client_earns(
    alice, bob, session, who, hours_before, earns
):
    by = alice if who == "client" else bob.user
    services.session_cancel(session=session, by=by, now=T - timedelta(hours=hours_before))

    assert earned(bob) == ([("earned", PRICE, FEE, PRICE - FEE)] if earns else [])


def test_the_dashboard_shows_the_sums_of_the_entries(client, alice, bob, session, sam):
    held(session, bob)
    services.session_confirm(session=session, by=alice, now=at(60))
    client.force_login(bob.user)

    months = client.get(reverse("marketplace:dashboard")).context["earnings"]

    entries = EarningEntry.objects.filter(coach=bob)
    assert [(m.sessions, m.gross, m.fee, m.net) for m in months] == [
        (1, PRICE, FEE, entries.aggregate(total=Sum("amount"))["total"])
    ]
    assert "$85.00" in client.get(reverse("marketplace:dashboard")).content.decode()
