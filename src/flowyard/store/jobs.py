"""DataWorks asynchronous jobs: durable rows a client polls with GetJobStatus.

Status literals are DataWorks' own: ``Running``, ``Success``, ``Fail``, ``Cancel``; types are
``Create`` and ``Update``. A job is created ``Running``, owned by the accepting process (``owner``)
under a lease (``lease_expires_at``), and finished exactly once by :func:`finish`.

Every write that acts for an owner is a compare-and-set on ``(status, owner)``: a process that lost
its job to another (its lease expired and :func:`take_over` moved it) can no longer start, advance
or finish it. Only :func:`take_over` moves a job between owners, and only once its lease expired
(a job without a lease, left by an older version, counts as expired).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from flowyard.domain.jobs import CANCEL, CREATE, FAIL, RUNNING, SUCCESS, UPDATE, Job
from flowyard.store import models

__all__ = ["CANCEL", "CREATE", "FAIL", "RUNNING", "SUCCESS", "UPDATE", "Job"]


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
        dry_run=row.dry_run,
        owner=row.owner,
        lease_expires_at=row.lease_expires_at,
        attempts=row.attempts,
    )


def _mine(job_id: str, owner: str) -> ColumnElement[bool]:
    table = models.AsyncJob
    return and_(table.id == job_id, table.status == RUNNING, table.owner == owner)


def _expired(now: datetime) -> ColumnElement[bool]:
    table = models.AsyncJob
    return or_(table.lease_expires_at.is_(None), table.lease_expires_at <= now)


def _changed(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


def insert(
    session: Session,
    job_id: str,
    project_id: int,
    job_type: str,
    spec: str,
    now: datetime,
    *,
    owner: str,
    lease_until: datetime,
    dry_run: bool = False,
) -> Job:
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
        dry_run=dry_run,
        owner=owner,
        lease_expires_at=lease_until,
        attempts=0,
    )
    session.add(row)
    session.flush()
    return _to_job(row)


def get(session: Session, job_id: str) -> Job | None:
    row = session.get(models.AsyncJob, job_id)
    return None if row is None else _to_job(row)


def start(
    session: Session, job_id: str, owner: str, progress: int, now: datetime, lease_until: datetime
) -> Job | None:
    """Begin a run of ``owner``'s Running job: count the attempt, renew the lease; None if not its job."""
    table = models.AsyncJob
    result = session.execute(
        update(table)
        .where(_mine(job_id, owner))
        .values(attempts=table.attempts + 1, progress=progress, lease_expires_at=lease_until, updated_at=now)
    )
    return get(session, job_id) if _changed(result) else None


def advance(
    session: Session, job_id: str, owner: str, *, progress: int, job_type: str, now: datetime
) -> bool:
    """Record the progress (and the type found so far) of ``owner``'s Running job."""
    result = session.execute(
        update(models.AsyncJob)
        .where(_mine(job_id, owner))
        .values(progress=progress, type=job_type, updated_at=now)
    )
    return bool(_changed(result))


def finish(
    session: Session,
    job_id: str,
    owner: str,
    status: str,
    *,
    job_type: str | None = None,
    error: str,
    response: str,
    now: datetime,
) -> bool:
    """Move ``owner``'s Running job to ``status`` (progress 100); False if it is no longer its job."""
    values: dict[str, object] = {
        "status": status,
        "progress": 100,
        "error": error,
        "response": response,
        "updated_at": now,
        "lease_expires_at": None,
    }
    if job_type is not None:
        values["type"] = job_type
    result = session.execute(update(models.AsyncJob).where(_mine(job_id, owner)).values(values))
    return bool(_changed(result))


def renew(session: Session, owner: str, lease_until: datetime) -> int:
    """Extend the lease of every Running job of ``owner``; returns how many."""
    table = models.AsyncJob
    result = session.execute(
        update(table)
        .where(table.owner == owner, table.status == RUNNING)
        .values(lease_expires_at=lease_until)
    )
    return _changed(result)


def release(session: Session, owner: str, now: datetime) -> int:
    """End ``owner``'s leases now (a clean shutdown), so another process may take its jobs at once."""
    table = models.AsyncJob
    result = session.execute(
        update(table).where(table.owner == owner, table.status == RUNNING).values(lease_expires_at=now)
    )
    return _changed(result)


def expired_ids(session: Session, now: datetime) -> list[str]:
    """Ids of the Running jobs whose lease has expired at ``now``, oldest first."""
    table = models.AsyncJob
    query = select(table.id).where(table.status == RUNNING, _expired(now))
    return list(session.scalars(query.order_by(table.created_at, table.id)))


def take_over(session: Session, job_id: str, owner: str, now: datetime, lease_until: datetime) -> Job | None:
    """Make ``owner`` the owner of a Running job whose lease expired; None if it is not (or no longer) so."""
    table = models.AsyncJob
    result = session.execute(
        update(table)
        .where(table.id == job_id, table.status == RUNNING, _expired(now))
        .values(owner=owner, lease_expires_at=lease_until, updated_at=now)
    )
    return get(session, job_id) if _changed(result) else None


def purge(session: Session, finished_before: datetime) -> int:
    """Delete the finished jobs last changed before ``finished_before``; returns how many."""
    table = models.AsyncJob
    result = session.execute(delete(table).where(table.status != RUNNING, table.updated_at < finished_before))
    return _changed(result)
