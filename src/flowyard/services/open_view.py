"""The scheduler's in-memory view of the open instances: loaded once, then advanced by its own changes.

The database stays the truth. The view is (re)loaded from it whenever
something may have changed behind the scheduler's back (a trigger or cancel
through the API, another process's NOTIFY, a leadership change, a failed step,
and at least once per housekeeping period); in between, every change the
scheduler commits through the gateway is applied to the view after its commit
(:class:`~flowyard.services.transitions.Change`), so a step that was woken only
because an attempt ended reads nothing back: its work grows with what changed,
not with the size of the open instances.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from typing import Any

from flowyard.domain.instances import InstanceRecord, TaskInstanceRecord
from flowyard.domain.states import Status
from flowyard.services.transitions import Change
from flowyard.store.instances import TASK_STATE_COLUMNS

log = logging.getLogger("flowyard.scheduler")

_INSTANCE_FIELDS = frozenset(f.name for f in fields(InstanceRecord)) - {"tasks", "id"}
_TASK_FIELDS = frozenset(f.name for f in fields(TaskInstanceRecord)) - {"id"}


class OpenInstances:
    """Open (started, not yet ended) instances with their task instances, by id. One thread uses it."""

    def __init__(self) -> None:
        self._records: dict[str, InstanceRecord] | None = None
        self._task_index: dict[str, dict[str, int]] = {}  # instance id -> task id -> position in tasks
        self._instance_of: dict[str, str] = {}  # task instance id -> its instance's id
        self._dirty: set[str] = set()  # instances changed since they were last advanced
        self._ready: dict[str, set[str]] = {}  # instance id -> its READY task instance ids

    @property
    def loaded(self) -> bool:
        return self._records is not None

    def forget(self) -> None:
        """Drop everything: the next read loads the view again from the database."""
        self._records = None
        self._task_index = {}
        self._instance_of = {}
        self._dirty = set()
        self._ready = {}

    def load(self, records: Iterable[InstanceRecord]) -> None:
        self._records = {}
        self._task_index = {}
        self._instance_of = {}
        self._ready = {}
        for record in records:
            self._put(record)

    def records(self) -> list[InstanceRecord]:
        assert self._records is not None, "the view is not loaded"
        return list(self._records.values())

    def _put(self, record: InstanceRecord) -> None:
        assert self._records is not None
        self._records[record.id] = record
        self._task_index[record.id] = {t.id: i for i, t in enumerate(record.tasks)}
        for t in record.tasks:
            self._instance_of[t.id] = record.id
        self._ready[record.id] = {t.id for t in record.tasks if t.status == Status.READY}
        self._dirty.add(record.id)

    def take_dirty(self) -> list[InstanceRecord]:
        """The instances changed since the last call (all of them after a load): the ones to advance."""
        assert self._records is not None, "the view is not loaded"
        dirty, self._dirty = self._dirty, set()
        return [self._records[i] for i in sorted(dirty) if i in self._records]

    def ready(self) -> list[tuple[InstanceRecord, TaskInstanceRecord]]:
        """Every READY task instance with its instance: the candidates to dispatch."""
        assert self._records is not None, "the view is not loaded"
        found = []
        for instance_id, task_ids in self._ready.items():
            if task_ids:
                record = self._records[instance_id]
                index = self._task_index[instance_id]
                found += [(record, record.tasks[index[t]]) for t in task_ids]
        return found

    def task(self, task_instance_id: str) -> tuple[InstanceRecord, TaskInstanceRecord] | None:
        """A task instance of an open instance, with its instance; None when not in the view."""
        instance_id = self._instance_of.get(task_instance_id)
        if self._records is None or instance_id is None:
            return None
        record = self._records.get(instance_id)
        index = None if record is None else self._task_index[instance_id].get(task_instance_id)
        if record is None or index is None:
            return None
        return record, record.tasks[index]

    def task_state(self, task_instance_id: str) -> dict[str, Any] | None:
        """Every state column of a followed task instance as it now stands (see ChangeSink)."""
        found = self.task(task_instance_id)
        if found is None:
            return None
        task = found[1]
        return {column: getattr(task, column) for column in TASK_STATE_COLUMNS}

    def apply(self, changes: Sequence[Change]) -> None:
        """Apply committed changes; an instance that ended (``ended_at`` set) leaves the view."""
        if self._records is None:
            return
        for change in changes:
            record = self._records.get(change.instance_id)
            if record is None:
                continue  # not open here (yet): the next load brings it
            self._dirty.add(record.id)
            if change.task_instance_id is None:
                values = {k: v for k, v in change.values.items() if k in _INSTANCE_FIELDS}
                record = replace(record, **values)
                if record.ended_at is not None:
                    del self._records[record.id]
                    del self._task_index[record.id]
                    del self._ready[record.id]
                    self._dirty.discard(record.id)
                    for t in record.tasks:
                        self._instance_of.pop(t.id, None)
                    continue
                self._records[record.id] = record
            else:
                self._records[record.id] = self._with_task(record, change.task_instance_id, change.values)
                if "status" in change.values:
                    ready = self._ready[record.id]
                    if change.values["status"] == Status.READY:
                        ready.add(change.task_instance_id)
                    else:
                        ready.discard(change.task_instance_id)

    def _with_task(
        self, record: InstanceRecord, task_instance_id: str, values: dict[str, Any]
    ) -> InstanceRecord:
        index = self._task_index[record.id].get(task_instance_id)
        if index is None:
            log.warning("task %s is not in the open view of %s", task_instance_id, record.id)
            return record
        task = replace(record.tasks[index], **{k: v for k, v in values.items() if k in _TASK_FIELDS})
        tasks = list(record.tasks)
        tasks[index] = task
        return replace(record, tasks=tuple(tasks))
