"""The one gateway every run state change passes, and the subscribers told after the commit.

A :class:`RunChanges` wraps one transaction. Each change of a flow instance, a
task instance or an attempt goes through one of its methods, which

1. checks the change against the transition table (:mod:`flowyard.domain.states`),
   raising :class:`~flowyard.domain.states.TransitionError` for an illegal one;
2. writes it (one UPDATE);
3. buffers a :class:`~flowyard.domain.events.RunEvent`.

When the transaction commits, the buffered events are appended to the event
table in one statement just before the commit (so they exist exactly when the
change does) and, after it, handed to the :class:`EventBus` subscribers of this
process. A subscriber that raises is logged and skipped: it never breaks a run.
Savepoints (:meth:`RunChanges.savepoint`) drop the events of a part that rolls back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.events import EventKind, RunEvent, instance_event_kind, task_event_kind
from flowyard.domain.instances import InstanceRecord, TaskInstanceRecord
from flowyard.domain.states import Status, check_transition
from flowyard.store import attempts as attempt_store
from flowyard.store import events as event_store
from flowyard.store import instances as store
from flowyard.store.db import transaction

log = logging.getLogger("flowyard.events")

Subscriber = Callable[[RunEvent], None]


class EventBus:
    """In-process subscribers of run events, called in commit order after each commit.

    Subscribers run on the thread that committed (usually the scheduler's), so they must be
    quick: hand real work (sending mail, say) to a thread or queue of their own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscriber, ...] = ()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` for every event from now on; returns the function that unsubscribes."""
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    def publish(self, events: Sequence[RunEvent]) -> None:
        subscribers = self._subscribers
        if not subscribers:
            return
        for event in events:
            for subscriber in subscribers:
                try:
                    subscriber(event)
                except Exception:  # a subscriber's bug must never break a run
                    log.exception("run event subscriber %r failed on %s", subscriber, event.kind)


@dataclass(frozen=True, slots=True)
class Change:
    """A committed change, as the scheduler's in-memory view applies it: the fields written, by name."""

    instance_id: str
    task_instance_id: str | None  # None: a change of the instance itself
    values: dict[str, Any]


class ChangeSink(Protocol):
    """Who follows the changes as they are made (the scheduler's in-memory view of open instances)."""

    def apply(self, changes: Sequence[Change]) -> None: ...

    def forget(self) -> None: ...

    def task_state(self, task_instance_id: str) -> dict[str, Any] | None:
        """Every state column of a task instance as it now stands, or None when not followed."""
        ...


@dataclass(frozen=True, slots=True)
class InstanceRef:
    """What an event needs to know of the instance a change belongs to."""

    id: str
    org_id: str
    flow_id: int


def ref_of(record: InstanceRecord) -> InstanceRef:
    return InstanceRef(record.id, record.org_id, record.flow_id)


class RunChanges:
    """The state changes of one transaction; see the module docstring."""

    def __init__(self, session: Session, now: datetime, sink: ChangeSink | None = None) -> None:
        self.session = session
        self.now = now
        self.events: list[RunEvent] = []
        self.changes: list[Change] = []
        self._sink = sink
        # Writes of task and instance rows, merged per row until written: a task that becomes
        # READY and then RUNNING in one step is one UPDATE.
        self._tasks: dict[str, dict[str, Any]] = {}
        self._instances: dict[str, dict[str, Any]] = {}

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part that may fail alone: its writes and its events are both dropped if it raises."""
        self.write()
        mark, changed = len(self.events), len(self.changes)
        try:
            with self.session.begin_nested():
                yield
                self.write()
        except BaseException:
            self._tasks.clear()
            self._instances.clear()
            del self.events[mark:]
            del self.changes[changed:]
            if self._sink is not None:
                self._sink.forget()  # it followed changes that are now undone
            raise

    def _change(self, change: Change) -> None:
        self.changes.append(change)
        pending = self._instances if change.task_instance_id is None else self._tasks
        key = change.instance_id if change.task_instance_id is None else change.task_instance_id
        pending.setdefault(key, {}).update(change.values)
        if self._sink is not None:
            self._sink.apply((change,))

    def write(self) -> None:
        """Write the merged row changes now (before reading those rows back in this transaction)."""
        rows = []
        for task_id, values in self._tasks.items():
            # Written whole when the view knows the row: every task of a step then has the same
            # columns, and one executemany writes them all.
            whole = self._sink.task_state(task_id) if self._sink is not None else None
            rows.append((task_id, whole if whole is not None else values))
        store.update_tasks(self.session, rows)
        for instance_id, values in self._instances.items():
            store.update_instance(self.session, instance_id, **values)
        self._tasks.clear()
        self._instances.clear()

    def _emit(
        self,
        kind: EventKind,
        ref: InstanceRef,
        *,
        task_instance_id: str | None = None,
        attempt_id: str | None = None,
        **payload: Any,
    ) -> None:
        self.events.append(
            RunEvent(
                kind=kind,
                at=self.now,
                org_id=ref.org_id,
                flow_id=ref.flow_id,
                instance_id=ref.id,
                task_instance_id=task_instance_id,
                attempt_id=attempt_id,
                payload=payload,
            )
        )

    # --- flow instances ---------------------------------------------------------------------------

    def created(self, record: InstanceRecord) -> None:
        """A new instance with its task instances (INIT, or SKIP outside a from-task selection)."""
        store.insert(self.session, record)
        self._emit(
            EventKind.INSTANCE_CREATED,
            ref_of(record),
            status=int(record.status),
            flowName=record.flow_name,
            triggerKind=record.trigger_kind,
            triggerAt=record.trigger_at.isoformat(),
            calDt=record.cal_dt.isoformat(),
            type=record.type,
        )

    def instance(self, ref: InstanceRef, old: Status, new: Status, **values: Any) -> None:
        """Move an instance from ``old`` to ``new`` (checked), writing ``values`` with it."""
        check_transition("flow", old, new)
        self._change(Change(ref.id, None, {"status": new, "updated_at": self.now, **values}))
        extra = {"message": values["message"]} if "message" in values else {}
        self._emit(instance_event_kind(new), ref, status=int(new), previous=int(old), **extra)

    def instance_finished(self, ref: InstanceRef, status: Status) -> None:
        """Every task of an ended instance has settled: stamp ``ended_at``."""
        self._change(Change(ref.id, None, {"ended_at": self.now, "updated_at": self.now}))
        self._emit(EventKind.INSTANCE_FINISHED, ref, status=int(status))

    def instance_values(self, ref: InstanceRef, **values: Any) -> None:
        """Write fields of an instance that are not its state (a waiting message, say): no event."""
        self._change(Change(ref.id, None, {"updated_at": self.now, **values}))

    # --- task instances ---------------------------------------------------------------------------

    def task(
        self,
        ref: InstanceRef,
        task: TaskInstanceRecord,
        new: Status,
        *,
        old: Status | None = None,
        **values: Any,
    ) -> None:
        """Move a task instance from its status (or ``old``) to ``new`` (checked), writing ``values``."""
        previous = task.status if old is None else old
        check_transition("task", previous, new)
        self._change(Change(ref.id, task.id, {"status": new, "updated_at": self.now, **values}))
        payload: dict[str, Any] = {
            "status": int(new),
            "previous": int(previous),
            "taskId": task.task_id,
            "taskName": task.name,
            "runNum": values.get("run_num", task.run_num),
        }
        for key, name in (("exit_code", "exitCode"), ("message", "message")):
            if key in values:
                payload[name] = values[key]
        if values.get("next_attempt_at") is not None:
            payload["nextAttemptAt"] = values["next_attempt_at"].isoformat()
        self._emit(task_event_kind(previous, new), ref, task_instance_id=task.id, **payload)

    # --- attempts ---------------------------------------------------------------------------------

    def attempt_done(
        self,
        ref: InstanceRef,
        task_instance_id: str,
        attempt_id: str,
        *,
        run_num: int,
        outcome: str,
        exit_code: int | None,
        message: str,
        ended_at: datetime,
        started_at: datetime | None = None,
    ) -> bool:
        """Record how an attempt ended; False (and no event) when it was recorded before."""
        if not attempt_store.finish(
            self.session,
            attempt_id,
            outcome=outcome,
            exit_code=exit_code,
            message=message,
            now=ended_at,
            started_at=started_at,
        ):
            return False
        self._emit(
            EventKind.ATTEMPT_ENDED,
            ref,
            task_instance_id=task_instance_id,
            attempt_id=attempt_id,
            runNum=run_num,
            outcome=outcome,
            exitCode=exit_code,
            message=message,
        )
        return True

    def flush(self) -> None:
        self.write()
        event_store.append(self.session, self.events)


@contextmanager
def run_changes(
    sessions: sessionmaker[Session], bus: EventBus, now: datetime, sink: ChangeSink | None = None
) -> Iterator[RunChanges]:
    """One transaction of run changes, with their events; subscribers are told after the commit.

    ``sink`` (the scheduler's view) follows each change as it is made; when the transaction does
    not commit, it is told to forget what it followed.
    """
    try:
        with transaction(sessions) as session:
            changes = RunChanges(session, now, sink)
            yield changes
            changes.flush()
    except BaseException:
        if sink is not None:
            sink.forget()
        raise
    bus.publish(changes.events)
