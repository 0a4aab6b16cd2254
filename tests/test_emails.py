"""Emails leave through the worker: queued after the commit (nothing if it rolls back), one
task per sweep batch, rendered from what was committed with the rows read in bulk, and sent
from the calling process when the broker is away."""

import time
from datetime import timedelta

import pytest
from celery.signals import task_prerun
from django.core import mail
from django.db import transaction

from hse import emails
from hse.models import QueuedEmail, QueuedNotice
from sessions_app.models import Session
from sessions_app.sweeps import sessions_auto_end_due
from tests.stripe_helpers import free_port
from tests.test_session_lifecycle import T

pytestmark = pytest.mark.django_db


@pytest.fixture
def email_tasks():
    """How many emails each run of the email task carried, in order."""
    runs = []

    def seen(task=None, args=None, **_):
        if task.name == "hse.send_emails":
            runs.append(len(args[0]))

    task_prerun.connect(seen, weak=False)
    yield runs
    task_prerun.disconnect(seen)


def overdue_sessions(alice, bob, skill, count):
    """``count`` one-hour sessions that should have ended long ago, still in progress."""
    return [
        Session.objects.create(
            coach=bob,
            client=alice,
            skill=skill,
            duration_minutes=60,
            starts_at=T + timedelta(hours=n),
            ends_at=T + timedelta(hours=n + 1),
            status=Session.Status.IN_PROGRESS,
        )
        for n in range(count)
    ]


def test_a_sweep_queues_one_email_task_per_batch(
    alice, bob, leadership, email_tasks, django_capture_on_commit_callbacks
):
    sessions = overdue_sessions(alice, bob, leadership, 5)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        ended = sessions_auto_end_due(now=T + timedelta(days=1), batch=2)

    assert ended == 5
    # One notice per batch, written in the sweep; the worker turned each into its emails.
    assert list(QueuedNotice.objects.values_list("ids", flat=True).order_by("pk")) == [
        [s.pk for s in sessions[:2]],
        [s.pk for s in sessions[2:4]],
        [sessions[4].pk],
    ]
    assert not QueuedNotice.objects.filter(expanded_at=None).exists()
    assert email_tasks == [2, 2, 1]
    assert len(mail.outbox) == 5
    assert {message.to[0] for message in mail.outbox} == {alice.email}
    assert all("Your session ended" in message.subject for message in mail.outbox)


def test_a_batch_that_rolls_back_queues_nothing_and_the_next_email_still_goes(
    alice, email_tasks, django_capture_on_commit_callbacks
):
    def queue(subject):
        emails.send_email_on_commit(
            to=alice, subject=subject, template="session_update", context={"kind": "none"}
        )

    mail.outbox.clear()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
        emails.batched(),
    ):
        queue("never")
        raise RuntimeError("the sweep failed")
    assert callbacks == [] and mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        queue("after")

    assert email_tasks == [1]
    assert [message.subject for message in mail.outbox] == ["[HSE] after"]


def test_the_worker_reads_the_rows_of_a_batch_once_per_model(
    alice, bob, leadership, django_assert_num_queries
):
    """Delivering 2 or 12 emails about sessions costs the same queries: the rows travel as
    references and are read in bulk, with what the templates follow."""

    def queue(sessions):
        with transaction.atomic(), emails.batched():
            for session in sessions:
                emails.send_email_on_commit(
                    to=alice, subject="s", template="session_update",
                    context={"session": session, "other": bob.user, "kind": "ended", "url": "/"},
                )  # fmt: skip
        return list(QueuedEmail.objects.filter(sent_at=None).values_list("pk", flat=True))

    sessions = overdue_sessions(alice, bob, leadership, 12)
    few = queue(sessions[:2])
    # savepoint, the locked outbox rows, their people, their sessions, marked sent, release
    with django_assert_num_queries(6) as counted:
        assert emails.deliver(few) == 2
    many = queue(sessions)
    with django_assert_num_queries(len(counted.captured_queries)):
        assert emails.deliver(many) == 12
    assert QueuedEmail.objects.filter(sent_at=None).count() == 0


