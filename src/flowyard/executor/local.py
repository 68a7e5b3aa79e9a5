"""LocalExecutor: attempts as child processes of this server, watched by one reaper thread.

``submit`` spawns the process in the caller's thread (about the cost of a bare
``subprocess.Popen``) and returns. One reaper thread does the rest: it sleeps
in epoll on a pidfd per attempt plus a wake-up pipe, until the next thing due
(a timeout, a SIGKILL escalation, a memory check), so 200 running attempts
cost one thread and no polling. Without pidfds it polls every 10 ms instead.

How an attempt ends, and who decides:

* it exits: SUCCESS if the code is in ``success_codes``, else FAILED;
* its timeout passes: SIGTERM to the group, SIGKILL after the grace; TIMEOUT
  whatever the process does meanwhile;
* its group's summed RSS is over ``memory_limit_mb`` at a check (every 100 ms):
  SIGKILL at once, since memory grows fast and a grace could take the host
  down; FAILED with a memory message;
* ``cancel``/``shutdown``: like a timeout, reported CANCELLED. A cancel wins
  over a kill already under way, so ``cancel() is True`` means CANCELLED.

An attempt ends when its main process exits. Anything it left in its process
group is then sent SIGKILL, and the result is held until those processes are
gone (at most the kill grace), so a reported attempt has nothing left running
that could overlap a retry or write into the shared log. A process that moved
to its own session escapes this, as it escapes the memory watchdog. Timers use
the monotonic clock, since real processes run in real time; the injected clock
only stamps ``started_at`` and ``ended_at``.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

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
from flowyard.executor.process import MIB, ExitWaiter, GroupUsage, signal_group

logger = logging.getLogger(__name__)

MEMORY_CHECK_INTERVAL = 0.1  # seconds between /proc scans while any attempt has a memory limit
POLL_INTERVAL = 0.01  # seconds between exit checks of a child without a pidfd, or of a dying group
CPU_EPSILON = 1e-9  # so 1.0 - 0.6 still admits 0.4


@dataclass(slots=True, eq=False)
class _Attempt:
    """An accepted attempt whose result has not been queued yet."""

    spec: AttemptSpec
    started_at: datetime
    proc: subprocess.Popen[bytes] | None = None  # None while submit() is still spawning it
    pidfd: int | None = None
    deadline: float | None = None  # monotonic time of the timeout
    reason: tuple[Outcome, str] | None = None  # why the executor is killing it
    term_sent: bool = False
    kill_at: float | None = None  # monotonic time to escalate SIGTERM to SIGKILL

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
        on_spawn: Callable[[int], None] | None = None,
    ) -> None:
        self._clock = clock
        self._on_spawn = on_spawn  # told each task's process group id (= its pid) when it starts
        self._total_cpu = float(total_cpu if total_cpu is not None else (os.cpu_count() or 1))
        self._grace = kill_grace_seconds
        self._on_result = on_result
        self._base_env = process.base_environment(os.environ)
        self._lock = threading.Lock()
        self._results_ready = threading.Condition(self._lock)
        self._attempts: dict[str, _Attempt] = {}
        self._by_pidfd: dict[int, _Attempt] = {}
        self._handed_over: list[AttemptResult] = []  # results made outside the reaper, for it to deliver
        self._results: list[AttemptResult] = []
        self._closing = False
        self._released = False
        # Reaper thread only: results held until the rest of their group is dead, by pgid, with a deadline.
        self._draining: dict[int, tuple[AttemptResult, float]] = {}
        self._next_memory_check = 0.0
        self._waiter = ExitWaiter()
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
            # Reserved before spawning outside the lock, so capacity and shutdown see it at once.
            self._attempts[spec.attempt_id] = attempt
        try:
            proc = process.start(spec, self._base_env)  # a noop too: its task instance gets a log
        except (OSError, subprocess.SubprocessError) as exc:
            self._hand_over(attempt, Outcome.FAILED, f"could not start: {exc}")
            return
        except BaseException:
            with self._lock:
                del self._attempts[spec.attempt_id]
            raise
        if proc is None:
            self._hand_over(attempt, Outcome.SUCCESS, "noop: nothing to run")
            return
        if self._on_spawn is not None:
            self._on_spawn(proc.pid)
        pidfd = process.open_pidfd(proc.pid) if self._waiter.can_watch else None
        with self._lock:
            attempt.proc = proc
            attempt.pidfd = pidfd
            if spec.timeout_seconds:
                attempt.deadline = time.monotonic() + spec.timeout_seconds
            if pidfd is not None:
                self._by_pidfd[pidfd] = attempt
                self._waiter.watch(pidfd)
            if attempt.reason is not None:  # cancelled or shut down while it was being spawned
                outcome, message = attempt.reason
                self._stop(attempt, outcome, message, time.monotonic())
            if attempt.deadline is not None or spec.memory_limit_mb or pidfd is None or attempt.reason:
                self._waiter.wake()  # the reaper's next wake-up time may have changed

    def cancel(self, attempt_id: str) -> bool:
        """Kill a running attempt's group (SIGTERM, SIGKILL after the grace).

        True means the attempt was running and a CANCELLED result will follow; False that it is
        unknown, a noop, or already finished.
        """
        with self._lock:
            attempt = self._attempts.get(attempt_id)
            if attempt is None or not attempt.uses_cpu:
                return False
            self._stop(attempt, Outcome.CANCELLED, "cancelled", time.monotonic())
            self._waiter.wake()
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
        ``kill=False`` running attempts keep their timeouts and memory limits. Safe to call twice.
        """
        if threading.current_thread() is self._thread:
            raise ExecutorError("shutdown() cannot be called from on_result")
        with self._lock:
            if self._released:
                return
            self._closing = True
            if kill:
                now = time.monotonic()
                for attempt in self._attempts.values():
                    if attempt.uses_cpu:
                        self._stop(attempt, Outcome.CANCELLED, "cancelled: executor shut down", now)
            self._waiter.wake()
        self._thread.join()
        with self._lock:  # every wake() runs under the lock, so none can hit a closed (or reused) fd
            if not self._released:
                self._released = True
                self._waiter.close()

    # -- used by submit/cancel/shutdown, under the lock ----------------------------------------------

    def _idle_locked(self) -> bool:
        """Shut down with nothing left to report: the reaper may stop."""
        return self._closing and not (self._attempts or self._handed_over or self._draining)

    def _free_cpu_locked(self) -> float:
        return self._total_cpu - math.fsum(a.spec.cpu for a in self._attempts.values() if a.uses_cpu)

    def _stop(
        self, attempt: _Attempt, outcome: Outcome, message: str, now: float, at_once: bool = False
    ) -> None:
        """Record why the attempt is being killed and signal its group; call with the lock held.

        The first reason is kept, except that a cancel replaces any. Safe only while the leader is
        unreaped, which holds for anything in ``_attempts``: reaping removes it under the same lock.
        """
        if attempt.reason is None or outcome is Outcome.CANCELLED:
            attempt.reason = (outcome, message)
        if attempt.proc is None:
            return  # still being spawned: submit() stops it once it has a pid
        if at_once:
            signal_group(attempt.proc.pid, signal.SIGKILL)
            attempt.term_sent, attempt.kill_at = True, None
        elif not attempt.term_sent:
            signal_group(attempt.proc.pid, signal.SIGTERM)
            attempt.term_sent, attempt.kill_at = True, now + self._grace

    def _hand_over(self, attempt: _Attempt, outcome: Outcome, message: str) -> None:
        """Queue the result of an attempt that has no process, for the reaper to deliver.

        Delivering from the reaper keeps on_result on one thread, never the submitter's.
        """
        with self._lock:
            if attempt.reason is not None:  # cancelled while failing to start
                outcome, message = attempt.reason
            del self._attempts[attempt.spec.attempt_id]
            self._handed_over.append(self._result(attempt, outcome, None, message, None))
            self._waiter.wake()

    def _result(
        self, attempt: _Attempt, outcome: Outcome, exit_code: int | None, message: str, pid: int | None
    ) -> AttemptResult:
        spec = attempt.spec
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
        """One turn: wait, reap exits, enforce timeouts and memory, deliver. False when shut down and idle."""
        exited_fds = self._waiter.wait(self._wait_time())
        now = time.monotonic()
        with self._lock:
            done, self._handed_over = self._handed_over, []
            finished = [self._finish(self._by_pidfd[fd]) for fd in exited_fds]
            finished += [
                self._finish(attempt)
                for attempt in list(self._attempts.values())
                if attempt.proc is not None and attempt.pidfd is None and process.has_exited(attempt.proc.pid)
            ]
            self._enforce_timeouts(now)
            watched = self._memory_watch_list(now)
        for result in finished:
            if result.pid is not None and process.group_exists(result.pid):
                self._draining[result.pid] = (result, now + self._grace)
            else:
                done.append(result)
        if watched or self._draining:
            usage = process.scan_groups(watched.keys() | self._draining.keys())
            self._enforce_memory(watched, usage)
            done += self._drained(usage, now)
        self._deliver(done)
        with self._lock:
            return not self._idle_locked()

    def _wait_time(self) -> float | None:
        """Seconds until something is due, or None to sleep until an exit or a wake-up."""
        now = time.monotonic()
        with self._lock:
            if self._handed_over or self._idle_locked():
                return 0.0
            due: list[float] = [now + POLL_INTERVAL] if self._draining else []
            for attempt in self._attempts.values():
                if attempt.proc is None:
                    continue
                if attempt.pidfd is None:
                    due.append(now + POLL_INTERVAL)
                if attempt.deadline is not None and attempt.reason is None:
                    due.append(attempt.deadline)
                if attempt.kill_at is not None:
                    due.append(attempt.kill_at)
                if attempt.spec.memory_limit_mb:
                    due.append(self._next_memory_check)
        return max(0.0, min(due) - now) if due else None

    def _finish(self, attempt: _Attempt) -> AttemptResult:
        """Reap an exited attempt and build its result; under the lock, in the reaper thread."""
        assert attempt.proc is not None
        pid = attempt.proc.pid
        # The leader is a zombie until reaped, so its group id is still ours: clear leftovers first.
        signal_group(pid, signal.SIGKILL)
        status = process.reap(pid)
        attempt.proc.returncode = -1 if status is None else status  # reaped: Popen must not wait again
        if attempt.pidfd is not None:
            self._waiter.unwatch(attempt.pidfd)
            del self._by_pidfd[attempt.pidfd]
            os.close(attempt.pidfd)
        del self._attempts[attempt.spec.attempt_id]
        if status is None:
            outcome, exit_code, message = Outcome.LOST, None, "exit status lost: reaped outside the executor"
        else:
            succeeded, exit_code, message = process.judge(status, attempt.spec.success_codes)
            outcome = Outcome.SUCCESS if succeeded else Outcome.FAILED
        outcome, message = attempt.reason or (outcome, message)
        return self._result(attempt, outcome, exit_code, message, pid)

    def _enforce_timeouts(self, now: float) -> None:
        for attempt in self._attempts.values():
            if attempt.proc is None:
                continue
            if attempt.deadline is not None and attempt.reason is None and now >= attempt.deadline:
                message = f"killed after timeout of {attempt.spec.timeout_seconds} s"
                self._stop(attempt, Outcome.TIMEOUT, message, now)
            elif attempt.kill_at is not None and now >= attempt.kill_at:
                signal_group(attempt.proc.pid, signal.SIGKILL)
                attempt.kill_at = None

    def _memory_watch_list(self, now: float) -> dict[int, _Attempt]:
        """Attempts to measure now, by process group id, when a check is due."""
        if now < self._next_memory_check:
            return {}
        watched = {
            a.proc.pid: a for a in self._attempts.values() if a.proc is not None and a.spec.memory_limit_mb
        }
        if watched:
            self._next_memory_check = now + MEMORY_CHECK_INTERVAL
        return watched

    def _enforce_memory(self, watched: dict[int, _Attempt], usage: dict[int, GroupUsage]) -> None:
        # The /proc scan ran without the lock; only this thread reaps, so every watched leader is
        # still unreaped when the kill below is sent.
        with self._lock:
            now = time.monotonic()
            for pgid, attempt in watched.items():
                used, limit_mb = usage[pgid].rss_bytes, attempt.spec.memory_limit_mb
                if used > limit_mb * MIB:
                    message = f"memory limit {limit_mb} MB exceeded ({used // MIB} MB)"
                    self._stop(attempt, Outcome.FAILED, message, now, at_once=True)

    def _drained(self, usage: dict[int, GroupUsage], now: float) -> list[AttemptResult]:
        """Results whose group has no live process left (or that waited a grace period for it).

        Holding them until then means a retry never overlaps with the previous attempt's
        leftovers, which would otherwise still be writing into the shared log.
        """
        drained = []
        for pgid, (result, give_up_at) in list(self._draining.items()):
            live = usage[pgid].live
            if live and now < give_up_at:
                signal_group(pgid, signal.SIGKILL)  # a member still exists, so the pgid is still ours
                continue
            del self._draining[pgid]
            note = f"; {live} process(es) of its group survived SIGKILL" if live else ""
            drained.append(replace(result, message=result.message + note) if note else result)
        return drained

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
