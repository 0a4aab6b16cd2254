"""The sessions' timers, run every minute by beat: each an idempotent sweep over the rows due
by the clock, a locked batch at a time (``hse.sweeps``), safe twice and safe at once, and
catching up after downtime. Emails go as one notice per batch."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F

from hse.emails import notify_later
from hse.sweeps import in_locked_batches
from ledger import services as ledger
from ledger.models import Credit
from sessions_app import emails
from sessions_app.lifecycle import SESSION, coach_came_q, confirmation_closed_q
from sessions_app.models import Attendance, CoachIncident, Session
from sessions_app.services import COACH_ABSENT_WHY

# Pages derive from the clock what these sweeps write (``lifecycle.effective_status``) and
# the header's count is kept for half a minute at most, so a sweep renews no cached page.


def sessions_auto_end_due(*, now: datetime, batch: int = 1000) -> int:
    """Sessions still open HSE_AUTO_END_MINUTES_AFTER after their end are ended: one
    UPDATE per batch, events and attendance rows in bulk, one notice for the emails."""
    after = timedelta(minutes=settings.HSE_AUTO_END_MINUTES_AFTER)
    due = (
        Session.objects.filter(
            status__in=(Session.Status.SCHEDULED, Session.Status.IN_PROGRESS),
            ends_at__lte=now - after,
        )
        .order_by("pk")
        .values_list("pk", "ends_at")
    )

    def handle(rows):
        ends = dict(rows)
        moved = SESSION.move_many(
            list(ends), "auto_end", now=now, why="ended automatically",
            ended_at=F("ends_at") + after,
        )  # fmt: skip
        Attendance.objects.bulk_create(
            Attendance(session_id=pk, user=None, kind=Attendance.Kind.AUTO_END, at=ends[pk] + after)
            for pk in moved
        )
        notify_later(emails.sessions_ended, ids=moved)
        return len(moved)

    return in_locked_batches(due, handle, batch=batch)


def sessions_auto_confirm_due(*, now: datetime, batch: int = 1000) -> int:
    """Ended sessions nobody reported before their confirmation closed
    (``lifecycle.confirmation_closes_at``) are confirmed: their credits are used, which
    earns their coaches, whether or not the client came. Those where the attendance
    evidence has no trace of the coach give the credit back instead, and go on the coach's
    record (``services._auto_confirm_locked`` is the same rule for one session)."""
    due = (
        Session.objects.filter(confirmation_closed_q(now))
        .annotate(came=coach_came_q())
        .order_by("pk")
        .values_list("pk", "credit_id", "came", "coach_id")
    )
    why = "not reported in time; confirmed automatically"

    def handle(rows):
        confirmed = SESSION.move_many(
            [pk for pk, _, came, _ in rows if came], "auto_confirm", now=now, why=why,
            closed_at=now,
        )  # fmt: skip
        moved = set(confirmed)
        ledger.credits_use_many(
            sessions={credit: pk for pk, credit, _, _ in rows if credit and pk in moved},
            now=now,
            why=why,
        )
        absent = SESSION.move_many(
            [pk for pk, _, came, _ in rows if not came], "coach_absent", now=now,
            why=COACH_ABSENT_WHY, closed_at=now,
        )  # fmt: skip
        back = set(absent)
        for pk, credit_id, _, _ in rows:
            if pk in back and credit_id:
                credit = Credit.objects.get(pk=credit_id)
                ledger.credit_give_back(credit=credit, by=None, now=now, why=COACH_ABSENT_WHY)
        CoachIncident.objects.bulk_create(
            [
                CoachIncident(
                    coach_id=coach_id,
                    session_id=pk,
                    kind=CoachIncident.Kind.NO_SHOW,
                    at=now,
                    note=COACH_ABSENT_WHY,
                )
                for pk, _, _, coach_id in rows
                if pk in back
            ],
            ignore_conflicts=True,
        )
        return len(confirmed) + len(absent)

    return in_locked_batches(due, handle, batch=batch)


def coach_late_notify_due(*, now: datetime, batch: int = 500) -> int:
    """The client is told once that Report is available when the coach is late."""
    due = (
        Session.objects.coach_late_at(now)
        .filter(coach_late_notified_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )

    def handle(ids):
        Session.objects.filter(pk__in=ids).update(coach_late_notified_at=now)
        notify_later(emails.coaches_late, ids=ids)
        return len(ids)

    return in_locked_batches(due, handle, batch=batch)


def reminders_send_due(*, now: datetime, batch: int = 500) -> int:
    """Day-before and starting-soon reminders, each once per session. A reminder whose
    moment passed long ago (the beat was down) is skipped rather than sent late."""
    day, soon = settings.HSE_REMINDERS_MINUTES_BEFORE
    sent = 0
    # The day-before reminder is pointless once the starting-soon one is due.
    windows = (("reminder_day_sent_at", day, soon), ("reminder_soon_sent_at", soon, 0))
    for field, minutes, not_within in windows:
        due = (
            Session.objects.filter(
                status=Session.Status.SCHEDULED,
                starts_at__lte=now + timedelta(minutes=minutes),
                starts_at__gt=now + timedelta(minutes=not_within),
                **{f"{field}__isnull": True},
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )

        def handle(ids, field=field, minutes=minutes):
            Session.objects.filter(pk__in=ids).update(**{field: now})
            notify_later(emails.reminders, ids=ids, minutes=minutes, now=now.isoformat())
            return len(ids)

        sent += in_locked_batches(due, handle, batch=batch)
    return sent
