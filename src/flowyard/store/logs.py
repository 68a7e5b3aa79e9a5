"""Task logs kept in the database, for deployments where no filesystem is shared.

Functions take an open session and never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from flowyard.store import models as m

CHUNKS = cast(Table, m.TaskLogChunk.__table__)


def append(session: Session, task_instance_id: str, data: str, now: datetime, attempt_id: str = "") -> None:
    if data:
        session.execute(
            insert(CHUNKS).values(
                task_instance_id=task_instance_id, attempt_id=attempt_id, created_at=now, data=data
            )
        )


def read(session: Session, task_instance_id: str, limit: int) -> str:
    """The first ``limit`` characters of the log, reading only as many chunks as needed."""
    parts: list[str] = []
    size = 0
    rows = session.execute(
        select(CHUNKS.c.data).where(CHUNKS.c.task_instance_id == task_instance_id).order_by(CHUNKS.c.id)
    ).scalars()
    for data in rows:
        if size >= limit:
            break
        parts.append(data)
        size += len(data)
    return "".join(parts)[:limit]
