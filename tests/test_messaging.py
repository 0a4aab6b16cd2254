"""Messages between a client and a coach (SPEC 11): who may write to whom, what a message may
hold and how it shows, read receipts, the unread email, the header's counts, the live pushes
and the refund desk's evidence. Alice is a client, Bob and Dora coaches, Carol another
client, Sam staff."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse
from freezegun import freeze_time

from hse import live
from messaging import services
from messaging.models import Conversation, Message
from messaging.services import (
    MessagingError,
    conversation_for,
    conversation_read,
    message_send,
    messages_email_unread_due,
)
from tests.factories import CoachFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true"}


def thread_url(conversation) -> str:
    return reverse("messaging:thread", args=[conversation.pk])


def start_url(user) -> str:
    return reverse("messaging:start", args=[user.pk])


@pytest.fixture
def talk(alice, bob):
    """Alice's conversation with Bob, in which she wrote first."""
    conversation = conversation_for(client=alice, coach=bob, now=NOW)
    message_send(conversation=conversation, by=alice, body="Hi Bob!", now=NOW)
    return conversation


# --- Who may write to whom -----------------------------------------------------------------------


@freeze_time(NOW)
def test_a_client_messages_a_listed_coach_from_the_coach_page(client, alice, bob):
    client.force_login(alice)

    page = client.get(reverse("marketplace:coach_detail", args=[bob.pk])).content.decode()
    assert f'href="{start_url(bob.user)}"' in page and "Message Bob Coach" in page
    form = client.get(start_url(bob.user))
    assert form.status_code == 200 and "Your message to Bob Coach" in form.content.decode()
    sent = client.post(start_url(bob.user), {"body": "  Do you coach new managers?\r\n "})

    conversation = Conversation.objects.get(client=alice, coach=bob)
    assert sent.status_code == 302 and sent.url == thread_url(conversation)
    message = conversation.messages.get()
    assert (message.body, message.sender, message.recipient) == (
        "Do you coach new managers?",
        alice,
        bob.user,
    )
    # From then on the coach's page leads to the same conversation.
    assert client.get(start_url(bob.user)).url == thread_url(conversation)


@freeze_time(NOW)
def test_a_client_may_message_any_listed_coach_but_not_an_unlisted_one(client, alice, bob):
    hidden = CoachFactory(user__display_name="Hidden Coach", is_listed=False)
    client.force_login(alice)

    assert client.get(start_url(bob.user)).status_code == 200
    assert client.get(start_url(hidden.user)).status_code == 404
    assert client.post(start_url(hidden.user), {"body": "Hello"}).status_code == 404
    with pytest.raises(MessagingError, match="not taking messages"):
        conversation_for(client=alice, coach=hidden, now=NOW)


@freeze_time(NOW)
def test_a_strangers_conversation_answers_404_everywhere(client, carol, dora, talk):
    for stranger in (carol, dora.user):
        client.force_login(stranger)
        assert client.get(thread_url(talk)).status_code == 404
        assert client.get(thread_url(talk), headers=HTMX).status_code == 404
        assert client.post(thread_url(talk), {"body": "Let me in"}).status_code == 404
        assert "Hi Bob!" not in client.get(reverse("messaging:list")).content.decode()
    assert talk.messages.count() == 1


@freeze_time(NOW)
def test_a_coach_cannot_start_a_conversation(client, alice, carol, bob, dora):
    client.force_login(bob.user)

    # Not with a client who never booked, not with another coach, not with themself.
    for person in (carol, dora.user, bob.user):
        assert client.get(start_url(person)).status_code == 404
        assert client.post(start_url(person), {"body": "Need a coach?"}).status_code == 404
    assert not Conversation.objects.exists()
    with pytest.raises(MessagingError, match="between a client and a coach"):
        conversation_for(client=bob.user, coach=dora, now=NOW)
    with pytest.raises(MessagingError, match="who have booked with you"):
        services.conversation_start(by=bob.user, client=carol, coach=bob, body="Hi", now=NOW)


def test_a_coach_may_write_first_to_a_client_who_booked_with_them(client, alice, bob, session):
    client.force_login(bob.user)
    detail = client.get(reverse("sessions:detail", args=[session.pk])).content.decode()
    assert f'href="{start_url(alice)}"' in detail and "Messages with Alice Client" in detail

    sent = client.post(start_url(alice), {"body": "Looking forward to Monday."})

    conversation = Conversation.objects.get(client=alice, coach=bob)
    assert sent.url == thread_url(conversation)
    assert conversation.messages.get().sender == bob.user