def test_a_notice_whose_hand_over_was_lost_is_written_out_by_the_flush_once(alice, bob, leadership):
    from hse.tasks import flush_emails
    from sessions_app.emails import sessions_ended

    sessions = overdue_sessions(alice, bob, leadership, 3)
    QueuedNotice.objects.create(
        notifier=f"{sessions_ended.__module__}.{sessions_ended.__qualname__}",
        ids=[s.pk for s in sessions],
    )
    mail.outbox.clear()

    assert (flush_emails(), flush_emails()) == (3, 0)
    assert len(mail.outbox) == 3


def test_only_marked_notifiers_can_be_named(alice):
    with pytest.raises(ValueError, match="not a bulk notifier"):
        emails.notify_later(emails.build_email, ids=[alice.pk])
    assert not QueuedNotice.objects.exists()


def test_an_email_whose_hand_over_was_lost_is_sent_by_the_flush_once(alice):
    """The outbox row committed but its task never reached the broker (a crash in between):
    the periodic flush sends it, and a second flush sends nothing."""
    from hse.tasks import flush_emails

    QueuedEmail.objects.create(
        to=alice, subject="lost", template="session_update",
        payload={"context": {"kind": "none"}, "attachments": []},
    )  # fmt: skip
    mail.outbox.clear()

    assert (flush_emails(), flush_emails()) == (1, 0)
    assert [message.subject for message in mail.outbox] == ["[HSE] lost"]


@pytest.fixture
def broker_away():
    """The Celery app pointed at a port where no broker listens, with real publishing."""
    from hse.celery import app

    saved = app.conf.broker_write_url, app.conf.task_always_eager
    app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    app.conf.task_always_eager = False
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_write_url, app.conf.task_always_eager = saved
        app._pool = None
        app.amqp._producer_pool = None


def test_with_the_broker_away_the_email_is_sent_from_here_at_once(
    alice, broker_away, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    started = time.monotonic()

    with django_capture_on_commit_callbacks(execute=True):
        emails.send_email_on_commit(
            to=alice, subject="still sent", template="session_update", context={"kind": "none"}
        )

    assert [message.subject for message in mail.outbox] == ["[HSE] still sent"]
    assert QueuedEmail.objects.get().sent_at is not None
    assert time.monotonic() - started < 5  # a quick retry, not a hang


def test_an_email_about_a_row_that_is_gone_is_given_up_and_the_others_still_go(alice):
    from hse.tasks import flush_emails

    gone = QueuedEmail.objects.create(
        to=alice, subject="gone", template="session_update",
        payload={"context": {"session": {"__row__": "sessions_app.Session", "pk": 10**9}},
                 "attachments": []},
    )  # fmt: skip
    QueuedEmail.objects.create(
        to=alice, subject="fine", template="session_update",
        payload={"context": {"kind": "none"}, "attachments": []},
    )  # fmt: skip
    mail.outbox.clear()

    assert (flush_emails(), flush_emails()) == (1, 0)
    assert [message.subject for message in mail.outbox] == ["[HSE] fine"]
    gone.refresh_from_db()
    assert gone.sent_at is None and gone.attempts == QueuedEmail.MAX_ATTEMPTS


@emails.bulk_notifier
def failing_notifier(ids):
    raise RuntimeError("the mail templates are broken today")


def test_a_failing_notice_is_tried_once_per_flush_and_does_not_hold_up_the_others(
    alice, bob, leadership
):
    from sessions_app.emails import sessions_ended

    def path(function):
        return f"{function.__module__}.{function.__qualname__}"

    broken = QueuedNotice.objects.create(notifier=path(failing_notifier), ids=[1])
    sessions = overdue_sessions(alice, bob, leadership, 2)
    for session in sessions:
        QueuedNotice.objects.create(notifier=path(sessions_ended), ids=[session.pk])
    mail.outbox.clear()

    assert emails.flush(batch=1) == 2
    broken.refresh_from_db()
    assert (broken.attempts, broken.expanded_at) == (1, None)
    assert len(mail.outbox) == 2
