"""Celery workers as they report themselves: registration and heartbeats.

Functions take an open session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from flowyard.store import models as m

WORKERS = cast(Table, m.Worker.__table__)


@dataclass(frozen=True, slots=True)
class WorkerRow:
    name: str
    hostname: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    started_at: datetime
    heartbeat_at: datetime


def register(
    session: Session,
    name: str,
    hostname: str,
    pid: int,
    queues: tuple[str, ...],
    concurrency: int,
    now: datetime,
) -> None:
    row = session.get(m.Worker, name)
    if row is None:
        row = m.Worker(name=name)
        session.add(row)
    row.hostname, row.pid, row.queues, row.concurrency = hostname, pid, ",".join(queues), concurrency
    row.started_at = row.heartbeat_at = now
    session.flush()


def beat(session: Session, name: str, now: datetime) -> None:
    session.execute(update(WORKERS).where(WORKERS.c.name == name).values(heartbeat_at=now))


def get(session: Session, name: str) -> WorkerRow | None:
    row = session.get(m.Worker, name)
    return None if row is None else _row(row)


def all_workers(session: Session) -> list[WorkerRow]:
    return [_row(r) for r in session.execute(select(m.Worker).order_by(m.Worker.name)).scalars()]


def _row(row: m.Worker) -> WorkerRow:
    queues = tuple(q for q in row.queues.split(",") if q)
    return WorkerRow(
        row.name, row.hostname, row.pid, queues, row.concurrency, row.started_at, row.heartbeat_at
    )
