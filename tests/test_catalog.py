import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from accounts.middleware import BROWSER_ZONE_COOKIE
from coaching.models import Skill
from tests.factories import CoachFactory, SkillFactory

CATALOG = reverse("coaching:catalog")
MONDAY_MORNING_UTC = "2026-11-23 06:00:00"  # 01:00 in New York, 07:00 in Berlin


def offered_days(response) -> list[list[tuple[str, str]]]:
    """The coach page's open times as it shows them: per day, (ISO instant, label) pairs."""
    lists = re.findall(r'<ul class="slot-list">(.*?)</ul>', response.content.decode())
    return [re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', day) for day in lists]


def names(response) -> list[str]:
    """The coaches' names on the result cards, in order."""
    results = response.content.decode().split('id="results"', 1)[1]
    return re.findall(r"<div><h3>([^<]*)</h3>", results)


@pytest.mark.django_db
def test_catalog_lists_only_complete_profiles_of_active_coaches(client, bob, dora):
    CoachFactory(user__display_name="Unfinished", is_listed=False, hourly_price=None)
    CoachFactory(user__display_name="Gone", user__is_active=False)

    response = client.get(CATALOG)

    assert response.status_code == 200
    assert names(response) == ["Bob Coach", "Dora Coach"]


@pytest.mark.django_db
def test_catalog_filters_by_skill(client, bob, dora, skill):
    bob.skills.add(skill)

    response = client.get(CATALOG, {"skill": "leadership"})

    assert names(response) == ["Bob Coach"]
    assert response.context["active_skill"] == skill


@pytest.mark.django_db
def test_catalog_searches_names_and_headlines(client, bob, dora):
    dora.headline = "Public speaking for engineers"
    dora.save()

    assert names(client.get(CATALOG, {"q": "bob"})) == ["Bob Coach"]
    assert names(client.get(CATALOG, {"q": "SPEAKING"})) == ["Dora Coach"]
    assert names(client.get(CATALOG, {"q": "nobody like this"})) == []


@pytest.mark.django_db
def test_catalog_sorts_by_price_both_ways(client):
    for name, price in [("Mid", 9000), ("Cheap", 5000), ("Dear", 15000)]:
        CoachFactory(user__display_name=name, hourly_price=price)

    assert names(client.get(CATALOG, {"sort": "price"})) == ["Cheap", "Mid", "Dear"]
    assert names(client.get(CATALOG, {"sort": "-price"})) == ["Dear", "Mid", "Cheap"]
    assert names(client.get(CATALOG)) == ["Cheap", "Dear", "Mid"]


@pytest.mark.django_db
def test_an_unknown_skill_is_named_on_the_page_and_filters_nothing(client, bob, dora):
    response = client.get(CATALOG, {"skill": "juggling"})

    assert response.status_code == 200
    assert "There is no skill “juggling”" in response.content.decode()
    assert names(response) == ["Bob Coach", "Dora Coach"]


@pytest.mark.django_db
def test_an_unknown_sort_is_named_on_the_page(client, bob):
    response = client.get(CATALOG, {"sort": "cheapest-first; DROP TABLE"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert names(response) == ["Bob Coach"]


@pytest.mark.django_db
def test_htmx_search_renders_only_the_results(client, bob):
    response = client.get(
        CATALOG, {"q": "bob"}, headers={"HX-Request": "true", "HX-Target": "catalog"}
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="catalog"')
    assert "<html" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("coaches", [1, 50])
def test_catalog_query_count_does_not_grow_with_coaches(
    client, coaches, django_assert_max_num_queries
):
    skills = [SkillFactory(), SkillFactory()]
    for _ in range(coaches):
        CoachFactory(skills=skills)

    # The coaches, the skills of the ones shown, every skill; and for the open-time filters'
    # counts the listed coaches' zones, their windows and their busy times.
    with django_assert_max_num_queries(6):
        response = client.get(CATALOG)

    assert response.status_code == 200
    assert len(names(response)) == min(coaches, 24)


@pytest.mark.django_db
@freeze_time(MONDAY_MORNING_UTC)
def test_coach_page_shows_slots_in_the_signed_in_viewers_zone(client, alice, bob):
    client.force_login(alice)

    response = client.get(reverse("marketplace:coach_detail", args=[bob.pk]))

    body = response.content.decode()
    # The zone heads the list; each day names its abbreviation (a day whose clocks change
    # labels each time instead).
    assert "Times in <strong>Europe/<wbr>Berlin</strong>" in body
    first_day, abbr, _ = response.context["slot_days"][0]
    assert (first_day.isoformat(), abbr) == ("2026-11-23", "CET")
    assert '<h3>Monday 23 November <small class="muted">CET</small></h3>' in body
    assert offered_days(response)[0][:2] == [
        ("2026-11-23T15:00:00+01:00", "15:00"),
        ("2026-11-23T15:15:00+01:00", "15:15"),
    ]
    assert '<time datetime="2026-11-23T15:00:00+01:00">15:00</time>' in body


@pytest.mark.django_db
@freeze_time(MONDAY_MORNING_UTC)
def test_anonymous_visitors_see_their_browsers_zone(client, bob):
    client.cookies[BROWSER_ZONE_COOKIE] = "Asia/Tokyo"

    response = client.get(reverse("marketplace:coach_detail", args=[bob.pk]))

    assert "Times in <strong>Asia/<wbr>Tokyo</strong>" in response.content.decode()
    iso, label = offered_days(response)[0][0]
    assert datetime.fromisoformat(iso) == datetime(
        2026, 11, 23, 9, 0, tzinfo=ZoneInfo("America/New_York")
    )
    assert (iso, label) == ("2026-11-23T23:00:00+09:00", "23:00")


@pytest.mark.django_db
@freeze_time(MONDAY_MORNING_UTC)
def test_a_malformed_browser_zone_falls_back_to_utc(client, bob):
    client.cookies[BROWSER_ZONE_COOKIE] = "Mars/Olympus_Mons"

    response = client.get(reverse("marketplace:coach_detail", args=[bob.pk]))

    assert response.status_code == 200
    assert "Times in <strong>UTC</strong>" in response.content.decode()


@pytest.mark.django_db
@freeze_time(MONDAY_MORNING_UTC)
def test_coach_page_duration_tabs_and_bad_durations(client, bob):
    url = reverse("marketplace:coach_detail", args=[bob.pk])

    thirty = client.get(url, {"duration": "30"})
    bad = client.get(url, {"duration": "7"})

    assert thirty.context["duration"] == 30
    assert len(offered_days(thirty)[0]) == 11  # 09:00 … 11:30
    assert bad.status_code == 200
    assert bad.context["duration"] == 60
    assert "Sessions last 30, 45 or 60 minutes" in bad.content.decode()


@pytest.mark.django_db
@freeze_time(MONDAY_MORNING_UTC)
def test_coach_page_slots_partial_for_htmx(client, bob):
    response = client.get(
        reverse("marketplace:coach_detail", args=[bob.pk]),
        {"duration": "45"},
        headers={"HX-Request": "true", "HX-Target": "slots"},
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="slots">')
    assert "<html" not in body


@pytest.mark.django_db
def test_unlisted_and_missing_coaches_answer_404(client):
    hidden = CoachFactory(is_listed=False, hourly_price=None)

    assert client.get(reverse("marketplace:coach_detail", args=[hidden.pk])).status_code == 404
    assert client.get(reverse("marketplace:coach_detail", args=[999999])).status_code == 404


@pytest.mark.django_db
def test_coach_page_query_count_is_fixed(client, bob, django_assert_max_num_queries):
    soon = timezone.now() + timedelta(days=2)  # within the weeks the page shows
    for _ in range(20):
        bob.time_off.create(
            start_date=soon.date(),
            start_time=time(),
            end_date=soon.date() + timedelta(days=1),
            end_time=time(),
        )
    with django_assert_max_num_queries(8):
        assert client.get(reverse("marketplace:coach_detail", args=[bob.pk])).status_code == 200


@pytest.mark.django_db
def test_the_catalog_is_kept_rendered_until_what_it_shows_changes(client, bob, dora, leadership):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from coaching.services import coach_profile_update

    assert names(client.get(CATALOG)) == ["Bob Coach", "Dora Coach"]
    with CaptureQueriesContext(connection) as again:
        assert names(client.get(CATALOG)) == ["Bob Coach", "Dora Coach"]
    assert not any("coaching_coachprofile" in query["sql"] for query in again.captured_queries)

    # A coach's own edit, and the admin's edits of a name, a skill and an account.
    coach_profile_update(
        profile=bob, headline="Calm leaders", bio=bob.bio, skills=list(bob.skills.all()),
        languages=bob.languages, hourly_price=bob.hourly_price,
        minimum_notice_minutes=bob.minimum_notice_minutes, time_zone=bob.time_zone,
    )  # fmt: skip
    assert "Calm leaders" in client.get(CATALOG).content.decode()
    dora.user.display_name = "Dora Renamed"
    dora.user.save()
    assert names(client.get(CATALOG)) == ["Bob Coach", "Dora Renamed"]
    skill = bob.skills.first()
    skill.name = "Renamed skill"
    skill.save()
    assert "Renamed skill</span>" in client.get(CATALOG).content.decode()
    dora.user.is_active = False
    dora.user.save(update_fields=["is_active"])
    assert names(client.get(CATALOG)) == ["Bob Coach"]


@pytest.mark.django_db
def test_a_coach_page_keeps_its_profile_rendered_and_shows_buy_only_to_clients(
    client, alice, bob, dora, leadership
):
    from coaching.services import coach_profile_update

    page = reverse("marketplace:coach_detail", args=[bob.pk])
    assert "Buy sessions" in client.get(page).content.decode()  # anonymous: may buy
    client.force_login(dora.user)
    assert "Buy sessions" not in client.get(page).content.decode()  # a coach may not
    client.force_login(alice)
    assert "Buy sessions" in client.get(page).content.decode()

    coach_profile_update(
        profile=bob, headline=bob.headline, bio="Twenty years of teams.",
        skills=list(bob.skills.all()), languages=bob.languages, hourly_price=12_000,
        minimum_notice_minutes=bob.minimum_notice_minutes, time_zone=bob.time_zone,
    )  # fmt: skip

    body = client.get(page).content.decode()
    assert "Twenty years of teams." in body and "$120.00" in body


@pytest.mark.django_db
def test_a_deleted_skill_leaves_the_catalog_and_the_coach_page_at_once(client, bob, leadership):
    page = reverse("marketplace:coach_detail", args=[bob.pk])
    bob.skills.add(other := SkillFactory(name="Stagecraft"))
    assert "Stagecraft" in client.get(CATALOG).content.decode()
    assert "Stagecraft" in client.get(page).content.decode()

    other.delete()

    assert "Stagecraft" not in client.get(CATALOG).content.decode()
    assert "Stagecraft" not in client.get(page).content.decode()


@pytest.mark.django_db
def test_a_review_edited_in_the_admin_or_its_writer_renamed_shows_at_once(
    client, alice, bob, leadership
):
    from sessions_app.models import Session

    start = datetime(2026, 11, 2, 15, 0, tzinfo=ZoneInfo("UTC"))
    rated = Session.objects.create(
        coach=bob, client=alice, skill=leadership, duration_minutes=60, starts_at=start,
        ends_at=start.replace(hour=16), status=Session.Status.CONFIRMED, closed_at=start,
        rating=2, rating_comment="Rude words",
    )  # fmt: skip
    page = reverse("marketplace:coach_detail", args=[bob.pk])
    assert "Rude words" in client.get(page).content.decode()

    rated.rating_comment = ""
    rated.save()  # as the admin's form does
    assert "Rude words" not in client.get(page).content.decode()
    rated.rating_comment = "Fair enough"
    rated.save()
    assert "Fair enough" in client.get(page).content.decode()
    alice.display_name = "Alicia Client"
    alice.save()
    assert "Alicia" in client.get(page).content.decode()


@pytest.mark.django_db
def test_made_up_parameters_share_the_catalogs_cached_results_and_stay_out_of_its_links(
    client, leadership
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(30):
        CoachFactory(skills=[leadership])
    assert client.get(CATALOG, {"sort": "price"}).status_code == 200

    with CaptureQueriesContext(connection) as made_up:
        body = client.get(CATALOG, {"sort": "price", "utm_source": "x" * 40}).content.decode()

    assert not any("coaching_coachprofile" in query["sql"] for query in made_up.captured_queries)
    assert "page=2" in body and "utm_source" not in body


def test_a_time_zone_name_may_wrap_after_its_slash_only():
    from hse.templatetags.hse import zone_name

    assert zone_name("America/Argentina/Buenos_Aires") == (
        "America/<wbr>Argentina/<wbr>Buenos Aires"
    )
    assert zone_name("UTC") == "UTC"
    assert zone_name("<b>/x") == "&lt;b&gt;/<wbr>x"


@pytest.mark.django_db
def test_the_coach_is_kept_in_the_cache_and_every_change_to_them_shows_at_once(
    client, alice, bob, leadership
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    buy = reverse("payments:buy", args=[bob.pk])
    assert client.get(buy).status_code == 200
    with CaptureQueriesContext(connection) as again:
        assert client.get(buy).status_code == 200
    assert not any("coaching_" in query["sql"] for query in again.captured_queries)

    bob.hourly_price = 12_000
    bob.save()  # as the admin's form does
    assert "$120.00 per hour" in client.get(buy).content.decode()
    other = SkillFactory(name="Stagecraft")
    bob.skills.add(other)
    assert "Stagecraft" in client.get(buy).content.decode()
    bob.skills.remove(other)
    assert "Stagecraft" not in client.get(buy).content.decode()
    bob.user.is_active = False
    bob.user.save(update_fields=["is_active"])
    assert client.get(buy).status_code == 404
    assert client.get(reverse("marketplace:coach_detail", args=[bob.pk])).status_code == 404


@pytest.mark.redis("reads the raw values Redis keeps")
@pytest.mark.django_db
def test_the_kept_coach_holds_no_secrets_and_a_made_up_id_keeps_nothing(
    client, alice, bob, leadership
):
    from django.core.cache import cache

    client.force_login(alice)
    assert client.get(reverse("payments:buy", args=[bob.pk])).status_code == 200
    kept = cache._cache.get_client().get(cache.make_key(f"coach-page:{bob.pk}:row"))
    assert kept is not None
    assert bob.user.password.encode() not in kept and bob.user.email.encode() not in kept

    # A visitor's made-up id is read and answered, and leaves nothing in the cache.
    assert client.get(reverse("marketplace:coach_detail", args=[999999])).status_code == 404
    assert client.get(reverse("payments:buy", args=[999999])).status_code == 404
    assert not list(cache._cache.get_client().scan_iter(match="*999999*"))


@pytest.mark.django_db
def test_search_finds_names_without_their_accents_and_by_language_skill_and_bio(client):
    berta = CoachFactory(
        user__display_name="Berta Krüger", bio="Former nurse, now coaching career changers",
        languages=["de", "en"],
    )  # fmt: skip
    CoachFactory(user__display_name="Zed Other", languages=["fr"])
    berta.skills.add(Skill.objects.create(name="Career change", slug="career-change"))

    for query in ("krueger", "kruger", "KRÜGER", "krü", "german", "nurse", "career chan"):
        assert names(client.get(CATALOG, {"q": query})) == ["Berta Krüger"], query
    assert names(client.get(CATALOG, {"q": "krueger french"})) == []

    CoachFactory(user__display_name="Łukasz Sørensen")
    assert names(client.get(CATALOG, {"q": "lukasz sorensen"})) == ["Łukasz Sørensen"]


@pytest.mark.django_db
def test_price_and_language_filters_combine_and_stay_in_every_link(client):
    CoachFactory(user__display_name="Cheap Spanish", hourly_price=4000, languages=["es"])
    CoachFactory(user__display_name="Dear Spanish", hourly_price=20000, languages=["es", "en"])
    CoachFactory(user__display_name="Cheap English", hourly_price=5000, languages=["en"])

    page = client.get(CATALOG, {"price_max": "60", "language": "es"})

    assert names(page) == ["Cheap Spanish"]
    body = page.content.decode()
    assert "price_max=60" in body and "language=es" in body  # the skill chips keep them
    assert names(client.get(CATALOG, {"price_min": "45.50"})) == ["Cheap English", "Dear Spanish"]
    assert client.get(CATALOG, {"price_min": "cheap"}).status_code == 200


@pytest.mark.django_db
@freeze_time("2026-11-23 06:00")  # Monday, 07:00 in Berlin
def test_open_times_in_the_viewers_zone_filter_the_catalog_with_counts(client):
    from coaching.models import AvailabilityWindow

    morning = CoachFactory(user__display_name="Morning Berlin", time_zone="Europe/Berlin",
                           minimum_notice_minutes=0, windows=[])  # fmt: skip
    evening = CoachFactory(user__display_name="Evening New York", time_zone="America/New_York",
                           minimum_notice_minutes=0, windows=[])  # fmt: skip
    for weekday in range(7):
        AvailabilityWindow.objects.create(coach=morning, weekday=weekday, start_minute=8 * 60,
                                          end_minute=10 * 60)  # fmt: skip
        # 13:00-15:00 in New York is 19:00-21:00 in Berlin.
        AvailabilityWindow.objects.create(coach=evening, weekday=weekday, start_minute=13 * 60,
                                          end_minute=15 * 60)  # fmt: skip
    client.cookies[BROWSER_ZONE_COOKIE] = "Europe/Berlin"

    evenings = client.get(CATALOG, {"when": "7days", "part": "evening"})
    mornings = client.get(CATALOG, {"when": "week", "part": "morning"})

    assert names(evenings) == ["Evening New York"]
    assert names(mornings) == ["Morning Berlin"]
    counts = dict(
        re.findall(
            r'name="part" value="(\w+)"[^>]*> \w+ <span class="count">(\d+)',
            evenings.content.decode(),
        )
    )
    assert counts == {"morning": "1", "afternoon": "0", "evening": "1"}
    # In New York's zone the same New York coach has afternoons, not evenings.
    client.cookies[BROWSER_ZONE_COOKIE] = "America/New_York"
    assert names(client.get(CATALOG, {"part": "afternoon"})) == ["Evening New York"]


@pytest.mark.django_db
@freeze_time("2026-11-23 06:00")  # Monday, 07:00 in Berlin
def test_the_weekend_filter_keeps_coaches_open_on_the_viewers_saturday_or_sunday(client):
    """Late at night counts too: a time outside the named parts of the day is still open."""
    from coaching.models import AvailabilityWindow

    weekdays = CoachFactory(user__display_name="Weekdays Berlin", time_zone="Europe/Berlin",
                            minimum_notice_minutes=0, windows=[])  # fmt: skip
    sundays = CoachFactory(user__display_name="Sunday Tokyo", time_zone="Asia/Tokyo",
                           minimum_notice_minutes=0, windows=[])  # fmt: skip
    for weekday in range(5):
        AvailabilityWindow.objects.create(coach=weekdays, weekday=weekday, start_minute=9 * 60,
                                          end_minute=12 * 60)  # fmt: skip
    # Monday 06:00-08:00 in Tokyo is Sunday 22:00-24:00 in Berlin: a weekend there.
    AvailabilityWindow.objects.create(coach=sundays, weekday=0, start_minute=6 * 60,
                                      end_minute=8 * 60)  # fmt: skip
    client.cookies[BROWSER_ZONE_COOKIE] = "Europe/Berlin"
    assert names(client.get(CATALOG, {"weekends": "1"})) == ["Sunday Tokyo"]
    # In Tokyo's own zone those hours are a Monday morning.
    client.cookies[BROWSER_ZONE_COOKIE] = "Asia/Tokyo"
    assert names(client.get(CATALOG, {"weekends": "1"})) == []


@pytest.mark.django_db
def test_a_coach_without_weekly_hours_is_not_listed_and_sells_nothing(client, alice, bob):
    from coaching.services import availability_window_remove

    for window in list(bob.availability_windows.all()):
        availability_window_remove(coach=bob, window=window)

    bob.refresh_from_db()
    assert not bob.is_listed
    assert names(client.get(CATALOG)) == []
    client.force_login(alice)
    assert client.get(reverse("payments:buy", args=[bob.pk])).status_code == 404
