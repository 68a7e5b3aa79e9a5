"""The scheduler loop: read the clock, call the run services, drive the executor, sleep.

:meth:`Scheduler.step` is one pass with ``now`` given; the thread in
:meth:`Scheduler.run` calls it whenever something happened (a trigger, an
attempt ended) or a timer is due, reading the clock only there. Decisions are
the pure core's and every transaction is a service's
(:class:`~flowyard.services.instances.InstanceService`,
:class:`~flowyard.services.attempts.AttemptService`); this module holds no
SQL. Work is claimed in the database before it reaches the executor, so a
crash never runs an attempt twice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol

from flowyard.clock import Clock
from flowyard.domain import planning
from flowyard.executor.base import AttemptResult, Executor, ExecutorFullError, Outcome
from flowyard.executor.codec import encode_spec
from flowyard.executor.exits import exit_record_path
from flowyard.executor.recovery import OWNER_VARIABLE, recover_attempts
from flowyard.scheduler.metrics import SchedulerMetrics
from flowyard.services.attempts import AttemptRow, AttemptService, Launch
from flowyard.services.background import Quiet
from flowyard.services.instances import InstanceRecord, InstanceService, TaskInstanceRecord
from flowyard.services.launch import build_attempt
from flowyard.services.leadership import Leadership
from flowyard.services.transitions import RunChanges

log = logging.getLogger("flowyard.scheduler")

IDLE_WAKE = timedelta(seconds=1)
INTERRUPTED = "interrupted: the Flowyard server stopped while it ran"


@dataclass
class SchedulerConfig:
    owner: str  # identifies this scheduler's attempts in the database
    zone: tzinfo
    work_dir: Path
    idle_wake: timedelta = IDLE_WAKE
    # A running attempt of another owner (a worker, a dead server) silent for this long is lost.
    lost_after: timedelta = timedelta(seconds=30)


@dataclass
class _Plan:
    """What a step starts, what it could not, and when the next retry is due."""

    retry_at: datetime | None = None
    launches: list[Launch] = field(default_factory=list)
    unbuildable: list[tuple[InstanceRecord, TaskInstanceRecord, str]] = field(default_factory=list)


class Companion(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class Scheduler:
    def __init__(
        self,
        instances: InstanceService,
        attempts: AttemptService,
        leadership: Leadership,
        executor: Executor,
        clock: Clock,
        config: SchedulerConfig,
    ) -> None:
        self.instances = instances
        self.attempts = attempts
        self._leadership = leadership
        self._executor = executor
        self._clock = clock
        self._config = config
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._new_work = True
        self._housekeeping_at = datetime.min.replace(tzinfo=UTC)
        self._beat_due = datetime.min.replace(tzinfo=UTC)
        self.last_step_at: datetime | None = None
        self.metrics = SchedulerMetrics()
        self._unrecorded: list[AttemptResult] = []
        self._isolate = False  # after a failed step: record each result alone, so a bad one cannot block
        self.companions: list[Companion] = []  # threads that live and die with the loop (listeners)
        self.housekeepers: list[HouseKeeper] = []  # the leader's periodic chores (event purge, ...)

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

    def sleep(self, wait: timedelta) -> None:
        """Wait until woken (a trigger, an attempt ended) or ``wait`` has passed, then re-arm."""
        self._wake.wait(max(wait.total_seconds(), 0.0))
        self._wake.clear()

    def run(self) -> None:
        self._wake.clear()
        report = Quiet(log, "scheduler step")
        while not self._stop.is_set():
            try:
                now = self._clock.now()
                wait = self.step(now) if self.lead(now) else self.follow(now)
                report.succeeded()
            except Exception as error:  # the loop must survive a bad row or a database hiccup
                report.failed(error)
                self.instances.view.forget()  # a change may have failed half-way: read it all again
                self._new_work, self._isolate = True, True
                wait = self._config.idle_wake
            self.sleep(wait)

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
        left = self.attempts.left_running(self._config.owner)
        attempts = [attempt for attempt, _ in left]
        if not attempts:
            return 0
        paths = {a.id: None if log is None else exit_record_path(log, a.run_num) for a, log in left}
        endings = recover_attempts(paths, self._config.owner)
        finished = 0
        for attempt in attempts:
            ending = endings.get(attempt.id)
            if ending is None:
                self._settle_lost(attempt, INTERRUPTED, now)
                continue
            finished += 1
            note = f"attempt {attempt.run_num} ended while the server was not watching"
            self.attempts.note_task(
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
        Recording the ended attempts, advancing the open instances and claiming
        the attempts to start are one transaction; processes start after it
        commits.
        """
        self.last_step_at = now
        next_times: list[datetime | None] = [self._housekeeping_at]
        reload = False
        if self._new_work or now >= self._housekeeping_at:
            # Something may have changed behind this scheduler's back (a trigger, a cancel, another
            # process): read the open instances again; otherwise the in-memory view is current.
            reload, self._new_work = True, False
            self.maintain(now)
            next_times = [self.tick(now), self.start_instances(now)]
            self._housekeeping_at = min(
                [t for t in next_times if t is not None] + [now + self._config.idle_wake]
            )
        self.instances.open_instances(reload=reload)
        results = self._unrecorded + self._executor.results(0.0)
        self._unrecorded = results  # kept until committed: a database hiccup must not lose them
        owner = None if self._remote else self._config.owner
        with self.attempts.changes(now) as changes:
            recorded = self.attempts.record_in(changes, results, isolate=self._isolate)
            advanced = self.instances.advance_in(changes, self.instances.view.take_dirty(), owner=owner)
            plan = self._plan(changes, self.instances.view.ready(), now)
            # Claimed before any process starts: a crash after the commit leaves RUNNING attempts
            # that recovery settles; it never runs one twice.
            self.attempts.claim_in(changes, plan.launches, remote=self._remote)
        self._unrecorded, self._isolate = [], False
        for result in recorded:
            self.metrics.observe(result)
        for record, task, reason in plan.unbuildable:
            self.attempts.note(record.id, task.id, f"Flowyard could not start this task: {reason}\n", now)
        # Kills go out after the commit: a remote cancel writes to the database itself.
        for attempt_id in advanced.to_kill:
            self._executor.cancel(attempt_id)
        if advanced.ended or plan.unbuildable:
            self._new_work = True  # an ended instance may let a queued one of the same flow start
        for launch in plan.launches:
            self._submit(launch, now)
        next_times.append(plan.retry_at)
        due = [t for t in next_times if t is not None]
        wait = min((t - now for t in due), default=self._config.idle_wake)
        return min(max(wait, timedelta(0)), self._config.idle_wake)

    def tick(self, now: datetime) -> datetime | None:
        """Create the instances of due cron ticks; returns the earliest next tick of any flow."""
        return self.instances.tick(now)

    def start_instances(self, now: datetime) -> datetime | None:
        """Move INIT/WAIT instances on (one active instance per flow); returns the next future trigger."""
        return self.instances.start_pending(now)

    def _plan(
        self, changes: RunChanges, ready: list[tuple[InstanceRecord, TaskInstanceRecord]], now: datetime
    ) -> _Plan:
        """The READY tasks to start while the executor has room, best first, and the next retry time."""
        runs = {r.id: r.run(with_tasks=False) for r, _ in ready}  # the planner needs no task list here
        candidates = [(runs[r.id], t.run()) for r, t in ready]
        by_task = {t.id: (r, t) for r, t in ready}
        retries = [t.next_attempt_at for _, t in candidates if t.next_attempt_at and t.next_attempt_at > now]
        plan = _Plan(retry_at=min(retries, default=None))
        chosen = planning.startable(candidates, now, len(candidates))
        free = self._executor.free_cpu()
        busy = bool(self._executor.running())
        for _, task_run in chosen:
            record, task = by_task[task_run.id]
            launch = self._build(changes, record, task, plan, now)
            if launch is None:
                continue
            if launch.spec.cpu > free and (busy or plan.launches):
                break  # admission: the executor is full; the rest waits for a slot
            free -= launch.spec.cpu
            plan.launches.append(launch)
        return plan

    def _submit(self, launch: Launch, now: datetime) -> None:
        """Hand one claimed attempt to the executor; whatever goes wrong ends this attempt alone."""
        try:
            self._executor.submit(launch.spec)
        except ExecutorFullError:
            self.attempts.release(launch, now)
        except Exception as error:  # e.g. a NUL byte the OS refuses: FAIL it, with the reason logged
            reason = f"could not start: {error}"
            log.warning("attempt %s %s", launch.spec.attempt_id, reason)
            self.attempts.note(
                launch.record.id, launch.task.id, f"Flowyard could not start this task: {error}\n", now
            )
            self._unrecorded.append(
                AttemptResult(
                    attempt_id=launch.spec.attempt_id,
                    task_instance_id=launch.task.id,
                    run_num=launch.spec.run_num,
                    outcome=Outcome.FAILED,
                    exit_code=None,
                    message=reason,
                    started_at=now,
                    ended_at=now,
                    pid=None,
                )
            )
            self.attempt_ended()

    def _build(
        self,
        changes: RunChanges,
        record: InstanceRecord,
        task: TaskInstanceRecord,
        plan: _Plan,
        now: datetime,
    ) -> Launch | None:
        """The attempt for a READY task, or None when it cannot start (the task is failed, reason noted)."""
        definition = self.instances.flow_of(record).definition.task(task.name)
        assert definition is not None
        run_num = task.run_num + 1
        log_path = self.attempts.log_path(record.id, task.id)
        try:
            if not self._remote:
                log_path.parent.mkdir(parents=True, exist_ok=True)
            spec, command = build_attempt(
                record,
                task,
                definition,
                run_num=run_num,
                zone=self.instances.zone_of(record),
                now=now,
                log_path=log_path,
                work_root=self._config.work_dir,
            )
            if not self._remote:  # a worker stamps its own name; recovery finds our orphans by ours
                spec = replace(spec, env={**spec.env, OWNER_VARIABLE: self._config.owner})
            encoded = encode_spec(spec) if self._remote else ""
            return Launch(record, task, spec, command, encoded)
        except Exception as error:  # e.g. an unknown ${name}: the task fails, the reason goes to its log
            reason = getattr(error, "message", None) or str(error)
            self.attempts.fail_unbuildable_in(changes, record, task, run_num, reason)
            plan.unbuildable.append((record, task, reason))
            return None

    def collect(self, now: datetime) -> None:
        """Record attempts that ended, all in one transaction (each in its own savepoint)."""
        results = self._unrecorded + self._executor.results(0.0)
        if not results:
            return
        self._unrecorded = results  # kept until committed: a database hiccup must not lose them
        for result in self.attempts.record(results, now):
            self.metrics.observe(result)
        self._unrecorded = []

    def record_result(self, result: AttemptResult, now: datetime) -> None:
        for recorded in self.attempts.record([result], now):
            self.metrics.observe(recorded)
        self.attempt_ended()

    # --- liveness of attempts ---------------------------------------------------------------------

    @property
    def _remote(self) -> bool:
        return self._executor.remote

    def maintain(self, now: datetime) -> None:
        """Heartbeat this process's attempts, settle attempts whose owner went silent, republish."""
        self._heartbeat_own(now)
        self.settle_lost(now)
        self.metrics.republished += self._executor.resend_due(now)
        for keeper in self.housekeepers:
            keeper.run_due(now)

    def _heartbeat_own(self, now: datetime) -> None:
        if self._remote or now < self._beat_due or not self._executor.running():
            return
        self._beat_due = now + self._config.lost_after / 6
        self.attempts.heartbeat(now)

    def settle_lost(self, now: datetime) -> int:
        """Attempts of other owners silent for ``lost_after`` end LOST: retried if retries are left."""
        lost = self.attempts.declare_lost(now, now - self._config.lost_after)
        for item in lost:
            self.metrics.lost += 1
            log.warning("attempt %s %s", item.row.id, item.reason)
            if self._remote:  # a remote executor reports the ended row itself through results()
                self.attempts.note_task(
                    item.row.task_instance_id, f"\n[flowyard] attempt {item.row.run_num} {item.reason}\n", now
                )
            else:
                self._settle_lost(item.row, item.reason, now)
        return len(lost)

    def _settle_lost(self, attempt: AttemptRow, reason: str, now: datetime) -> None:
        """Record an attempt that ended without a result as LOST, with the reason in its task's log."""
        self.attempts.note_task(
            attempt.task_instance_id, f"\n[flowyard] attempt {attempt.run_num} {reason}\n", now
        )
        self.record_result(self.attempts.lost_result(attempt, reason, now), now)


class HouseKeeper:
    """A chore the leading scheduler runs every ``every`` (purging old events, say); never raises."""

    def __init__(self, name: str, every: timedelta, chore: ChoreFn) -> None:
        self.name = name
        self._every = every
        self._chore = chore
        self._due = datetime.min.replace(tzinfo=UTC)

    def run_due(self, now: datetime) -> None:
        if now < self._due:
            return
        self._due = now + self._every
        try:
            self._chore(now)
        except Exception:
            log.exception("%s failed", self.name)


class ChoreFn(Protocol):
    def __call__(self, now: datetime, /) -> object: ...
