"""Executors: run one task attempt as one OS process and report how it ended.

:mod:`flowyard.executor.base` holds the interface every executor implements;
:class:`LocalExecutor` runs attempts on this machine, as children of its task
launcher (:mod:`flowyard.executor.launcher`), which records every exit beside
the attempt's log (:mod:`flowyard.executor.exits`) so that a restarted owner
settles what ended meanwhile (:mod:`flowyard.executor.recovery`).
"""

from flowyard.executor.base import (
    AttemptResult,
    AttemptSpec,
    Executor,
    ExecutorClosedError,
    ExecutorError,
    ExecutorFullError,
    Outcome,
    TaskKind,
)
from flowyard.executor.local import LocalExecutor

__all__ = [
    "AttemptResult",
    "AttemptSpec",
    "Executor",
    "ExecutorClosedError",
    "ExecutorError",
    "ExecutorFullError",
    "LocalExecutor",
    "Outcome",
    "TaskKind",
]
