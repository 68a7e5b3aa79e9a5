"""The scheduler loop: read state, ask the pure core (``flowyard.domain.planning``), persist, dispatch.

:meth:`Scheduler.step` is one pass with ``now`` given; the thread in
:meth:`Scheduler.run` calls it whenever something happened (a trigger, an
attempt ended) or a timer is due, reading the clock only there. Every state
change is checked against the transition table. Work is claimed in the
database before it reaches the executor, so a crash never runs an attempt
twice: :mod:`flowyard.scheduler.recovery` settles what a crash left behind.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from flowyard.clock import Clock
from flowyard.domain import planning
from flowyard.domain.cron import parse_cron
from flowyard.domain.instances import InstanceRun
from flowyard.domain.states import Status, check_transition
from flowyard.domain.ticks import CatchUp, due_ticks, next_tick
from flowyard.errors import FlowyardError
from flowyard.executor.base import AttemptResult, Executor, ExecutorFullError, Outcome
from flowyard.scheduler.launch import build_attempt
from flowyard.scheduler.premises import unmet_premises
from flowyard.scheduler.recovery import kill_orphans
from flowyard.services.runs import RunService
from flowyard.store import flows as flow_store
from flowyard.store import instances as store
from flowyard.store.db import transaction
from flowyard.store.instances import InstanceRecord

log = logging.getLogger("flowyard.scheduler")

IDLE_WAKE = timedelta(seconds=1)


@dataclass
class SchedulerConfig:
    owner: str  # identifies this scheduler's attempts in the database
    zone: tzinfo
    work_dir: Path
    catch_up: CatchUp = CatchUp.LATEST
    idle_wake: timedelta = IDLE_WAKE


@dataclass
class _Running:
    attempts: dict[str, str] = field(default_factory=dict)  # attempt id -> task instance id


class Scheduler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        runs: RunService,
        executor: Executor,
        clock: Clock,
        config: SchedulerConfig,
    ) -> None:
        self._sessions = sessions
        self._runs = runs
        self._executor = executor
        self._clock = clock
        self._config = config
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cron_cache: dict[str, object] = {}

    # --- the thread -------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="flowyard-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self.step(self._clock.now())
            except Exception:  # the loop must survive a bad row or a database hiccup
                log.exception("scheduler step failed")
                wait = self._config.idle_wake
            self._wake.wait(max(wait.total_seconds(), 0.0))

    def recover(self, now: datetime) -> int:
        """Settle attempts that a previous run of this scheduler left RUNNING (it crashed).

        Their processes are killed; each attempt counts as LOST, so the task is
        retried if it has retries left and fails otherwise, with the reason in
        its log. Returns the number of attempts settled.
        """
        with transaction(self._sessions) as session:
            attempts = store.running_attempts(session, self._config.owner)
        if not attempts:
            return 0
        kill_orphans(a.id for a in attempts)
        for attempt in attempts:
            reason = "interrupted: the Flowyard server stopped while it ran"
            with transaction(self._sessions) as session:
                task = store.get_task(session, attempt.task_instance_id)
            if task is not None:
                path = self._runs.log_path(task.flow_instance_id, task.id)
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(f"\n[flowyard] attempt {attempt.run_num} {reason}\n")
            result = AttemptResult(
                attempt_id=attempt.id,
                task_instance_id=attempt.task_instance_id,
                run_num=attempt.run_num,
                outcome=Outcome.LOST,
                exit_code=None,
                message=reason,
                started_at=attempt.started_at or now,
                ended_at=now,
                pid=attempt.pid,
            )
            self.record_result(result, now)
        log.warning("recovered %d interrupted task attempts", len(attempts))
        return len(attempts)

    # --- one pass ---------------------------------------------------------------------------------

    def step(self, now: datetime) -> timedelta:
        """Do everything that is due at ``now``; returns how long the loop may sleep."""
        self.collect(now)
        next_times = [self.tick(now), self.start_instances(now)]
        self.advance(now)
        next_times.append(self.dispatch(now))
        self.collect(now)
        due = [t for t in next_times if t is not None]
        wait = min((t - now for t in due), default=self._config.idle_wake)
        return min(max(wait, timedelta(0)), self._config.idle_wake)

    def tick(self, now: datetime) -> datetime | None:
        """Create the instances of due cron ticks; returns the earliest next tick."""
        earliest: datetime | None = None
        with transaction(self._sessions) as session:
            flow_ids = store.periodic_flow_ids(session)
        for flow_id in flow_ids:
            with transaction(self._sessions) as session:
                flow = flow_store.load_flow(session, flow_id)
                cursor = store.schedule_cursor(session, flow_id)
            if flow is None or not flow.definition.cron.strip():
                continue
            cron = parse_cron(flow.definition.cron)
            if cursor is None:  # just enabled: its first tick is the next one from now
                cursor = now
            ticks = due_ticks(
                cron,
                self._config.zone,
                cursor,
                now,
                self._config.catch_up,
                start_date=flow.definition.start_date,
            )
            for tick_at in ticks:
                if self._runs.create_tick(flow, tick_at, now):
                    log.info("flow %s: tick %s", flow_id, tick_at.isoformat())
            # The cursor only ever moves to a fire time: Quartz chains each fire time from the previous
            # one, and around DST changes the chain depends on where it starts.
            new_cursor = max([cursor, *ticks])
            upcoming = next_tick(cron, self._config.zone, new_cursor, flow.definition.start_date)
            with transaction(self._sessions) as session:
                store.set_schedule(session, flow_id, new_cursor, upcoming)
            if upcoming is not None and (earliest is None or upcoming < earliest):
                earliest = upcoming
        return earliest

    def start_instances(self, now: datetime) -> datetime | None:
        """Move INIT/WAIT instances on (one active instance per flow); returns the next future trigger."""
        with transaction(self._sessions) as session:
            pending = store.pending(session)
            active = store.active_flow_ids(session)
            runs: list[InstanceRun] = []
            for record in pending:
                waiting: tuple[str, ...] = ()
                if record.trigger_kind == "schedule" and record.trigger_at <= now:
                    waiting = unmet_premises(session, record)
                runs.append(record.run(waiting))
            by_id = {r.id: r for r in pending}
            for start in planning.instances_to_start(runs, active, now):
                record = by_id[start.instance_id]
                check_transition("flow", record.status, start.status)
                values: dict[str, object] = {"status": start.status, "updated_at": now}
                if start.status == Status.RUNNING:
                    values["started_at"] = now
                else:
                    values["message"] = "waiting for upstream: " + ", ".join(runs_waiting(runs, record.id))
                store.update_instance(session, record.id, **values)
        future = [r.trigger_at for r in pending if r.trigger_at > now]
        return min(future, default=None)

    def advance(self, now: datetime) -> None:
        """Ready tasks whose upstreams finished, end instances, skip what will never run, kill cancelled."""
        with transaction(self._sessions) as session:
            records = store.get_many(session, store.open_instance_ids(session))
            for record in records:
                self._advance_one(session, record, now)

    def _advance_one(self, session: Session, record: InstanceRecord, now: datetime) -> None:
        tasks = {t.id: t for t in record.tasks}
        if record.cancelled:
            for attempt in store.running_attempts(session, self._config.owner):
                if attempt.task_instance_id in tasks:
                    self._executor.cancel(attempt.id)
        run = record.run()
        for task_id in planning.newly_ready(run):
            check_transition("task", Status.INIT, Status.READY)
            store.update_task(session, task_id, status=Status.READY, updated_at=now)
        outcome = planning.instance_outcome(run)
        status = record.status
        if outcome is not None:
            check_transition("flow", status, outcome)
            status = outcome
            store.update_instance(session, record.id, status=outcome, updated_at=now)
        if status in (Status.FAIL, Status.CANCEL):
            for task_id in planning.to_skip(replace(run, status=status)):
                store.update_task(
                    session,
                    task_id,
                    status=Status.SKIP,
                    updated_at=now,
                    message="not run: the instance ended",
                )
        if (
            status.final
            and record.ended_at is None
            and not any(t.status == Status.RUNNING for t in record.tasks)
        ):
            store.update_instance(session, record.id, ended_at=now, updated_at=now)

    def dispatch(self, now: datetime) -> datetime | None:
        """Start READY tasks while the executor has room; returns the earliest pending retry time."""
        with transaction(self._sessions) as session:
            records = store.get_many(session, store.open_instance_ids(session))
        candidates = [(r.run(), t.run()) for r in records for t in r.tasks if t.status == Status.READY]
        by_id = {r.id: r for r in records}
        retries = [t.next_attempt_at for _, t in candidates if t.next_attempt_at and t.next_attempt_at > now]
        for inst, task in planning.startable(candidates, now, len(candidates)):
            record = by_id[inst.id]
            if not self._launch(record, task.id, now):
                break
        return min(retries, default=None)

    def _launch(self, record: InstanceRecord, task_instance_id: str, now: datetime) -> bool:
        """Claim and submit one attempt; False when the executor is full."""
        task = next(t for t in record.tasks if t.id == task_instance_id)
        flow = record.flow()
        definition = flow.definition.task(task.name)
        assert definition is not None
        run_num = task.run_num + 1
        log_path = self._runs.log_path(record.id, task.id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            spec = build_attempt(
                record,
                task,
                definition,
                run_num=run_num,
                zone=self._config.zone,
                now=now,
                log_path=log_path,
                work_root=self._config.work_dir,
            )
        except FlowyardError as error:  # e.g. an unknown ${name}: the task fails, the reason goes to its log
            with log_path.open("a", encoding="utf-8") as handle:
                handle.write(f"Flowyard could not start this task: {error.message}\n")
            with transaction(self._sessions) as session:
                check_transition("task", Status.READY, Status.FAIL)
                store.update_task(
                    session,
                    task.id,
                    status=Status.FAIL,
                    run_num=run_num,
                    ended_at=now,
                    updated_at=now,
                    message=error.message,
                )
            self.wake()
            return True
        if spec.cpu > self._executor.free_cpu() and self._executor.running():
            return False
        with transaction(self._sessions) as session:
            check_transition("task", Status.READY, Status.RUNNING)
            store.add_attempt(session, spec.attempt_id, task.id, run_num, self._config.owner, now)
            store.update_task(
                session,
                task.id,
                status=Status.RUNNING,
                run_num=run_num,
                next_attempt_at=None,
                started_at=task.started_at or now,
                updated_at=now,
                command=spec.command,
            )
        try:
            self._executor.submit(spec)
        except ExecutorFullError:
            self._release(spec.attempt_id, task.id, run_num - 1, now)
            return False
        return True

    def _release(self, attempt_id: str, task_instance_id: str, run_num: int, now: datetime) -> None:
        with transaction(self._sessions) as session:
            store.finish_attempt(
                session, attempt_id, outcome="unstarted", exit_code=None, message="", now=now
            )
            store.update_task(session, task_instance_id, status=Status.READY, run_num=run_num, updated_at=now)

    def collect(self, now: datetime) -> None:
        """Record attempts that ended."""
        for result in self._executor.results(0.0):
            self.record_result(result, now)

    def record_result(self, result: AttemptResult, now: datetime) -> None:
        outcome = planning.AttemptOutcome(result.outcome.value)
        with transaction(self._sessions) as session:
            if not store.finish_attempt(
                session,
                result.attempt_id,
                outcome=outcome.value,
                exit_code=result.exit_code,
                message=result.message,
                now=result.ended_at,
            ):
                return  # reported before: nothing to do twice
            task = store.get_task(session, result.task_instance_id)
            if task is None or task.status != Status.RUNNING:
                return
            decision = planning.decide_attempt_end(task.run(), outcome, result.message, now)
            check_transition("task", task.status, decision.status)
            store.update_task(
                session,
                task.id,
                status=decision.status,
                next_attempt_at=decision.next_attempt_at,
                exit_code=result.exit_code,
                is_timeout=outcome == planning.AttemptOutcome.TIMEOUT,
                ended_at=None if decision.status == Status.READY else result.ended_at,
                updated_at=now,
                message=decision.message,
            )
        self.wake()


def runs_waiting(runs: list[InstanceRun], instance_id: str) -> tuple[str, ...]:
    return next((r.waiting_for for r in runs if r.id == instance_id), ())
