"""DataWorks asynchronous jobs: durable rows a client polls with GetJobStatus.

Status literals are DataWorks' own: ``Running``, ``Success``, ``Fail``, ``Cancel``. A job is
created ``Running`` with its input (``spec``) and finished exactly once by :func:`finish`, which
only moves a job that is still ``Running``; :func:`fail_running` ends every job a stopped server
left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flowyard.store import models

RUNNING = "Running"
SUCCESS = "Success"
FAIL = "Fail"
CANCEL = "Cancel"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    project_id: int
    type: str
    status: str
    progress: int
    spec: str
    error: str
    response: str
    created_at: datetime
    updated_at: datetime

    @property
    def completed(self) -> bool:
        return self.status != RUNNING


def _to_job(row: models.AsyncJob) -> Job:
    return Job(
        id=row.id,
        project_id=row.project_id,
        type=row.type,
        status=row.status,
        progress=row.progress,
        spec=row.spec,
        error=row.error,
        response=row.response,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def insert(session: Session, job_id: str, project_id: int, job_type: str, spec: str, now: datetime) -> Job:
    row = models.AsyncJob(
        id=job_id,
        project_id=project_id,
        type=job_type,
        status=RUNNING,
        progress=0,
        spec=spec,
        error="",
        response="",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return _to_job(row)


def get(session: Session, job_id: str) -> Job | None:
    row = session.get(models.AsyncJob, job_id)
    return None if row is None else _to_job(row)


def running_ids(session: Session) -> list[str]:
    """Ids of the jobs still ``Running``, oldest first."""
    query = select(models.AsyncJob.id).where(models.AsyncJob.status == RUNNING)
    return list(session.scalars(query.order_by(models.AsyncJob.created_at, models.AsyncJob.id)))


def finish(session: Session, job_id: str, status: str, *, error: str, response: str, now: datetime) -> bool:
    """Move a ``Running`` job to ``status`` (progress 100); False if it was no longer Running."""
    result = session.execute(
        update(models.AsyncJob)
        .where(models.AsyncJob.id == job_id, models.AsyncJob.status == RUNNING)
        .values(status=status, progress=100, error=error, response=response, updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def fail_running(session: Session, reason: str, now: datetime) -> int:
    """End every ``Running`` job as ``Fail`` with ``reason``; returns how many."""
    result = session.execute(
        update(models.AsyncJob)
        .where(models.AsyncJob.status == RUNNING)
        .values(status=FAIL, progress=100, error=reason, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0))
