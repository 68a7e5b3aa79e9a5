"""Executors: run one task attempt as one OS process and report how it ended.

:mod:`flowyard.executor.base` holds the interface every executor implements;
:class:`LocalExecutor` runs attempts as child processes of this server.
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
