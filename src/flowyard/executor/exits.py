"""Exit records: how one attempt's process ended, kept in a small file beside the attempt's log.

The launcher (:mod:`flowyard.executor.launcher`) writes one for every attempt
it was asked to start, at the moment it knows the ending (it reaped the
process, or could not start it), and only then tells the executor. Whatever
dies after that point, the executor or the whole server, the ending is on
disk: after a restart :mod:`flowyard.executor.recovery` reads it and the
attempt is settled with its real result instead of being run again.

Where: the log of a task instance is ``<log dir>/<flow instance>/<task instance>.log``
(every attempt appends to it); the record of its attempt number ``n`` is
``<task instance>.log.<n>.exit`` in the same directory. A record is JSON::

    {"attempt_id": "104890-20261122080000#1", "outcome": "success", "exit_code": 0,
     "signal": null, "message": "exit code 0", "pid": 4242,
     "ended_at": "2026-11-22T08:00:03.120000+00:00"}

It is written to a temporary file that is then renamed over the final name, so
a reader sees a whole record or none. It is not fsynced: it has to outlive
processes (kill -9, OOM kills, a crashed server), and a machine that loses
power loses its running tasks too. Starting an attempt first removes a record
left at its path (a database reset can reuse task instance ids), so a record
found there was written by that attempt.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flowyard.executor.base import Outcome

EXIT_SUFFIX = ".exit"


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """The ending of one attempt as its launcher saw it.

    ``signal`` is the number of the signal that ended the main process, or
    None when it exited (or never ran); ``exit_code`` follows
    :class:`~flowyard.executor.base.AttemptResult` (128 + n after a signal).
    """

    attempt_id: str
    outcome: Outcome
    exit_code: int | None
    signal: int | None
    message: str
    pid: int | None
    ended_at: datetime


def exit_record_path(log_path: Path, run_num: int) -> Path:
    """Where attempt ``run_num`` of the task instance logging to ``log_path`` leaves its record."""
    return log_path.with_name(f"{log_path.name}.{run_num}{EXIT_SUFFIX}")


def write_exit_record(path: str | Path, record: ExitRecord) -> None:
    """Write ``record`` atomically (temporary file, then rename); raises OSError when it cannot."""
    data = json.dumps(
        {
            "attempt_id": record.attempt_id,
            "outcome": record.outcome.value,
            "exit_code": record.exit_code,
            "signal": record.signal,
            "message": record.message,
            "pid": record.pid,
            "ended_at": record.ended_at.isoformat(),
        }
    ).encode()
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    try:
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_exit_record(path: Path, attempt_id: str) -> ExitRecord | None:
    """The record at ``path`` if it is a whole record of ``attempt_id``; None otherwise."""
    try:
        data = json.loads(path.read_bytes())
        if data["attempt_id"] != attempt_id:
            return None
        return ExitRecord(
            attempt_id=attempt_id,
            outcome=Outcome(data["outcome"]),
            exit_code=None if data["exit_code"] is None else int(data["exit_code"]),
            signal=None if data["signal"] is None else int(data["signal"]),
            message=str(data["message"]),
            pid=None if data["pid"] is None else int(data["pid"]),
            ended_at=datetime.fromisoformat(data["ended_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_exit_record(path: str | Path) -> None:
    """Remove a record left at ``path`` by an earlier use of the same name; a missing one is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
