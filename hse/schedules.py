"""Every periodic task of HSE, in one place.

The entries are written to django-celery-beat's tables on every ``migrate`` (see
``hse.apps``), so admins see and can pause them in Django admin while beat's database
scheduler runs them. An entry removed here is removed from the database too.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Every:
    task: str
    seconds: int
    description: str


_DAY_BEFORE, _SOON = settings.HSE_REMINDERS_MINUTES_BEFORE
OURS = "[hse] "  # marks the rows this module owns, so it never deletes an admin's own task

PERIODIC_TASKS: dict[str, Every] = {
    "coach-late notices": Every(
        task="sessions.coach_late",
        seconds=60,
        description="Tells the client once that Report is available when the coach is late.",
    ),
    "auto-end sessions": Every(
        task="sessions.auto_end",
        seconds=60,
        description=f"Ends sessions still open {settings.HSE_AUTO_END_MINUTES_AFTER} minutes "
        "after their scheduled end.",
    ),
    "auto-confirm sessions": Every(
        task="sessions.auto_confirm",
        seconds=60,
        description="Confirms ended sessions not reported within "
        f"{settings.HSE_AUTO_CONFIRM_HOURS} hours.",
    ),
    "session reminders": Every(
        task="sessions.reminders",
        seconds=60,
        description=f"Emails both people {_DAY_BEFORE / 60:g} hours and {_SOON} minutes before a "
        "session.",
    ),
    "expire unanswered session requests": Every(
        task="requests.expire_overdue",
        seconds=60,
        description="Cancels requests not answered by their deadline and frees their credits.",
    ),
    "expire checkout holds": Every(
        task="payments.expire_holds",
        seconds=60,
        description="Expires unpaid orders and top-ups, and frees their held slots, after "
        f"{settings.HSE_HOLD_MINUTES} minutes.",
    ),
    "expire unused credits": Every(
        task="ledger.credit_expiry",
        seconds=60,
        description="Returns unused credits past their expiry to the wallet at their price, "
        "and reminds clients "
        f"{' and '.join(str(d) for d in settings.HSE_PACKAGE_EXPIRY_REMINDER_DAYS)} days before.",
    ),
    "lapse unanswered package extensions": Every(
        task="payments.extensions_lapse",
        seconds=60,
        description="Declines a client's request for more time not answered within "
        f"{settings.HSE_EXTENSION_ANSWER_DAYS} days, so the package's expiry goes on.",
    ),
    "follow up card refunds": Every(
        task="payments.follow_up_refunds",
        seconds=60,
        description="Sends card refunds whose hand-over was lost and asks Stripe about ones "
        "pending for an hour.",
    ),
    "follow up payouts": Every(
        task="payouts.follow_up",
        seconds=60,
        description="Sends again Stripe payouts whose hand-over or answer was lost, with the "
        "same idempotency key.",
    ),
    "weekly automatic payouts": Every(
        task="payouts.auto_weekly",
        seconds=3600,
        description="On the payout weekday, pays coaches who chose weekly Stripe payouts what "
        "is available, once a week.",
    ),
    "remind unfinished payout onboarding": Every(
        task="payouts.onboarding_reminders",
        seconds=3600,
        description=f"Emails a coach once who started Stripe onboarding "
        f"{settings.HSE_ONBOARDING_REMINDER_HOURS} hours ago and has not finished it.",
    ),
    "email about unread messages": Every(
        task="messaging.email_unread",
        seconds=60,
        description="Emails people about messages unread for "
        f"{settings.HSE_UNREAD_EMAIL_MINUTES} minutes, once per conversation until they read.",
    ),
    "read coaches' busy calendars": Every(
        task="coaching.refresh_busy_calendars",
        seconds=300,
        description="Reads coaches' external calendars not read for "
        f"{settings.HSE_BUSY_CALENDAR_REFRESH_MINUTES} minutes; their events block those times.",
    ),
    "flush the email outbox": Every(
        task="hse.flush_emails",
        seconds=60,
        description="Sends emails whose hand-over to the worker was lost, and retries failed ones.",
    ),
    "clear expired login sessions": Every(
        task="hse.clear_expired_sessions",
        seconds=24 * 3600,
        description="Deletes expired rows from Django's session table.",
    ),
}


def sync_periodic_tasks() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, entry in PERIODIC_TASKS.items():
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=entry.seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": entry.task,
                "interval": interval,
                "description": f"{OURS}{entry.description}",
            },
        )
    PeriodicTask.objects.filter(description__startswith=OURS).exclude(
        name__in=PERIODIC_TASKS
    ).delete()
