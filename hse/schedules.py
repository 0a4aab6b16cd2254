"""Every periodic task of HSE, in one place.

The entries are written to django-celery-beat's tables on every ``migrate`` (see
``hse.apps``), so admins see and can pause them in Django admin while beat's database
scheduler runs them. An entry removed here is removed from the database too.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Every:
    task: str
    seconds: int
    description: str


OURS = "[hse] "  # marks the rows this module owns, so it never deletes an admin's own task

PERIODIC_TASKS: dict[str, Every] = {
    "expire unanswered session requests": Every(
        task="requests.expire_overdue",
        seconds=60,
        description="Cancels requests not answered by their deadline and frees their credits.",
    ),
    "expire checkout holds": Every(
        task="payments.expire_holds",
        seconds=60,
        description="Expires unpaid orders and frees their held slots after 30 minutes.",
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