def test_the_sixth_new_conversation_in_a_day_is_refused_with_a_message(client, alice, bob):
    coaches = [bob] + [CoachFactory(user__display_name=f"Coach {n}") for n in range(5)]
    client.force_login(alice)
    with freeze_time(NOW):
        for coach in coaches[:5]:
            assert client.post(start_url(coach.user), {"body": "Hello"}).status_code == 302

        refused = client.post(start_url(coaches[5].user), {"body": "Hello"})

        assert refused.status_code == 200
        assert "You have started 5 new conversations in the last 24 hours" in (
            refused.content.decode()
        )
        assert "Hello" in refused.content.decode()  # what she wrote is kept in the form
        assert Conversation.objects.count() == 5 and Message.objects.count() == 5
        # Conversations she has go on.
        assert client.post(start_url(bob.user), {"body": "Again"}).status_code == 302
    with freeze_time(NOW + timedelta(hours=24, seconds=1)):
        assert client.post(start_url(coaches[5].user), {"body": "Hello"}).status_code == 302
    assert Conversation.objects.count() == 6


# --- What a message may hold, and how it shows ---------------------------------------------------


@freeze_time(NOW)
def test_a_message_shows_as_text_with_its_links_clickable_and_nofollow(client, alice, bob, talk):
    message_send(
        conversation=talk, by=bob.user, now=NOW,
        body='<script>alert("x")</script>\nSee https://example.com/plan?a=1&b=2 first.',
    )  # fmt: skip
    client.force_login(alice)

    page = client.get(thread_url(talk)).content.decode()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;<br>See" in page
    assert (
        '<a href="https://example.com/plan?a=1&amp;b=2" rel="nofollow">'
        "https://example.com/plan?a=1&amp;b=2</a>"
    ) in page


@freeze_time(NOW)
@pytest.mark.parametrize(
    ("body", "shown", "refused"),
    [
        ("   \n ", "Write a message first.", "Write a message first"),
        ("x" * 2001, "at most 2000 characters", "at most 2000 characters"),
        ("bell \x07", "Remove the control characters", "control characters"),
        ("nul \x00", "Null characters are not allowed", "control characters"),
    ],
)
def test_a_message_must_be_plain_text_of_1_to_2000_characters(
    client, alice, talk, body, shown, refused
):
    client.force_login(alice)

    page = client.post(thread_url(talk), {"body": body}, headers=HTMX)

    assert page.status_code == 200 and shown in page.content.decode()
    assert talk.messages.count() == 1
    with pytest.raises(MessagingError, match=refused):
        message_send(conversation=talk, by=alice, body=body, now=NOW)


@freeze_time(NOW)
def test_only_the_pair_writes_in_their_conversation(carol, talk):
    with pytest.raises(MessagingError, match="not yours"):
        message_send(conversation=talk, by=carol, body="Hi", now=NOW)
    with pytest.raises(MessagingError, match="not yours"):
        conversation_read(conversation=talk, by=carol, now=NOW)


@freeze_time(NOW)
def test_sending_with_htmx_returns_the_thread_and_an_empty_form(client, alice, talk):
    client.force_login(alice)

    page = client.post(thread_url(talk), {"body": "Line one\r\nLine two"}, headers=HTMX)

    html = page.content.decode()
    assert 'id="chat-thread"' in html and "Line one<br>Line two" in html
    assert 'id="chat-form"' in html and 'hx-swap-oob="true"' in html
    assert "<html" not in html  # the part only
    assert talk.messages.last().body == "Line one\nLine two"
    # Without JavaScript the form posts and comes back to the thread.
    plain = client.post(thread_url(talk), {"body": "Plain"})
    assert plain.status_code == 302 and plain.url == thread_url(talk)


# --- Read receipts -------------------------------------------------------------------------------


