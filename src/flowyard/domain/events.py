"""Run events: what happened to a flow instance, a task instance or an attempt, as data.

Every state change passes the one gateway (:mod:`flowyard.services.transitions`),
which checks it against :mod:`flowyard.domain.states` and appends one
:class:`RunEvent` in the same transaction. The kinds, and the change each one
stands for (``docs/events.md`` lists their payloads)::

    instance.created     a trigger or a cron tick made an instance (INIT)
    instance.waiting     it waits for upstream premises (WAIT)
    instance.started     it began to run (RUNNING)
    instance.succeeded   SUCCESS            instance.failed     FAIL
    instance.cancelled   CANCEL (by a user) instance.finished   every task settled: ended_at is set
    task.ready           its upstreams are done; waits for a slot or its retry time
    task.started         an attempt was dispatched (RUNNING)
    task.succeeded       SUCCESS            task.failed         FAIL (no retries left, or it could not start)
    task.timed_out       TIMEOUT            task.cancelled      CANCEL
    task.skipped         SKIP (the instance ended first, or outside a from-task selection)
    task.retrying        an attempt failed and a retry is scheduled (RUNNING → READY)
    attempt.ended        an attempt's result was recorded (exactly once per attempt)

Kinds are stable names: subscribers (alerts, the console's live views, backfills)
match on them, and they are stored as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from flowyard.domain.states import Status


class EventKind(StrEnum):
    INSTANCE_CREATED = "instance.created"
    INSTANCE_WAITING = "instance.waiting"
    INSTANCE_STARTED = "instance.started"
    INSTANCE_SUCCEEDED = "instance.succeeded"
    INSTANCE_FAILED = "instance.failed"
    INSTANCE_CANCELLED = "instance.cancelled"
    INSTANCE_FINISHED = "instance.finished"
    TASK_READY = "task.ready"
    TASK_STARTED = "task.started"
    TASK_SUCCEEDED = "task.succeeded"
    TASK_FAILED = "task.failed"
    TASK_TIMED_OUT = "task.timed_out"
    TASK_CANCELLED = "task.cancelled"
    TASK_SKIPPED = "task.skipped"
    TASK_RETRYING = "task.retrying"
    ATTEMPT_ENDED = "attempt.ended"

    @property
    def terminal(self) -> bool:
        """True for the kinds that end an instance's or a task's run (what alerts react to)."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {
        EventKind.INSTANCE_SUCCEEDED,
        EventKind.INSTANCE_FAILED,
        EventKind.INSTANCE_CANCELLED,
        EventKind.TASK_SUCCEEDED,
        EventKind.TASK_FAILED,
        EventKind.TASK_TIMED_OUT,
        EventKind.TASK_CANCELLED,
        EventKind.TASK_SKIPPED,
    }
)

_INSTANCE_KINDS = {
    Status.INIT: EventKind.INSTANCE_CREATED,
    Status.WAIT: EventKind.INSTANCE_WAITING,
    Status.RUNNING: EventKind.INSTANCE_STARTED,
    Status.SUCCESS: EventKind.INSTANCE_SUCCEEDED,
    Status.FAIL: EventKind.INSTANCE_FAILED,
    Status.CANCEL: EventKind.INSTANCE_CANCELLED,
    Status.INTERNAL_ERROR: EventKind.INSTANCE_FAILED,
}

_TASK_KINDS = {
    Status.READY: EventKind.TASK_READY,
    Status.RUNNING: EventKind.TASK_STARTED,
    Status.SUCCESS: EventKind.TASK_SUCCEEDED,
    Status.FAIL: EventKind.TASK_FAILED,
    Status.INTERNAL_ERROR: EventKind.TASK_FAILED,
    Status.TIMEOUT: EventKind.TASK_TIMED_OUT,
    Status.CANCEL: EventKind.TASK_CANCELLED,
    Status.SKIP: EventKind.TASK_SKIPPED,
}


def instance_event_kind(new: Status) -> EventKind:
    return _INSTANCE_KINDS[new]


def task_event_kind(old: Status, new: Status) -> EventKind:
    """The kind of a task-instance change; RUNNING → READY is a retry, not a first readiness."""
    if old == Status.RUNNING and new == Status.READY:
        return EventKind.TASK_RETRYING
    return _TASK_KINDS[new]


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One change, as subscribers and readers of the event table see it.

    ``id`` is the event table's id (a cursor for readers in other processes); it is 0 for an event
    handed to in-process subscribers, which get events in commit order. ``payload`` holds plain
    JSON values (see ``docs/events.md``).
    """

    kind: EventKind
    at: datetime
    org_id: str
    flow_id: int
    instance_id: str
    task_instance_id: str | None = None
    attempt_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    id: int = 0
