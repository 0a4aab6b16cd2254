from celery import shared_task
from django.utils import timezone

from coaching.busy_calendars import (
    SWEEP_BUDGET_SECONDS,
    busy_calendar_refresh_now,
    busy_calendars_refresh_due,
)

# The sweep stops taking calendars after SWEEP_BUDGET_SECONDS; one calendar then takes at
# most its fetch's time limit and a few seconds' expansion. Past these limits something
# is stuck: the worker interrupts it (soft), then ends it (hard), before the next run is
# due (hse.schedules, every 300 s). The calendar it was reading is claimed and waits for
# its next turn.
SWEEP_SOFT_LIMIT = SWEEP_BUDGET_SECONDS + 40
SWEEP_HARD_LIMIT = SWEEP_SOFT_LIMIT + 15


@shared_task(
    name="coaching.refresh_busy_calendars",
    soft_time_limit=SWEEP_SOFT_LIMIT,
    time_limit=SWEEP_HARD_LIMIT,
)
def refresh_busy_calendars() -> int:
    """Reads coaches' external calendars not read for a while (their busy times)."""
    return busy_calendars_refresh_due(now=timezone.now())


@shared_task(name="coaching.refresh_busy_calendar", soft_time_limit=40, time_limit=55)
def refresh_busy_calendar(calendar_id: int) -> bool:
    """Reads a calendar its coach just added, so its busy times show at once."""
    return busy_calendar_refresh_now(calendar_id=calendar_id, now=timezone.now())
