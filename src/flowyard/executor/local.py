"""LocalExecutor: attempts as processes on this machine, started and watched by a launcher process.

The task processes are children of this executor's launcher
(:mod:`flowyard.executor.launcher`), a small process started with the
executor, not of the executor itself: the launcher reaps them and writes each
exit status beside the attempt's log before telling the executor, so an
attempt that ends while the server is down (killed with -9, say) is settled
with its real result at the restart instead of running again. ``submit``
sends the launcher one request and returns at once; one reaper thread reads
what the launcher reports, sleeping in epoll on its socket and a wake-up pipe,
so 200 running attempts cost one thread and no polling here. The launcher
starts with the first attempt and is let go after 30 s without a child (the
next attempt starts another, an interpreter start of ~50 ms), so an executor
that runs nothing, like most of those a test suite creates, holds no process.

How an attempt ends, and who decides:

* it exits: SUCCESS if the code is in ``success_codes``, else FAILED;
* its timeout passes: the launcher sends SIGTERM to the group, SIGKILL after
  the grace; TIMEOUT whatever the process does meanwhile;
* its group's summed RSS is over ``memory_limit_mb`` at one of the launcher's
  checks (every 100 ms): SIGKILL at once, since memory grows fast and a grace
  could take the host down; FAILED with a memory message;
* ``cancel``/``shutdown``: the executor asks the launcher for a kill like a
  timeout's, reported CANCELLED. A cancel wins over a kill already under way,
  so ``cancel() is True`` means CANCELLED;
* it cannot be started (its workdir cannot be made, a NUL byte in its command
  or environment, anything else): FAILED with the reason, which is also
  appended to its log as "Flowyard could not start this task: <reason>". Only
  that attempt is affected;
* the launcher itself dies (someone killed it): the attempts it ran are LOST,
  their processes are killed where they can be found (by the
  ``FLOWYARD_ATTEMPT_ID`` and ``FLOWYARD_OWNER`` in their environment), and the
  next ``submit`` starts a new launcher.

An attempt ends when its main process exits. Anything it left in its process
group is then sent SIGKILL, and the result is held until those processes are
gone (at most the kill grace), so a reported attempt has nothing left running
that could overlap a retry or write into the shared log. A process that moved
to its own session escapes this, as it escapes the memory watchdog. Timers use
the monotonic clock, since real processes run in real time; the injected clock
only stamps ``started_at`` and ``ended_at``.

``orphans`` says what the launcher does with running tasks when this executor
dies without :meth:`LocalExecutor.shutdown`: ``FINISH`` (the embedded server)
lets them run to their end and records their exits; ``KILL`` (a worker, whose
attempts are retried elsewhere) kills them at once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import selectors
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowyard.clock import Clock
from flowyard.executor import process
from flowyard.executor.base import (
    AttemptResult,
    AttemptSpec,
    ExecutorClosedError,
    ExecutorError,
    ExecutorFullError,
    Outcome,
    TaskKind,
)
from flowyard.executor.exits import exit_record_path
from flowyard.executor.launcher import LauncherClient, Orphans
from flowyard.executor.recovery import OWNER_VARIABLE, kill_orphans

logger = logging.getLogger(__name__)

CPU_EPSILON = 1e-9  # so 1.0 - 0.6 still admits 0.4
LAUNCHER_DIED = "lost: the task launcher exited while it ran"


@dataclass(slots=True, eq=False)
class _Attempt:
    """An accepted attempt whose result has not been queued yet."""

    spec: AttemptSpec
    started_at: datetime
    launcher: LauncherClient | None = None  # the one it was sent to
    reason: tuple[Outcome, str] | None = None  # why the executor is killing it

    @property
    def uses_cpu(self) -> bool:
        return self.spec.kind is not TaskKind.NOOP


class LocalExecutor:
    """Runs attempts on this machine; see the module docstring for the behaviour.

    ``total_cpu`` defaults to ``os.cpu_count()``. ``on_result`` is called from the reaper thread
    after the result is queued for :meth:`results`, so it can be a mere wake-up for a scheduler
    loop that drains :meth:`results` (which it must: results stay queued until then). It may call
    :meth:`submit` and :meth:`cancel`, not :meth:`shutdown`, and should not block.
    """

    remote = False

    def __init__(
        self,
        clock: Clock,
        total_cpu: float | None = None,
        kill_grace_seconds: float = 5.0,
        on_result: Callable[[AttemptResult], None] | None = None,
        orphans: Orphans = Orphans.FINISH,
    ) -> None:
        self._clock = clock
        self._total_cpu = float(total_cpu if total_cpu is not None else (os.cpu_count() or 1))
        self._grace = kill_grace_seconds
        self._on_result = on_result
        self._orphans = orphans
        self._base_env = process.base_environment(os.environ)
        self._lock = threading.Lock()
        self._results_ready = threading.Condition(self._lock)
        self._attempts: dict[str, _Attempt] = {}
        self._handed_over: list[AttemptResult] = []  # results made outside the reaper, for it to deliver
        self._results: list[AttemptResult] = []
        self._closing = False
        self._released = False
        # Started by the first submit, and retired when it has been idle a while (it says so), so an
        # executor that runs nothing costs no process.
        self._launcher: LauncherClient | None = None
        self._launchers: list[LauncherClient] = []  # not given up yet, the current one last
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._watched: set[LauncherClient] = set()  # reaper thread only
        self._thread = threading.Thread(target=self._reap_loop, name="flowyard-reaper", daemon=True)
        self._thread.start()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown(kill=True)

    # -- the Executor interface --------------------------------------------------------------------

    def submit(self, spec: AttemptSpec) -> None:
        """Start ``spec`` and return; failures to start come back as FAILED results."""
        with self._lock:
            if self._closing:
                raise ExecutorClosedError()
            if spec.attempt_id in self._attempts:
                raise ExecutorError(f"attempt {spec.attempt_id} is already running")
            attempt = _Attempt(spec, self._clock.now())
            if attempt.uses_cpu:
                free = self._free_cpu_locked()
                if spec.cpu > free + CPU_EPSILON and any(a.uses_cpu for a in self._attempts.values()):
                    raise ExecutorFullError(
                        f"attempt {spec.attempt_id} needs {spec.cpu:g} CPU, {free:g} free"
                    )
            self._attempts[spec.attempt_id] = attempt
            try:
                # Sent under the lock, so a cancel (it needs the lock) reaches the launcher after it.
                self._send_spawn_locked(attempt, self._request(spec))
            except Exception as error:  # whatever it is, it ends this attempt only
                reason = process.describe_error(error)
                process.log_start_failure(spec.log_path, reason, spec.log_header)
                self._hand_over_locked(attempt, Outcome.FAILED, f"could not start: {reason}")

    def cancel(self, attempt_id: str) -> bool:
        """Kill a running attempt's group (SIGTERM, SIGKILL after the grace).

        True means the attempt was running and a CANCELLED result will follow; False that it is
        unknown, a noop, or already finished.
        """
        with self._lock:
            attempt = self._attempts.get(attempt_id)
            if attempt is None or not attempt.uses_cpu:
                return False
            self._stop(attempt, Outcome.CANCELLED, "cancelled")
        return True

    def results(self, timeout: float = 0.0) -> list[AttemptResult]:
        """Results queued since the last call, oldest first; waits up to ``timeout`` s for one."""
        with self._results_ready:
            if not self._results and timeout > 0:
                self._results_ready.wait_for(lambda: bool(self._results), timeout)
            results, self._results = self._results, []
        return results

    def running(self) -> list[str]:
        with self._lock:
            return [a.spec.attempt_id for a in self._attempts.values() if a.uses_cpu]

    def free_cpu(self) -> float:
        with self._lock:
            return self._free_cpu_locked()

    def resend_due(self, now: datetime) -> int:
        """Nothing travels through a broker here: nothing to publish again."""
        return 0

    def shutdown(self, kill: bool = True) -> None:
        """Refuse new attempts, then kill (kill=True) or await the running ones; return when all are reported.

        Killed attempts get SIGTERM, then SIGKILL after the grace, and are reported CANCELLED. With
        ``kill=False`` running attempts keep their timeouts and memory limits. The launcher is then
        stopped. Safe to call twice.
        """
        if threading.current_thread() is self._thread:
            raise ExecutorError("shutdown() cannot be called from on_result")
        with self._lock:
            if self._released:
                return
            self._closing = True
            if kill:
                for attempt in self._attempts.values():
                    if attempt.uses_cpu:
                        self._stop(attempt, Outcome.CANCELLED, "cancelled: executor shut down")
            self._wake()
        self._thread.join()
        launchers: list[LauncherClient] = []
        with self._lock:  # every wake() runs under the lock, so none can hit a closed (or reused) fd
            if not self._released:  # another thread's shutdown may have got here first
                self._released = True
                launchers, self._launchers = self._launchers, []
                self._selector.close()
                os.close(self._wake_r)
                os.close(self._wake_w)
        for launcher in launchers:
            launcher.close()

    # -- used by submit/cancel/shutdown, under the lock ----------------------------------------------

    def _request(self, spec: AttemptSpec) -> dict[str, Any]:
        """The launcher's spawn request for ``spec``; raises ValueError for what exec would refuse."""
        argv: list[str] | None = None
        env: dict[str, str] = {}
        if spec.kind is not TaskKind.NOOP:
            argv, env = process.argv_for(spec), process.attempt_environment(self._base_env, spec)
            process.check_spawnable(argv, env)
        return {
            "op": "spawn",
            "id": spec.attempt_id,
            "argv": argv,
            "env": env,
            "cwd": os.fspath(spec.workdir),
            "log": os.fspath(spec.log_path),
            "header": spec.log_header,
            "file": process.task_file(spec),
            "codes": sorted(spec.success_codes),
            "record": os.fspath(exit_record_path(spec.log_path, spec.run_num)),
            "timeout": spec.timeout_seconds,
            "memory_mb": spec.memory_limit_mb,
        }

    def _send_spawn_locked(self, attempt: _Attempt, request: dict[str, Any]) -> None:
        """Send to the current launcher, starting one if there is none or it died (once)."""
        for last_try in (False, True):
            launcher = self._launcher
            if launcher is None or launcher.dead:
                launcher = self._launcher = LauncherClient(self._orphans, self._grace)
                self._launchers.append(launcher)
                self._wake()  # for the reaper to watch it
            try:
                launcher.send(request)
            except OSError:
                launcher.dead = True
                if last_try:
                    raise
                continue
            attempt.launcher = launcher
            return

    def _idle_locked(self) -> bool:
        """Shut down with nothing left to report: the reaper may stop."""
        return self._closing and not (self._attempts or self._handed_over)

    def _free_cpu_locked(self) -> float:
        return self._total_cpu - math.fsum(a.spec.cpu for a in self._attempts.values() if a.uses_cpu)

    def _stop(self, attempt: _Attempt, outcome: Outcome, message: str) -> None:
        """Record why the attempt is being killed and ask its launcher to kill it; call with the lock held.

        The first reason is kept, except that a cancel replaces any. The launcher only signals a
        group whose leader it has not reaped, and ignores an attempt that has already ended.
        """
        if attempt.reason is None or outcome is Outcome.CANCELLED:
            attempt.reason = (outcome, message)
        if attempt.launcher is None:
            return
        with contextlib.suppress(OSError):  # a dead launcher: the reaper reports the attempt lost
            attempt.launcher.send(
                {
                    "op": "stop",
                    "id": attempt.spec.attempt_id,
                    "outcome": outcome.value,
                    "message": message,
                    "now": False,  # SIGTERM first; the launcher escalates after the grace
                }
            )

    def _hand_over_locked(self, attempt: _Attempt, outcome: Outcome, message: str) -> None:
        """Queue the result of an attempt that never reached a launcher, for the reaper to deliver.

        Delivering from the reaper keeps on_result on one thread, never the submitter's.
        """
        del self._attempts[attempt.spec.attempt_id]
        self._handed_over.append(self._result(attempt, outcome, None, message, None))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"x")  # a full pipe already means "wake up"

    def _result(
        self, attempt: _Attempt, outcome: Outcome, exit_code: int | None, message: str, pid: int | None
    ) -> AttemptResult:
        spec = attempt.spec
        if attempt.reason is not None:  # the executor's reason for killing it wins
            outcome, message = attempt.reason
        return AttemptResult(
            attempt_id=spec.attempt_id,
            task_instance_id=spec.task_instance_id,
            run_num=spec.run_num,
            outcome=outcome,
            exit_code=exit_code,
            message=message,
            started_at=attempt.started_at,
            ended_at=self._clock.now(),
            pid=pid,
        )

    # -- the reaper thread ---------------------------------------------------------------------------

    def _reap_loop(self) -> None:
        try:
            while self._reap_once():
                pass
        except BaseException:
            logger.exception("executor reaper thread died; running attempts will not be reported")
            raise

    def _reap_once(self) -> bool:
        """One turn: wait, take the launchers' reports, deliver; False when idle and shut down."""
        self._watch_launchers()
        received: list[tuple[LauncherClient, list[dict[str, Any]] | None]] = []
        with self._lock:
            wait = 0.0 if self._handed_over or self._idle_locked() else None
        for key, _ in self._selector.select(wait):
            if key.fd == self._wake_r:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self._wake_r, 4096):
                        pass
            else:
                launcher: LauncherClient = key.data
                received.append((launcher, launcher.receive()))
        gone: list[LauncherClient] = []
        with self._lock:
            done, self._handed_over = self._handed_over, []
            for launcher, messages in received:
                if messages is None:
                    gone.append(launcher)
                    self._launchers.remove(launcher)
                    done += self._lost_with_locked(launcher)
                    continue
                for message in messages:
                    if message["op"] == "idle":
                        self._retire_if_idle_locked(launcher)
                        continue
                    attempt = self._attempts.pop(message["id"], None)
                    if attempt is None:
                        logger.error("the launcher reported unknown attempt %s", message["id"])
                        continue
                    outcome, code = Outcome(message["outcome"]), message["exit_code"]
                    done.append(self._result(attempt, outcome, code, message["message"], message["pid"]))
        for launcher in gone:
            self._selector.unregister(launcher)
            self._watched.discard(launcher)
            launcher.discard()
        self._deliver(done)
        with self._lock:
            return not self._idle_locked()

    def _retire_if_idle_locked(self, launcher: LauncherClient) -> None:
        """The launcher has had no child for a while: let it go, unless an attempt went to it meanwhile.

        Decided here, under the lock that submit sends under, so no spawn request can reach a
        launcher on its way out; its end of file then comes with nothing running.
        """
        if any(a.launcher is launcher for a in self._attempts.values()):
            return
        launcher.dead = True
        if self._launcher is launcher:
            self._launcher = None
        with contextlib.suppress(OSError):
            launcher.send({"op": "close"})

    def _watch_launchers(self) -> None:
        """Watch every launcher not given up yet; a dead one then reads as closed at once."""
        with self._lock:
            launchers = list(self._launchers)
        for launcher in launchers:
            if launcher not in self._watched:
                self._selector.register(launcher, selectors.EVENT_READ, launcher)
                self._watched.add(launcher)

    def _lost_with_locked(self, launcher: LauncherClient) -> list[AttemptResult]:
        """The launcher died: its attempts' exits cannot be known. Kill what still runs of them."""
        lost = [a for a in self._attempts.values() if a.launcher is launcher]
        if lost:
            logger.error("the task launcher exited with %d attempts running; they are lost", len(lost))
        by_owner: dict[str, list[str]] = defaultdict(list)
        for attempt in lost:
            owner = attempt.spec.env.get(OWNER_VARIABLE)
            if owner is not None:  # the pids died with the launcher; the environment tells them
                by_owner[owner].append(attempt.spec.attempt_id)
        for owner, attempt_ids in by_owner.items():
            kill_orphans(attempt_ids, owner)
        results = []
        for attempt in lost:
            del self._attempts[attempt.spec.attempt_id]
            results.append(self._result(attempt, Outcome.LOST, None, LAUNCHER_DIED, None))
        return results

    def _deliver(self, done: list[AttemptResult]) -> None:
        if not done:
            return
        with self._results_ready:
            self._results.extend(done)
            self._results_ready.notify_all()
        if self._on_result is None:
            return
        for result in done:
            try:
                self._on_result(result)
            except Exception:
                logger.exception("on_result failed for attempt %s", result.attempt_id)
