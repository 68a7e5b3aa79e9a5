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
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from flowyard.clock import Clock
from flowyard.domain import planning
from flowyard.domain.cron import parse_cron
from flowyard.domain.flows import Flow, flow_zone, schedule_window
from flowyard.domain.instances import InstanceRun
from flowyard.domain.states import Status, check_transition
from flowyard.domain.ticks import CatchUp, due_ticks, next_tick
from flowyard.errors import FlowyardError
from flowyard.executor.base import AttemptResult, AttemptSpec, Executor, ExecutorFullError, Outcome
from flowyard.executor.codec import encode_spec
from flowyard.executor.exits import exit_record_path
from flowyard.executor.recovery import OWNER_VARIABLE, recover_attempts
from flowyard.scheduler.launch import build_attempt
from flowyard.scheduler.leadership import Leadership
from flowyard.scheduler.metrics import SchedulerMetrics
from flowyard.scheduler.premises import unmet_premises
from flowyard.services.runs import RunService
from flowyard.store import attempts as attempt_store
from flowyard.store import flows as flow_store
from flowyard.store import instances as store
from flowyard.store.db import transaction
from flowyard.store.instances import InstanceRecord, TaskInstanceRecord

log = logging.getLogger("flowyard.scheduler")

IDLE_WAKE = timedelta(seconds=1)


@dataclass
class SchedulerConfig:
    owner: str  # identifies this scheduler's attempts in the database
    zone: tzinfo
    work_dir: Path
    catch_up: CatchUp = CatchUp.LATEST
    idle_wake: timedelta = IDLE_WAKE
    # Leader election among schedulers sharing the database; None = this is the only scheduler.
    lease_ttl: timedelta | None = None
    # A running attempt of another owner (a worker, a dead server) silent for this long is lost.
    lost_after: timedelta = timedelta(seconds=30)