def test_opening_the_thread_reads_it_and_the_sender_sees_seen(client, alice, bob, talk):
    client.force_login(alice)
    with freeze_time(NOW):
        assert "Seen" not in client.get(thread_url(talk)).content.decode()
    message = talk.messages.get()
    assert message.read_at is None  # her own message is Bob's to read

    client.force_login(bob.user)
    with freeze_time(NOW + timedelta(minutes=3)):
        client.get(thread_url(talk))
    message.refresh_from_db()
    assert message.read_at == NOW + timedelta(minutes=3)

    client.force_login(alice)
    page = client.get(thread_url(talk)).content.decode()
    assert f'id="message-{message.pk}"' in page and '<span class="chat-seen">Seen</span>' in page
    # A newer message of hers, not read yet: "Seen" leaves until Bob reads that one too.
    message_send(conversation=talk, by=alice, body="And another thing", now=NOW)
    assert "chat-seen" not in client.get(thread_url(talk)).content.decode()


@freeze_time(NOW)
def test_a_poll_that_finds_the_thread_unchanged_swaps_nothing(client, alice, bob, talk):
    client.force_login(alice)
    first = client.get(thread_url(talk), headers=HTMX).content.decode()
    state = re.search(r"\?since=([0-9.]+)", first).group(1)

    assert client.get(thread_url(talk), {"since": state}, headers=HTMX).status_code == 204
    message_send(conversation=talk, by=bob.user, body="Yes, hello", now=NOW)
    again = client.get(thread_url(talk), {"since": state}, headers=HTMX)
    assert again.status_code == 200 and "Yes, hello" in again.content.decode()
    assert talk.messages.get(body="Yes, hello").read_at == NOW  # shown, so read


# --- The header and the pending actions ----------------------------------------------------------


@freeze_time(NOW)
def test_the_header_counts_unread_messages_and_pending_actions_lists_them(client, alice, bob, talk):
    client.force_login(bob.user)
    home = client.get("/")
    assert (home.context["unread_count"], home.context["pending_count"]) == (1, 1)
    assert '<span id="unread-count" class="nav-count"' in home.content.decode()

    panel = client.get(reverse("marketplace:pending")).content.decode()
    assert "1 unread message<" in panel and reverse("messaging:list") in panel

    badge = client.get(reverse("messaging:unread"), headers=HTMX).content.decode()
    assert 'id="unread-count"' in badge and ">1<" in badge
    assert 'id="pending-actions"' in badge and 'hx-swap-oob="true"' in badge
    assert client.get(reverse("messaging:unread")).url == reverse("messaging:list")

    client.get(thread_url(talk))  # read: the kept counts are counted again
    home = client.get("/")
    assert (home.context["unread_count"], home.context["pending_count"]) == (0, 0)


@freeze_time(NOW)
def test_the_list_shows_the_other_person_the_last_message_its_time_and_unread(
    client, alice, bob, dora, talk
):
    other = conversation_for(client=alice, coach=dora, now=NOW - timedelta(days=1))
    message_send(conversation=other, by=dora.user, body="Welcome!", now=NOW - timedelta(days=1))
    message_send(conversation=talk, by=bob.user, body="Sure, ask away", now=NOW)
    client.force_login(alice)  # in Berlin

    page = client.get(reverse("messaging:list")).content.decode()

    assert page.index("Bob Coach") < page.index("Dora Coach")  # the latest first
    assert "Sure, ask away" in page and "You: Hi Bob!" not in page
    assert "Fri 20 Nov, 16:00 CET" in page  # 15:00 UTC in her zone
    assert page.count('class="unread-badge"') == 2


def test_the_list_costs_the_same_queries_for_one_conversation_or_many(
    client, alice, bob, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    first = conversation_for(client=alice, coach=bob, now=NOW)
    message_send(conversation=first, by=bob.user, body="One", now=NOW)
    client.get(reverse("messaging:list"))  # the header's counts are kept after
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("messaging:list"))
    queries = [query["sql"] for query in one.captured_queries]  # before a request clears them
    for n in range(6):
        coach = CoachFactory(user__display_name=f"Coach {n}")
        conversation = conversation_for(client=alice, coach=coach, now=NOW, starting=False)
        message_send(conversation=conversation, by=coach.user, body=f"Hi {n}", now=NOW)
        message_send(conversation=conversation, by=alice, body=f"Hello {n}", now=NOW)

    client.get(reverse("messaging:list"))  # the new messages renewed the header's counts
    with django_assert_max_num_queries(len(queries)):
        page = client.get(reverse("messaging:list"))

    assert len(page.context["listing"].rows) == 7
    assert len(queries) <= 4
    lists = [sql for sql in queries if "messaging_conversation" in sql]
    assert len(lists) == 1  # the list itself: conversations, people, last messages, unread


