"""State machines, declared once per status column, and the one shape of their event logs.

Each machine names its transitions: action -> (the states it may start from, the state it
leads to). ``move`` changes one row its caller has locked; ``move_many`` changes many locked
rows with one conditional UPDATE (the sweeps). Both write one event row per change, in the
same transaction: who, when, from, to, the action and why."""

from collections.abc import Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import models, transaction

# The models whose machine is writing their state right now (in this thread or task).
_moving: ContextVar[frozenset] = ContextVar("hse_states_moving", default=frozenset())


class StateWriteRefused(Exception):
    """Code other than the row's machine tried to write its state: a programming error."""


@contextmanager
def moving(model: type[models.Model]):
    """Lets ``model``'s state be written inside the block: its machine, and test set-ups."""
    token = _moving.set(_moving.get() | {model})
    try:
        yield
    finally:
        _moving.reset(token)


def _check_owner(model, fields) -> None:
    if model.STATE_FIELD in fields and model not in _moving.get():
        raise StateWriteRefused(
            f"{model.__name__}.{model.STATE_FIELD} is written only by its machine"
        )


class OwnedStateQuerySet(models.QuerySet):
    def update(self, **kwargs):
        _check_owner(self.model, kwargs)
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, **kwargs):
        _check_owner(self.model, fields)
        return super().bulk_update(objs, fields, **kwargs)


class OwnedState(models.Model):
    """A row whose state column only its machine writes: an UPDATE, a ``bulk_update`` or
    a ``save`` that changes the state anywhere else raises ``StateWriteRefused``. A new
    row may be made in any state (its machine records how it began)."""

    STATE_FIELD = "status"

    objects = OwnedStateQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        changed = getattr(self, "_stored_state", None) not in (
            None,
            getattr(self, self.STATE_FIELD),
        )
        fields = kwargs.get("update_fields")
        if not self._state.adding and changed and (fields is None or self.STATE_FIELD in fields):
            _check_owner(type(self), {self.STATE_FIELD})
        super().save(*args, **kwargs)
        self._stored_state = getattr(self, self.STATE_FIELD)

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        if fields is None or self.STATE_FIELD in fields:
            self._stored_state = getattr(self, self.STATE_FIELD)

    @classmethod
    def from_db(cls, db, field_names, values):
        row = super().from_db(db, field_names, values)
        row._stored_state = row.__dict__.get(cls.STATE_FIELD)
        return row


class Event(models.Model):
    """Append-only: one change of a row's state."""

    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    action = models.CharField(max_length=30, blank=True)
    why = models.CharField(max_length=200)

    class Meta:
        abstract = True
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}: {self.why}"


class TransitionRefused(Exception):
    """The row is not in a state the action may start from; the message is for people."""


@dataclass(frozen=True)
class Machine:
    transitions: Mapping[str, tuple[tuple[str, ...], str]]
    event: type[Event]
    link: str  # the event's foreign key to the row, e.g. "session"
    error: type[Exception] = TransitionRefused
    refused: str = "This is {state}."  # {state}: the row's state as people read it
    field: str = "status"

    @property
    def model(self) -> type[models.Model]:
        return self.event._meta.get_field(self.link).related_model

    def allows(self, state: str, action: str) -> bool:
        return state in self.transitions[action][0]

    def label(self, state: str) -> str:
        return dict(self.model._meta.get_field(self.field).flatchoices).get(state, state)

    def move(self, row, action: str, *, by=None, now: datetime, why: str, **fields) -> str:
        """Moves a locked ``row`` by ``action`` (also setting ``fields``) and returns the
        state it left; raises ``error`` if the action may not start from its state."""
        sources, target = self.transitions[action]
        before = getattr(row, self.field)
        if before not in sources:
            raise self.error(self.refused.format(state=self.label(before).lower()))
        setattr(row, self.field, target)
        for name, value in fields.items():
            setattr(row, name, value)
        with moving(self.model):
            row.save(update_fields=[self.field, *fields])
        self.event.objects.create(
            **{self.link: row}, at=now, by=by, from_status=before, to_status=target,
            action=action, why=why,
        )  # fmt: skip
        return before

    def record(self, row, action: str, *, by=None, now: datetime, why: str) -> None:
        """The event of a row just made in its first state (``action`` from nothing)."""
        self.event.objects.create(
            **{self.link: row}, at=now, by=by, from_status="",
            to_status=getattr(row, self.field), action=action, why=why,
        )  # fmt: skip

    def move_many(
        self, ids, action: str, *, by=None, now: datetime, why: str, **fields
    ) -> list[int]:
        """Moves the rows ``ids`` (locked by the caller) that are in a state ``action`` may
        start from, with one conditional UPDATE (setting ``fields`` too), and records their
        events in bulk. Returns the ids that moved; the others are left as they are."""
        sources, target = self.transitions[action]
        with transaction.atomic(savepoint=False), moving(self.model):
            # Locked here too, so the events name exactly the rows the UPDATE changes.
            rows = self.model.objects.select_for_update().filter(pk__in=ids).order_by("pk")
            before = dict(rows.values_list("pk", self.field))
            changing = [pk for pk in ids if before.get(pk) in sources]
            if not changing:
                return []
            self.model.objects.filter(pk__in=changing, **{f"{self.field}__in": sources}).update(
                **{self.field: target}, **fields
            )
            self._log_many(changing, before, target, action, by=by, now=now, why=why)
        return changing

    def _log_many(self, ids, before, target, action, *, by, now, why) -> None:
        self.event.objects.bulk_create(
            self.event(
                **{f"{self.link}_id": pk},
                at=now,
                by=by,
                from_status=before[pk],
                to_status=target,
                action=action,
                why=why,
            )
            for pk in ids
        )