class Companion(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


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
        self._new_work = True
        self._housekeeping_at = datetime.min.replace(tzinfo=UTC)
        self._flows: dict[str, Flow] = {}  # instance id -> parsed snapshot, while the instance is open
        self._leadership = Leadership(sessions, config.owner, config.lease_ttl, config.idle_wake)
        self._beat_due = datetime.min.replace(tzinfo=UTC)
        self.last_step_at: datetime | None = None
        self.metrics = SchedulerMetrics()
        self._unrecorded: list[AttemptResult] = []
        self.companions: list[Companion] = []  # threads that live and die with the loop (listeners)

    # --- the thread -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Something changed (a trigger, a cancel, an edit): look at everything on the next step."""
        self._new_work = True
        self._wake.set()

    def attempt_ended(self) -> None:
        """An attempt ended: the next step only needs to advance open instances."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="flowyard-scheduler", daemon=True)
        self._thread.start()
        for companion in self.companions:
            companion.start()

    def stop(self, timeout: float = 10.0) -> None:
        for companion in self.companions:
            companion.stop()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._remote:  # local attempts are left to finish or to recovery, as after a crash
            self._executor.shutdown(kill=False)
        self._leadership.release()

    @property
    def owner(self) -> str:
        return self._config.owner

    @property
    def is_leader(self) -> bool:
        return self._leadership.leader

    def run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                now = self._clock.now()
                wait = self.step(now) if self.lead(now) else self.follow(now)
            except Exception:  # the loop must survive a bad row or a database hiccup
                log.exception("scheduler step failed")
                wait = self._config.idle_wake
            self._wake.wait(max(wait.total_seconds(), 0.0))

    def lead(self, now: datetime) -> bool:
        """Hold or seek the scheduler lease; True while this scheduler is the leader."""
        leading, became = self._leadership.check(now)
        if became:
            self._new_work = True  # look at everything the previous leader left
        return leading

    def follow(self, now: datetime) -> timedelta:
        """A standby's pass: only its own local attempts still running are heartbeaten and recorded."""
        self.last_step_at = now
        if not self._remote:  # remote results are the leader's to record
            self.collect(now)
            self._heartbeat_own(now)
        return self._config.idle_wake

    def recover(self, now: datetime) -> int:
        """Settle attempts that a previous run of this scheduler left RUNNING (it crashed or stopped).

        An attempt whose process ended meanwhile left an exit record beside its log: it is
        recorded with that real result, as if the server had seen it end. One still running is
        killed, and like one that left no trace it counts as LOST: the task is retried if it has
        retries left and fails otherwise. Either way the log says what happened. Returns the
        number of attempts settled.
        """
        with transaction(self._sessions) as session:
            attempts = store.running_attempts(session, self._config.owner)
            tasks = {a.id: store.get_task(session, a.task_instance_id) for a in attempts}
        if not attempts:
            return 0
        paths = {
            a.id: None
            if (task := tasks[a.id]) is None
            else exit_record_path(self._runs.log_path(task.flow_instance_id, task.id), a.run_num)
            for a in attempts
        }
        endings = recover_attempts(paths, self._config.owner)
        finished = 0
        for attempt in attempts:
            ending = endings.get(attempt.id)
            if ending is None:
                self._settle_lost(attempt, "interrupted: the Flowyard server stopped while it ran", now)
                continue
            finished += 1
            note = f"attempt {attempt.run_num} ended while the server was not watching"
            self._note(
                attempt.task_instance_id,
                f"\n[flowyard] {note}; from its exit record: {ending.message}\n",
                now,
            )
            result = AttemptResult(
                attempt_id=attempt.id,
                task_instance_id=attempt.task_instance_id,
                run_num=attempt.run_num,
                outcome=ending.outcome,
                exit_code=ending.exit_code,
                message=ending.message,
                started_at=attempt.started_at or now,
                ended_at=ending.ended_at,
                pid=ending.pid,
            )
            self.record_result(result, now)
        log.warning(
            "recovered %d task attempts left running: %d had ended, %d were interrupted",
            len(attempts),
            finished,
            len(attempts) - finished,
        )
        return len(attempts)

    # --- one pass ---------------------------------------------------------------------------------

    def step(self, now: datetime) -> timedelta:
        """Do everything that is due at ``now``; returns how long the loop may sleep.

        Ticks and instance starts are looked at when something new happened
        (a trigger, an instance ended) or their time has come; a step woken
        only by a finished attempt skips them, which keeps long chains fast.
        """
        self.last_step_at = now
        self.collect(now)
        next_times: list[datetime | None] = [self._housekeeping_at]
        if self._new_work or now >= self._housekeeping_at:
            self._new_work = False
            self.maintain(now)
            next_times = [self.tick(now), self.start_instances(now)]
            self._housekeeping_at = min(
                [t for t in next_times if t is not None] + [now + self._config.idle_wake]
            )
        with transaction(self._sessions, read_only=True) as session:
            records = store.get_many(session, store.open_instance_ids(session))
        records = self.advance(records, now)
        if any(r.status.final for r in records):
            self._new_work = True  # an ended instance may let a queued one of the same flow start
        next_times.append(self.dispatch(records, now))
        due = [t for t in next_times if t is not None]
        wait = min((t - now for t in due), default=self._config.idle_wake)
        return min(max(wait, timedelta(0)), self._config.idle_wake)

    def tick(self, now: datetime) -> datetime | None:
        """Create the instances of due cron ticks; returns the earliest next tick of any flow."""
        with transaction(self._sessions, read_only=True) as session:
            flow_ids = store.due_periodic_flows(session, now)
        for flow_id in flow_ids:
            with transaction(self._sessions) as session:
                flow = flow_store.load_flow(session, flow_id)
                cursor = store.schedule_cursor(session, flow_id)
            if flow is None or not flow.definition.cron.strip():
                continue
            cron = parse_cron(flow.definition.cron)
            if cursor is None:  # just enabled: its first tick is the next one from now
                cursor = now
            start_date = flow.definition.start_date
            options = flow.definition.options
            zone = flow_zone(options, self._config.zone)
            start_at, end_at = schedule_window(options, self._config.zone)
            floor = cursor if start_at is None else max(cursor, start_at - timedelta(microseconds=1))
            ticks = due_ticks(cron, zone, floor, now, self._config.catch_up, start_date=start_date)
            if end_at is not None:
                ticks = [t for t in ticks if t <= end_at]
            for tick_at in ticks:
                if self._runs.create_tick(flow, tick_at, now):
                    log.info("flow %s: tick %s", flow_id, tick_at.isoformat())
            # The cursor only ever moves to a fire time: Quartz chains each fire time from the previous
            # one, and around DST changes the chain depends on where it starts.
            new_cursor = max([cursor, *ticks])
            upcoming = next_tick(cron, zone, max(new_cursor, floor), start_date)
            if upcoming is None or (end_at is not None and upcoming > end_at):
                upcoming = store.NEVER
            with transaction(self._sessions) as session:
                store.set_schedule(session, flow_id, new_cursor, upcoming)
        with transaction(self._sessions, read_only=True) as session:
            return store.earliest_next_tick(session)

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

    def advance(self, records: list[InstanceRecord], now: datetime) -> list[InstanceRecord]:
        """Ready tasks whose upstreams finished, end instances, skip what will never run, kill cancelled.

        Returns the records as they are after the changes, for :meth:`dispatch`.
        """
        updated: list[InstanceRecord] = []
        with transaction(self._sessions) as session:
            running = (
                store.running_attempts(session, None if self._remote else self._config.owner)
                if any(r.cancelled for r in records)
                else []
            )
            for record in records:
                updated.append(self._advance_one(session, record, now))
        # Kills go out after the commit: a remote cancel writes to the database itself.
        cancelled = {t.id for r in records if r.cancelled for t in r.tasks}
        for attempt in running:
            if attempt.task_instance_id in cancelled:
                self._executor.cancel(attempt.id)
        live = {r.id for r in updated}
        for instance_id in [i for i in self._flows if i not in live]:
            del self._flows[instance_id]  # the snapshot cache follows the open instances
        return updated

    def _advance_one(self, session: Session, record: InstanceRecord, now: datetime) -> InstanceRecord:
        changed: dict[str, Status] = {}
        run = record.run()
        for task_id in planning.newly_ready(run):
            check_transition("task", Status.INIT, Status.READY)
            store.update_task(session, task_id, status=Status.READY, updated_at=now)
            changed[task_id] = Status.READY
        status = record.status
        outcome = planning.instance_outcome(run, self._flow(record).definition.options.failure_strategy)
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
                changed[task_id] = Status.SKIP
        tasks = tuple(replace(t, status=changed[t.id]) if t.id in changed else t for t in record.tasks)
        ended_at = record.ended_at
        settled = replace(run, status=status, tasks=tuple(t.run() for t in tasks))
        if status.final and ended_at is None and planning.instance_finished(settled):
            ended_at = now
            store.update_instance(session, record.id, ended_at=now, updated_at=now)
        return replace(record, status=status, ended_at=ended_at, tasks=tasks)

    def dispatch(self, records: list[InstanceRecord], now: datetime) -> datetime | None:
        """Start READY tasks while the executor has room; returns the earliest pending retry time."""
        candidates = []
        for record in records:
            ready = [t.run() for t in record.tasks if t.status == Status.READY]
            if ready:
                run = record.run()  # once per instance: it holds every task
                candidates += [(run, task) for task in ready]
        by_id = {r.id: r for r in records}
        retries = [t.next_attempt_at for _, t in candidates if t.next_attempt_at and t.next_attempt_at > now]
        chosen = planning.startable(candidates, now, len(candidates))
        free = self._executor.free_cpu()
        busy = bool(self._executor.running())
        specs: list[tuple[TaskInstanceRecord, AttemptSpec, str]] = []
        for inst, task_run in chosen:
            record = by_id[inst.id]
            task = next(t for t in record.tasks if t.id == task_run.id)
            built = self._build(record, task, now)
            if built is None:
                continue
            spec, command = built
            if spec.cpu > free and (busy or specs):
                break  # admission: the executor is full; the rest waits for a slot
            free -= spec.cpu
            specs.append((task, spec, command))
        if not specs:
            return min(retries, default=None)
        # Claim every attempt in one transaction before any process starts: a crash after this
        # point leaves RUNNING attempts that recovery settles; it never runs one twice.
        with transaction(self._sessions) as session:
            for task, spec, command in specs:
                check_transition("task", Status.READY, Status.RUNNING)
                if self._remote:
                    attempt_store.add_queued(
                        session,
                        spec.attempt_id,
                        task.id,
                        spec.run_num,
                        queue=spec.queue,
                        spec=encode_spec(spec),
                        now=now,
                    )
                else:
                    store.add_attempt(
                        session, spec.attempt_id, task.id, spec.run_num, self._config.owner, now
                    )
                store.update_task(
                    session,
                    task.id,
                    status=Status.RUNNING,
                    run_num=spec.run_num,
                    next_attempt_at=None,
                    started_at=task.started_at or now,
                    updated_at=now,
                    command=command,
                )
        for task, spec, _ in specs:
            try:
                self._executor.submit(spec)
            except ExecutorFullError:
                self._release(spec.attempt_id, task.id, spec.run_num - 1, now)
        return min(retries, default=None)

    def _flow(self, record: InstanceRecord) -> Flow:
        flow = self._flows.get(record.id)
        if flow is None:
            flow = self._flows[record.id] = record.flow()
        return flow

    def _build(
        self, record: InstanceRecord, task: TaskInstanceRecord, now: datetime
    ) -> tuple[AttemptSpec, str] | None:
        """The attempt for a READY task, or None when it cannot start (the task is failed, reason logged)."""
        definition = self._flow(record).definition.task(task.name)
        assert definition is not None
        run_num = task.run_num + 1
        log_path = self._runs.log_path(record.id, task.id)
        if not self._remote:
            log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            spec, command = build_attempt(
                record,
                task,
                definition,
                run_num=run_num,
                zone=flow_zone(self._flow(record).definition.options, self._config.zone),
                now=now,
                log_path=log_path,
                work_root=self._config.work_dir,
            )
            if not self._remote:  # a worker stamps its own name; recovery finds our orphans by ours
                spec = replace(spec, env={**spec.env, OWNER_VARIABLE: self._config.owner})
            return spec, command
        except FlowyardError as error:  # e.g. an unknown ${name}: the task fails, the reason goes to its log
            self._runs.logs.append(
                record.id, task.id, f"Flowyard could not start this task: {error.message}\n", now
            )
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
            return None

    def _release(self, attempt_id: str, task_instance_id: str, run_num: int, now: datetime) -> None:
        with transaction(self._sessions) as session:
            store.finish_attempt(
                session, attempt_id, outcome="unstarted", exit_code=None, message="", now=now
            )
            store.update_task(session, task_instance_id, status=Status.READY, run_num=run_num, updated_at=now)

    def collect(self, now: datetime) -> None:
        """Record attempts that ended, all in one transaction (each in its own savepoint)."""
        results = self._unrecorded + self._executor.results(0.0)
        if not results:
            return
        self._unrecorded = results  # kept until committed: a database hiccup must not lose them
        with transaction(self._sessions) as session:
            for result in results:
                try:
                    with session.begin_nested():
                        self._record(session, result, now)
                except FlowyardError:  # one bad row must not hold the others back
                    log.exception("could not record attempt %s", result.attempt_id)
        self._unrecorded = []

    def record_result(self, result: AttemptResult, now: datetime) -> None:
        with transaction(self._sessions) as session:
            self._record(session, result, now)
        self.attempt_ended()

    def _record(self, session: Session, result: AttemptResult, now: datetime) -> None:
        outcome = planning.AttemptOutcome(result.outcome.value)
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
        self.metrics.observe(result)
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

    # --- liveness of attempts ---------------------------------------------------------------------

    @property
    def _remote(self) -> bool:
        return self._executor.remote

    def maintain(self, now: datetime) -> None:
        """Heartbeat this process's attempts, settle attempts whose owner went silent, republish."""
        self._heartbeat_own(now)
        self.settle_lost(now)
        self.metrics.republished += self._executor.resend_due(now)

    def _heartbeat_own(self, now: datetime) -> None:
        if self._remote or now < self._beat_due or not self._executor.running():
            return
        self._beat_due = now + self._config.lost_after / 6
        with transaction(self._sessions) as session:
            attempt_store.heartbeat(session, self._config.owner, now)  # no cancels: they go direct

    def settle_lost(self, now: datetime) -> int:
        """Attempts of other owners silent for ``lost_after`` end LOST: retried if retries are left."""
        cutoff = now - self._config.lost_after
        with transaction(self._sessions, read_only=True) as session:
            silent = attempt_store.stale(session, cutoff, exclude_owner=self._config.owner)
        settled = 0
        for attempt in silent:
            since = attempt.heartbeat_at.isoformat() if attempt.heartbeat_at else "its start"
            reason = f"lost: no heartbeat from {attempt.owner or 'its worker'} since {since}"
            with transaction(self._sessions) as session:
                if not attempt_store.declare_lost(session, attempt.id, cutoff, reason, now):
                    continue  # it beat or ended meanwhile
                row = store.get_attempt(session, attempt.id)
            settled += 1
            self.metrics.lost += 1
            log.warning("attempt %s %s", attempt.id, reason)
            if row is None:
                continue
            if self._remote:  # a remote executor reports the ended row itself through results()
                self._note(row.task_instance_id, f"\n[flowyard] attempt {row.run_num} {reason}\n", now)
            else:
                self._settle_lost(row, reason, now)
        return settled

    def _settle_lost(self, attempt: store.AttemptRow, reason: str, now: datetime) -> None:
        """Record an attempt that ended without a result as LOST, with the reason in its task's log."""
        self._note(attempt.task_instance_id, f"\n[flowyard] attempt {attempt.run_num} {reason}\n", now)
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

    def _note(self, task_instance_id: str, text: str, now: datetime) -> None:
        """Add a line of Flowyard's own to a task instance's log."""
        try:
            with transaction(self._sessions, read_only=True) as session:
                task = store.get_task(session, task_instance_id)
            if task is not None:
                self._runs.logs.append(task.flow_instance_id, task.id, text, now)
        except Exception:
            log.exception("could not write to the log of %s", task_instance_id)


def runs_waiting(runs: list[InstanceRun], instance_id: str) -> tuple[str, ...]:
    return next((r.waiting_for for r in runs if r.id == instance_id), ())
