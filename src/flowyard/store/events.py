"""The run-event table: append in the changing transaction, read by id cursor, purge by age.

Functions take an open session and never commit. Appending also sends a
PostgreSQL notification on :data:`EVENTS`, delivered when the transaction
commits, so readers in other processes wake at once instead of polling.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from flowyard.domain.events import EventKind, RunEvent
from flowyard.store import models as m
from flowyard.store.notify import EVENTS, notify

EVENTS_TABLE = cast(Table, m.RunEventRow.__table__)
PURGE_BATCH = 5000  # rows per DELETE: a long purge never holds the write lock for long


def append(session: Session, events: Sequence[RunEvent]) -> None:
    """Insert ``events`` in one statement (ids are assigned by the database, in order)."""
    if not events:
        return
    session.execute(
        insert(EVENTS_TABLE),
        [
            {
                "at": e.at,
                "kind": e.kind.value,
                "org_id": e.org_id,
                "flow_id": e.flow_id,
                "instance_id": e.instance_id,
                "task_instance_id": e.task_instance_id,
                "attempt_id": e.attempt_id,
                "payload": json.dumps(e.payload, separators=(",", ":")),
            }
            for e in events
        ],
    )
    notify(session, EVENTS)


def _event(row: Any) -> RunEvent:
    return RunEvent(
        id=row.id,
        kind=EventKind(row.kind),
        at=row.at,
        org_id=row.org_id,
        flow_id=row.flow_id,
        instance_id=row.instance_id,
        task_instance_id=row.task_instance_id,
        attempt_id=row.attempt_id,
        payload=json.loads(row.payload),
    )


def read_after(
    session: Session, after_id: int, *, limit: int = 500, org_id: str | None = None
) -> list[RunEvent]:
    """Events with an id above ``after_id``, oldest first; only ``org_id``'s when given."""
    query = select(EVENTS_TABLE).where(EVENTS_TABLE.c.id > after_id)
    if org_id is not None:
        query = query.where(EVENTS_TABLE.c.org_id == org_id)
    rows = session.execute(query.order_by(EVENTS_TABLE.c.id).limit(limit)).all()
    return [_event(r) for r in rows]


def last_id(session: Session) -> int:
    """The newest event's id (0 when there is none): where a reader that wants only new events starts."""
    return int(session.execute(select(func.max(EVENTS_TABLE.c.id))).scalar_one_or_none() or 0)


def purge_before(session: Session, cutoff: datetime, limit: int = PURGE_BATCH) -> int:
    """Delete up to ``limit`` events older than ``cutoff``; returns how many went."""
    ids = select(EVENTS_TABLE.c.id).where(EVENTS_TABLE.c.at < cutoff).order_by(EVENTS_TABLE.c.id).limit(limit)
    result = session.execute(delete(EVENTS_TABLE).where(EVENTS_TABLE.c.id.in_(ids.scalar_subquery())))
    return int(result.rowcount)  # type: ignore[attr-defined]
