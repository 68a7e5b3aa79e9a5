"""Where task logs live: files under the data dir (embedded), or the database (no shared filesystem).

The local executor writes each attempt's output straight into the task's file;
Celery workers ship theirs into ``task_log_chunks``. Notes Flowyard itself adds
(a task that could not start, an attempt lost with its worker) go through
:meth:`append` of the same store, so Get Task Instance Log shows everything in
order, whichever machine wrote it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from flowyard.store import logs as log_store
from flowyard.store.db import transaction


def log_file(log_dir: Path, flow_instance_id: str, task_instance_id: str) -> Path:
    """Where a task instance's log file lives under a data dir's log directory (every process alike)."""
    return log_dir / flow_instance_id / f"{task_instance_id}.log"


class TaskLogs(Protocol):
    def append(self, flow_instance_id: str, task_instance_id: str, text: str, now: datetime) -> None: ...

    def read(self, flow_instance_id: str, task_instance_id: str, limit: int) -> str: ...


class FileLogs:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir

    def path(self, flow_instance_id: str, task_instance_id: str) -> Path:
        return log_file(self.log_dir, flow_instance_id, task_instance_id)

    def append(self, flow_instance_id: str, task_instance_id: str, text: str, now: datetime) -> None:
        path = self.path(flow_instance_id, task_instance_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)

    def read(self, flow_instance_id: str, task_instance_id: str, limit: int) -> str:
        try:
            with self.path(flow_instance_id, task_instance_id).open(
                encoding="utf-8", errors="replace"
            ) as handle:
                return handle.read(limit)
        except FileNotFoundError:
            return ""


class DatabaseLogs:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(self, flow_instance_id: str, task_instance_id: str, text: str, now: datetime) -> None:
        with transaction(self._sessions) as session:
            log_store.append(session, task_instance_id, text, now)

    def read(self, flow_instance_id: str, task_instance_id: str, limit: int) -> str:
        with transaction(self._sessions, read_only=True) as session:
            return log_store.read(session, task_instance_id, limit)
