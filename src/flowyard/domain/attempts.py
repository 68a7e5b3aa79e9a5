"""One attempt of a task instance as data: what to run (:class:`AttemptSpec`) and how it ended.

Everything here is a plain frozen dataclass of str/int/float/bool/Path/datetime/
frozenset/Mapping, so a distributed executor (Celery) can encode it unchanged,
and the services that record results need nothing of the executor's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

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
