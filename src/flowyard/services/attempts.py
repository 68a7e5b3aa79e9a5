"""The scheduler's attempt use cases: claim before dispatch, record results, settle what was lost.

Work is claimed in the database before it reaches the executor, so a crash
never runs an attempt twice: a local attempt is committed ``running`` under
this scheduler's owner name, a remote one ``queued`` for a worker to claim.
Every result, whoever reports it (the executor, a worker through the
database, a lost-attempt sweep, crash recovery), is recorded through
:meth:`AttemptService.record`, which settles the attempt exactly once
(``attempt.ended``) and moves its task instance through the gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain import planning
from flowyard.domain.attempts import AttemptResult, AttemptSpec, Outcome
from flowyard.domain.instances import InstanceRecord, TaskInstanceRecord
from flowyard.domain.states import Status
from flowyard.errors import FlowyardError
from flowyard.services.open_view import OpenInstances
from flowyard.services.task_logs import TaskLogs, log_file
from flowyard.services.transitions import EventBus, InstanceRef, RunChanges, ref_of, run_changes
from flowyard.store import attempts as attempt_store
from flowyard.store import instances as store
from flowyard.store.attempts import AttemptRow
from flowyard.store.db import transaction

log = logging.getLogger("flowyard.scheduler")

__all__ = ["AttemptRow", "AttemptService", "Launch", "Lost"]


@dataclass(frozen=True, slots=True)
class Launch:
    """A READY task instance with the attempt built for it."""

    record: InstanceRecord
    task: TaskInstanceRecord
    spec: AttemptSpec
    command: str  # the command as the user wrote it, after substitution (shown by the API)
    encoded: str = ""  # the spec as a worker reads it back (remote executors only)


@dataclass(frozen=True, slots=True)
class Lost:
    """An attempt whose owner went silent and that was just declared lost."""

    row: AttemptRow
    reason: str


class AttemptService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        bus: EventBus,
        logs: TaskLogs,
        log_dir: Path,
        owner: str,
        view: OpenInstances | None = None,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._view = view  # the scheduler's view of open instances, kept current by every change
        self.logs = logs
        self._log_dir = log_dir
        self.owner = owner  # this scheduler's name on the attempts it runs itself

    def log_path(self, flow_instance_id: str, task_instance_id: str) -> Path:
        """Where a local attempt's output goes (workers map it under their own log root)."""
        return log_file(self._log_dir, flow_instance_id, task_instance_id)

    def changes(self, now: datetime) -> AbstractContextManager[RunChanges]:
        """One transaction of run changes that keeps the scheduler's view current (a step's unit)."""
        return run_changes(self._sessions, self._bus, now, self._view)

    # --- dispatch ---------------------------------------------------------------------------------

    def claim_in(self, changes: RunChanges, launches: Sequence[Launch], *, remote: bool) -> None:
        """Commit every attempt (and its task instance RUNNING) in the caller's transaction, a step's;
        nothing may start before it commits."""
        now = changes.now
        for launch in launches:
            spec, task = launch.spec, launch.task
            if remote:
                attempt_store.add_queued(
                    changes.session,
                    spec.attempt_id,
                    task.id,
                    spec.run_num,
                    queue=spec.queue,
                    spec=launch.encoded,
                    now=now,
                )
            else:
                attempt_store.add_running(
                    changes.session, spec.attempt_id, task.id, spec.run_num, self.owner, now
                )
            changes.task(
                ref_of(launch.record),
                task,
                Status.RUNNING,
                run_num=spec.run_num,
                next_attempt_at=None,
                started_at=task.started_at or now,
                command=launch.command,
            )

    def fail_unbuildable_in(
        self, changes: RunChanges, record: InstanceRecord, task: TaskInstanceRecord, run_num: int, reason: str
    ) -> None:
        """A READY task whose attempt cannot even be built (an unknown ``${name}``) fails, alone; the
        caller writes the reason to its log once the transaction committed."""
        changes.task(ref_of(record), task, Status.FAIL, run_num=run_num, ended_at=changes.now, message=reason)

    def release(self, launch: Launch, now: datetime) -> None:
        """The executor had no room after all: the attempt never started and its task is READY again."""
        with self.changes(now) as changes:
            changes.attempt_done(
                ref_of(launch.record),
                launch.task.id,
                launch.spec.attempt_id,
                run_num=launch.spec.run_num,
                outcome="unstarted",
                exit_code=None,
                message="",
                ended_at=now,
            )
            changes.write()
            running = store.get_task(changes.session, launch.task.id)
            assert running is not None
            changes.task(ref_of(launch.record), running, Status.READY, run_num=launch.spec.run_num - 1)

    # --- results ----------------------------------------------------------------------------------

    def record(self, results: Sequence[AttemptResult], now: datetime) -> list[AttemptResult]:
        """Record ended attempts in one transaction, each in its own savepoint; returns those recorded.

        An attempt already recorded (a duplicate report) is skipped. One that cannot be recorded is
        logged and skipped, so it never holds the others back.
        """
        with self.changes(now) as changes:
            return self.record_in(changes, results, isolate=True)

    def record_in(
        self, changes: RunChanges, results: Sequence[AttemptResult], *, isolate: bool
    ) -> list[AttemptResult]:
        """:meth:`record` inside the caller's transaction.

        Without ``isolate`` the results share the transaction with no savepoint each (the fast
        path): one that cannot be recorded fails the whole transaction, and the caller records the
        same results again with ``isolate``, where a bad one is logged and skipped alone.
        """
        recorded: list[AttemptResult] = []
        for result in results:
            if not isolate:
                if self._record(changes, result):
                    recorded.append(result)
                continue
            try:
                with changes.savepoint():
                    if self._record(changes, result):
                        recorded.append(result)
            except FlowyardError:
                log.exception("could not record attempt %s", result.attempt_id)
        return recorded

    def _task(
        self, changes: RunChanges, result: AttemptResult
    ) -> tuple[InstanceRef, TaskInstanceRecord] | None:
        """The task instance an attempt belongs to: from the scheduler's view, else the database."""
        if self._view is not None:
            found = self._view.task(result.task_instance_id)
            if found is not None:
                return ref_of(found[0]), found[1]
        changes.write()  # the row as this transaction left it
        row = store.get_task_in_org(changes.session, result.task_instance_id)
        if row is None:
            return None
        task, org_id, flow_id = row
        return InstanceRef(task.flow_instance_id, org_id, flow_id), task

    def _record(self, changes: RunChanges, result: AttemptResult) -> bool:
        found = self._task(changes, result)
        if found is None:
            return False
        ref, task = found
        outcome = planning.AttemptOutcome(result.outcome.value)
        if not changes.attempt_done(
            ref,
            task.id,
            result.attempt_id,
            run_num=result.run_num,
            outcome=outcome.value,
            exit_code=result.exit_code,
            message=result.message,
            ended_at=result.ended_at,
            started_at=result.started_at,
        ):
            return False  # reported before: nothing to do twice
        if task.status != Status.RUNNING or task.run_num != result.run_num:
            return True  # the task moved on (cancelled meanwhile): the attempt is settled, nothing else
        decision = planning.decide_attempt_end(task.run(), outcome, result.message, changes.now)
        # The task's times are its processes' own: the first attempt's start (the executor's stamp,
        # not the dispatching step's clock) and the last one's end.
        first: dict[str, Any] = {"started_at": result.started_at} if result.run_num == 1 else {}
        changes.task(
            ref,
            task,
            decision.status,
            next_attempt_at=decision.next_attempt_at,
            exit_code=result.exit_code,
            is_timeout=outcome == planning.AttemptOutcome.TIMEOUT,
            ended_at=None if decision.status == Status.READY else result.ended_at,
            message=decision.message,
            **first,
        )
        return True

    def lost_result(self, row: AttemptRow, reason: str, now: datetime) -> AttemptResult:
        """The result of an attempt that ended without one (its process or owner is gone)."""
        return AttemptResult(
            attempt_id=row.id,
            task_instance_id=row.task_instance_id,
            run_num=row.run_num,
            outcome=Outcome.LOST,
            exit_code=None,
            message=reason,
            started_at=row.started_at or now,
            ended_at=now,
            pid=row.pid,
        )

    # --- liveness ---------------------------------------------------------------------------------

    def running(self, owner: str | None) -> list[AttemptRow]:
        """Running attempts of ``owner`` (None: every queued or running attempt)."""
        with transaction(self._sessions, read_only=True) as session:
            return attempt_store.running_attempts(session, owner)

    def left_running(self, owner: str) -> list[tuple[AttemptRow, Path | None]]:
        """Attempts ``owner`` left running (a crash), each with its task's log file (None: task gone)."""
        with transaction(self._sessions, read_only=True) as session:
            rows = attempt_store.running_attempts(session, owner)
            tasks = {a.id: store.get_task(session, a.task_instance_id) for a in rows}
        return [
            (a, None if (task := tasks[a.id]) is None else self.log_path(task.flow_instance_id, task.id))
            for a in rows
        ]

    def heartbeat(self, now: datetime) -> None:
        with transaction(self._sessions) as session:
            attempt_store.heartbeat(session, self.owner, now)  # no cancels: they go direct

    def declare_lost(self, now: datetime, cutoff: datetime) -> list[Lost]:
        """Attempts of other owners silent since ``cutoff`` end (state ``ended``, outcome LOST)."""
        with transaction(self._sessions, read_only=True) as session:
            silent = attempt_store.stale(session, cutoff, exclude_owner=self.owner)
        lost: list[Lost] = []
        for attempt in silent:
            since = attempt.heartbeat_at.isoformat() if attempt.heartbeat_at else "its start"
            reason = f"lost: no heartbeat from {attempt.owner or 'its worker'} since {since}"
            with transaction(self._sessions) as session:
                if not attempt_store.declare_lost(session, attempt.id, cutoff, reason, now):
                    continue  # it beat or ended meanwhile
                row = attempt_store.get(session, attempt.id)
            if row is not None:
                lost.append(Lost(row, reason))
        return lost

    def note(self, flow_instance_id: str, task_instance_id: str, text: str, now: datetime) -> None:
        """Add a line of Flowyard's own to a task instance's log; a failure to write is only logged."""
        try:
            self.logs.append(flow_instance_id, task_instance_id, text, now)
        except Exception:
            log.exception("could not write to the log of %s", task_instance_id)

    def note_task(self, task_instance_id: str, text: str, now: datetime) -> None:
        """:meth:`note` for a task instance known by id only."""
        with transaction(self._sessions, read_only=True) as session:
            task = store.get_task(session, task_instance_id)
        if task is not None:
            self.note(task.flow_instance_id, task.id, text, now)
