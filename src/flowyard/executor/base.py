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

from datetime import datetime
from typing import Protocol

# The attempt's data types are the domain's (services record results too); the executor re-exports them.
from flowyard.domain.attempts import (
    DEFAULT_SUCCESS_CODES,
    AttemptResult,
    AttemptSpec,
    Outcome,
    TaskKind,
)
from flowyard.errors import InternalError

__all__ = [
    "DEFAULT_SUCCESS_CODES",
    "AttemptResult",
    "AttemptSpec",
    "Executor",
    "ExecutorClosedError",
    "ExecutorError",
    "ExecutorFullError",
    "Outcome",
    "TaskKind",
]


class ExecutorError(InternalError):
    """The executor was used against its contract."""

    default_message = "Executor error"


class ExecutorFullError(ExecutorError):
    """No capacity: the attempt asks for more CPU than :meth:`Executor.free_cpu` has left."""

    default_message = "Executor has no free capacity"


class ExecutorClosedError(ExecutorError):
    """The executor has been shut down and accepts no more attempts."""

    default_message = "Executor is shut down"


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
