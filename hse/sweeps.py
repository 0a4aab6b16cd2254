"""What every sweep runs: due rows a locked batch at a time, and one state change applied
to many of them at once."""

from collections.abc import Callable

from django.db import transaction
from django.db.models import Model, QuerySet


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


def bulk_transition(
    model: type[Model],
    event: type[Model],
    *,
    link: str,
    ids: list[int],
    sources: tuple,
    target: str,
    now,
    why: str,
    **fields,
) -> int:
    """Moves the rows ``ids`` (locked by the caller) that are in one of ``sources`` to
    ``target`` with one conditional UPDATE (setting ``fields`` too), and records an ``event``
    row for each (``link`` names its foreign key, e.g. "session_id"), in bulk. Returns how
    many moved. The single-row paths (``_move``, ``_transition``) do the same one at a time."""
    before = dict(model.objects.filter(pk__in=ids).values_list("pk", "status"))
    moving = [pk for pk in ids if before.get(pk) in sources]
    model.objects.filter(pk__in=moving, status__in=sources).update(status=target, **fields)
    event.objects.bulk_create(
        event(**{link: pk}, at=now, by=None, from_status=before[pk], to_status=target, why=why)
        for pk in moving
    )
    return len(moving)