# --- The unread email ----------------------------------------------------------------------------


@freeze_time(NOW)
def test_an_unread_message_emails_its_recipient_once_until_they_read(
    client, alice, bob, talk, mailoutbox, django_capture_on_commit_callbacks
):
    def sweep(minutes: float) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return messages_email_unread_due(now=NOW + timedelta(minutes=minutes))

    bob.user.time_zone = "America/New_York"
    bob.user.save()
    message_send(conversation=talk, by=alice, body="Are you there?", now=NOW + timedelta(minutes=2))
    assert sweep(9) == 0  # not ten minutes yet
    assert (sweep(10), sweep(10)) == (1, 0)  # run twice: one email
    assert sweep(13) == 0  # her second message: Bob was told already
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["bob@example.com"] and "Alice Client sent you 2 messages" in email.subject
    text, html = email.body, email.alternatives[0][0]
    assert "Hi Bob!" in text and "Are you there?" in text
    assert "Fri 20 Nov, 10:00 EST" in text  # in Bob's zone, New York
    assert thread_url(talk) in text and thread_url(talk) in html

    conversation_read(conversation=talk, by=bob.user, now=NOW + timedelta(minutes=20))
    message_send(conversation=talk, by=alice, body="<b>Thanks</b>", now=NOW + timedelta(minutes=30))
    assert sweep(39) == 0
    assert sweep(40) == 1  # read, then a new unread one: a new email after ten minutes
    assert len(mailoutbox) == 2
    assert "<b>Thanks</b>" in mailoutbox[1].body  # plain text as written
    assert "&lt;b&gt;Thanks&lt;/b&gt;" in mailoutbox[1].alternatives[0][0]  # escaped in HTML


@freeze_time(NOW)
def test_each_side_of_a_conversation_is_emailed_on_its_own(
    alice, bob, talk, mailoutbox, django_capture_on_commit_callbacks
):
    message_send(conversation=talk, by=bob.user, body="Hi Alice", now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        assert messages_email_unread_due(now=NOW + timedelta(minutes=10), batch=1) == 2
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.com", "bob@example.com"]


# --- Live pushes ---------------------------------------------------------------------------------


@pytest.fixture
def layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield get_channel_layer()
    channel_layers.backends.clear()


def listen(layer, group: str) -> str:
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def received(layer, channel) -> list[dict]:
    """What reached ``channel`` so far."""

    async def drain():
        events = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=0.05)
            except TimeoutError:
                return events
            events.append(message["event"])

    return async_to_sync(drain)()


def test_sending_and_reading_push_to_the_pages_after_the_commit(
    alice, bob, talk, layer, django_capture_on_commit_callbacks
):
    """A new line travels to each side rendered for them (an open thread adds it without
    asking again); reading moves the sender's "Seen" and the reader's count."""
    alice_pages = listen(layer, live.user_group(alice.pk))
    bob_pages = listen(layer, live.user_group(bob.user.pk))
    first = talk.messages.get()

    with django_capture_on_commit_callbacks() as callbacks:
        line = message_send(
            conversation=talk, by=alice, body="<b>Ping</b> https://example.com", now=NOW
        )
        assert received(layer, bob_pages) == []  # nothing before the commit
    for callback in callbacks:
        callback()
    to_bob = received(layer, bob_pages)
    assert [event["type"] for event in to_bob] == ["message"]
    pushed = to_bob[0]
    assert pushed["unread"] == 2  # his total, as an "unread" event would say
    assert (pushed["conversation"], pushed["id"]) == (talk.pk, line.pk)
    html = pushed["html"]
    assert f'id="message-{line.pk}"' in html and "chat-theirs" in html and "Alice Client:" in html
    assert "&lt;b&gt;Ping&lt;/b&gt;" in html and "<b>" not in html
    assert '<a href="https://example.com"' in html
    assert NOW.astimezone(bob.user.zone).strftime("%H:%M") in html  # in Bob's zone
    to_alice = received(layer, alice_pages)
    assert [event["type"] for event in to_alice] == ["message"] and "unread" not in to_alice[0]
    assert "chat-own" in to_alice[0]["html"] and "You:" in to_alice[0]["html"]
    assert "16:00" in to_alice[0]["html"]  # 15:00 UTC in Berlin

    with django_capture_on_commit_callbacks(execute=True):
        # A page that showed only the first line reads only that one.
        assert conversation_read(conversation=talk, by=bob.user, now=NOW, upto=first.pk) == 1
        assert conversation_read(conversation=talk, by=bob.user, now=NOW) == 1
        assert conversation_read(conversation=talk, by=bob.user, now=NOW) == 0  # no news
    assert received(layer, alice_pages) == [
        {"type": "read", "conversation": talk.pk, "upto": first.pk},
        {"type": "read", "conversation": talk.pk, "upto": line.pk},
    ]
    assert received(layer, bob_pages) == [
        {"type": "unread", "count": 1},
        {"type": "unread", "count": 0},
    ]


