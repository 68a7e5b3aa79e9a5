"""The executor interface: run one task attempt as one OS process and report how it ended.

The scheduler decides what runs and when; an executor only starts the attempt it
is given, enforces that attempt's own limits (timeout, memory) and reports an
:class:`AttemptResult`. Retries, ordering, readiness and sub-task fan-out are
scheduling decisions and never live here. Everything crossing the interface is a
plain frozen dataclass of str/int/float/bool/Path/datetime/frozenset/Mapping, so
a distributed executor (Celery) can pickle or encode it unchanged.

Errors raised by an executor (all :class:`~flowyard.errors.InternalError`, since
a caller seeing one means the scheduler misused the executor)::

    InternalError                     62109
    └── ExecutorError                 misuse: duplicate attempt id, ...
        ├── ExecutorFullError         submit() beyond free_cpu()
        └── ExecutorClosedError       submit() after shutdown()

Anything that goes wrong with the attempt itself (its workdir cannot be made, the
interpreter is missing, it exits non-zero, it is killed) is not raised: it comes
back as a FAILED/TIMEOUT/CANCELLED/LOST result like every other ending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from flowyard.errors import InternalError

DEFAULT_SUCCESS_CODES: frozenset[int] = frozenset({0})


class TaskKind(StrEnum):
    SHELL = "shell"  # `command` is run by `bash -c`
    PYTHON = "python"  # `command` is Python source, run by the server's own interpreter
    NOOP = "noop"  # nothing runs; the attempt succeeds at once


class Outcome(StrEnum):
    SUCCESS = "success"  # exited with one of the success codes
    FAILED = "failed"  # any other exit, a signal, a memory kill, or it could not start
    TIMEOUT = "timeout"  # killed by the executor after timeout_seconds
    CANCELLED = "cancelled"  # killed because cancel() or shutdown() asked
    LOST = "lost"  # the executor no longer knows how it ended (worker gone, status reaped elsewhere)


class ExecutorError(InternalError):
    """The executor was used against its contract."""

    default_message = "Executor error"


class ExecutorFullError(ExecutorError):
    """No capacity: the attempt asks for more CPU than :meth:`Executor.free_cpu` has left."""

    default_message = "Executor has no free capacity"


class ExecutorClosedError(ExecutorError):
    """The executor has been shut down and accepts no more attempts."""

    default_message = "Executor is shut down"


@dataclass(frozen=True, slots=True)
class AttemptSpec:
    """Everything needed to run one attempt of one task instance.

    ``env`` is added on top of a minimal environment inherited from the executor
    (PATH, HOME, LANG, TZ, ...), never the executor's whole environment.
    ``workdir`` is created (with parents) and becomes the cwd; it is left in
    place afterwards. ``log_header`` is appended to ``log_path`` verbatim, then
    the process's stdout and stderr are appended to the same file; all attempts
    of a task instance share one log. Memory is in MiB and limits the whole
    process group; ``cpu`` is only used for admission. Not meant to be hashed
    (``env`` may be a dict).
    """

    attempt_id: str  # unique per attempt, e.g. "104890-20190808093200#2"
    task_instance_id: str
    run_num: int  # 1-based
    kind: TaskKind
    command: str
    env: Mapping[str, str]
    workdir: Path
    log_path: Path
    log_header: str
    timeout_seconds: int = 0  # 0 = none
    memory_limit_mb: int = 0  # 0 = none
    cpu: float = 0.5
    success_codes: frozenset[int] = DEFAULT_SUCCESS_CODES
    queue: str = "default"  # the task's resource group: the Celery queue a remote attempt goes to

    def __post_init__(self) -> None:
        if self.run_num < 1:
            raise ValueError(f"run_num must be >= 1, got {self.run_num}")
        if self.timeout_seconds < 0 or self.memory_limit_mb < 0 or self.cpu < 0:
            raise ValueError("timeout_seconds, memory_limit_mb and cpu must not be negative")


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """How one attempt ended.

    ``exit_code`` is the process's exit status, or 128 + the signal number when
    a signal ended it (the shell's convention), or None when no process ran
    (noop, could not start) or the status is unknown (LOST). ``message`` says
    why in words, e.g. "exit code 3 not in success codes [0]". Times are aware
    UTC from the executor's injected clock.
    """

    attempt_id: str
    task_instance_id: str
    run_num: int
    outcome: Outcome
    exit_code: int | None
    message: str
    started_at: datetime
    ended_at: datetime
    pid: int | None


class Executor(Protocol):
    """Runs attempts; the scheduler's only way to start or stop a process.

    Contract shared by every implementation:

    * ``submit`` never blocks on the attempt; it raises :class:`ExecutorFullError`
      when ``spec.cpu > free_cpu()`` and something is running (an attempt larger
      than the whole executor may still run alone), :class:`ExecutorClosedError`
      after shutdown, and :class:`ExecutorError` for an attempt id already running.
    * Every accepted attempt produces exactly one :class:`AttemptResult`.
    * ``cancel`` returns True when the attempt was still running; its result will
      then be CANCELLED. It returns False for an unknown or already finished one.
    * ``remote`` executors run attempts elsewhere: the scheduler commits each attempt as a
      ``queued`` row for a worker to claim, instead of claiming it itself, and calls
      ``resend_due`` periodically to publish again what may have been lost on the way.
    """

    remote: bool

    def submit(self, spec: AttemptSpec) -> None:
        """Start the attempt and return at once."""
        ...

    def cancel(self, attempt_id: str) -> bool:
        """Kill the attempt's process group if it is running."""
        ...

    def results(self, timeout: float = 0.0) -> list[AttemptResult]:
        """Attempts finished since the last call; waits up to ``timeout`` s for at least one."""
        ...

    def running(self) -> list[str]:
        """Ids of attempts started and not yet reported (including ones being killed)."""
        ...

    def free_cpu(self) -> float:
        """Total CPU minus the CPU of running attempts; may be negative after an oversized one."""
        ...

    def shutdown(self, kill: bool = True) -> None:
        """Stop accepting attempts; kill running ones (reported CANCELLED) or wait for them."""
        ...

    def resend_due(self, now: datetime) -> int:
        """Publish again the attempts whose message may be lost; returns how many (0 for local)."""
        ...
