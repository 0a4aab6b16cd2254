"""What every sweep runs: the rows due by the clock, a locked batch at a time. The state
change of a batch is its machine's ``move_many`` (``hse.states``)."""

from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet


def in_locked_batches(queryset: QuerySet, handle: Callable[[list], int], *, batch: int) -> int:
    """Runs ``handle`` on the rows of ``queryset`` (filtered to what is due, ordered, with
    what ``handle`` needs selected) a batch at a time until none are left, and returns the
    sum of what it returned. Each batch is one transaction whose rows are locked with SKIP
    LOCKED, so rows another worker holds (a sweep running twice, a person acting on one
    right now) are left to it. A batch's emails are one notice (``hse.emails.notify_later``).
    ``handle`` must take the rows out of the due set, or the loop would not end."""
    done = 0
    while True:
        with transaction.atomic():
            rows = list(queryset.select_for_update(skip_locked=True, of=("self",))[:batch])
            if rows:
                done += handle(rows)
        if len(rows) < batch:
            return done