def test_a_thread_says_what_it_showed_and_only_that_is_read(client, alice, bob, carol, talk):
    later = message_send(conversation=talk, by=alice, body="And another", now=NOW)
    url = reverse("messaging:read", args=[talk.pk])
    client.force_login(bob.user)
    assert client.post(url).status_code == 400  # which line was shown?
    assert client.post(url, {"upto": "9" * 40}).status_code == 400
    assert client.post(url, {"upto": later.pk - 1}).status_code == 204
    assert list(talk.messages.filter(read_at__isnull=True)) == [later]
    client.force_login(carol)
    assert client.post(url, {"upto": later.pk}).status_code == 404  # not hers
    client.force_login(alice)  # her own lines are not hers to read
    assert client.post(url, {"upto": later.pk}).status_code == 204
    assert list(talk.messages.filter(read_at__isnull=True)) == [later]


# --- The room and the refund desk ----------------------------------------------------------------


def test_the_room_shows_the_pairs_chat_beside_the_call(client, alice, bob, session):
    from tests.test_session_lifecycle import at

    client.force_login(alice)
    with freeze_time(at(-10)):
        empty = client.get(reverse("sessions:room", args=[session.pk])).content.decode()
        assert "Messages with Bob Coach" in empty and 'class="chat-new"' in empty
        assert "data-live-conversation" not in empty
        # Her first line from the panel opens the conversation and comes back as the thread.
        part = client.post(start_url(bob.user), {"body": "On my way"}, headers=HTMX)
        assert 'data-live-conversation="' in part.content.decode()
        conversation = Conversation.objects.get()

    client.force_login(bob.user)
    with freeze_time(at(-9)):
        page = client.get(reverse("sessions:room", args=[session.pk])).content.decode()
    assert f'data-live-conversation="{conversation.pk}"' in page and "On my way" in page
    assert conversation.messages.get().read_at == at(-9)  # shown to him in the room: read


def test_the_report_admin_shows_the_pairs_messages_within_the_sessions_window(
    client, alice, bob, session
):
    from sessions_app import services as sessions
    from tests.test_session_lifecycle import at

    conversation = conversation_for(client=alice, coach=bob, now=at(-60))
    for minutes, by, body in (
        (-16, alice, "Before the room opened"),
        (-15, alice, "Are we still on?"),
        (8, bob.user, "Sorry, <b>stuck</b> in traffic"),
        (75, alice, "Never mind"),
        (76, alice, "Long after"),
    ):
        message_send(conversation=conversation, by=by, body=body, now=at(minutes))
    report = sessions.session_report(
        session=session, by=alice, now=at(7), reason="no_show", details="Nobody came"
    )
    sam = UserFactory(display_name="Sam Staff", is_staff=True, is_superuser=True)
    client.force_login(sam)

    page = client.get(
        reverse("admin:sessions_app_report_change", args=[report.pk])
    ).content.decode()

    assert "Messages in the session&#x27;s window" in page
    assert "Are we still on?" in page and "Never mind" in page
    assert "Sorry, &lt;b&gt;stuck&lt;/b&gt; in traffic" in page and "<b>stuck</b>" not in page
    assert "Before the room opened" not in page and "Long after" not in page


def test_there_is_no_admin_page_for_conversations(client):
    sam = UserFactory(display_name="Sam Staff", is_staff=True, is_superuser=True)
    client.force_login(sam)
    assert "messaging" not in client.get(reverse("admin:index")).content.decode()
    from django.contrib import admin

    assert Conversation not in admin.site._registry and Message not in admin.site._registry
