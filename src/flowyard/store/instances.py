"""Flow instances, task instances and task attempts, as rows.

Functions take an open session and never commit. Records are immutable
snapshots; state changes are explicit UPDATEs whose legality the services
check against ``flowyard.domain.states`` first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, Table, Update, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowyard.domain.flows import Parameter
from flowyard.domain.instances import InstanceRecord, TaskInstanceRecord
from flowyard.domain.states import Status
from flowyard.store import models as m

OPEN_TASK = (Status.INIT, Status.READY, Status.RUNNING)
FLOW_INSTANCES = cast(Table, m.FlowInstance.__table__)
SNAPSHOTS = cast(Table, m.FlowSnapshot.__table__)
TASK_INSTANCES = cast(Table, m.TaskInstance.__table__)
SORT_COLUMNS = {
    "create_time": m.FlowInstance.created_at,
    "update_time": m.FlowInstance.updated_at,
    "start_time": m.FlowInstance.started_at,
    "trigger_time": m.FlowInstance.trigger_at,
    "end_time": m.FlowInstance.ended_at,
}


def _task_record(row: Any) -> TaskInstanceRecord:
    return TaskInstanceRecord(
        id=row.id,
        flow_instance_id=row.flow_instance_id,
        task_id=row.task_id,
        name=row.name,
        position=row.position,
        status=Status(row.status),
        run_num=row.run_num,
        retry_limit=row.retry_limit,
        retry_interval=row.retry_interval,
        priority=row.priority,
        next_attempt_at=row.next_attempt_at,
        upstream=tuple(json.loads(row.upstream)),
        started_at=row.started_at,
        ended_at=row.ended_at,
        updated_at=row.updated_at,
        exit_code=row.exit_code,
        is_timeout=row.is_timeout,
        message=row.message,
        command=row.command,
    )


def _record(row: Any, tasks: Sequence[Any] = ()) -> InstanceRecord:
    return InstanceRecord(
        id=row.id,
        flow_id=row.flow_id,
        org_id=row.org_id,
        flow_name=row.flow_name,
        type=row.type,
        trigger_kind=row.trigger_kind,
        status=Status(row.status),
        trigger_at=row.trigger_at,
        scheduled_at=row.scheduled_at,
        cal_dt=row.cal_dt,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        updated_at=row.updated_at,
        parameters=tuple(Parameter(p["key"], p["value"]) for p in json.loads(row.parameters)),
        snapshot=row.snapshot,
        owners=row.owners,
        creator=row.creator,
        from_task_id=row.from_task_id,
        cancelled=row.cancelled,
        message=row.message,
        tasks=tuple(_task_record(t) for t in sorted(tasks, key=lambda t: t.position)),
    )


def _instances() -> Select[Any]:
    """Instance rows with their snapshot text, as Core rows named like the ORM attributes."""
    return select(FLOW_INSTANCES, SNAPSHOTS.c.body.label("snapshot")).join(
        SNAPSHOTS, SNAPSHOTS.c.id == FLOW_INSTANCES.c.snapshot_id
    )


def _store_snapshot(session: Session, body: str) -> str:
    """The id of ``body`` in the snapshot table, inserting it the first time (instances share it)."""
    snapshot_id = hashlib.sha256(body.encode("utf-8")).hexdigest()
    if session.get(m.FlowSnapshot, snapshot_id) is None:
        try:
            with session.begin_nested():
                session.add(m.FlowSnapshot(id=snapshot_id, body=body))
        except IntegrityError:  # stored concurrently by another process: the same content
            pass
    return snapshot_id


def insert(session: Session, record: InstanceRecord) -> None:
    """Insert an instance with its task instances; a duplicate id or tick raises IntegrityError."""
    session.add(
        m.FlowInstance(
            id=record.id,
            flow_id=record.flow_id,
            org_id=record.org_id,
            flow_name=record.flow_name,
            type=record.type,
            trigger_kind=record.trigger_kind,
            status=int(record.status),
            trigger_at=record.trigger_at,
            scheduled_at=record.scheduled_at,
            cal_dt=record.cal_dt,
            created_at=record.created_at,
            updated_at=record.updated_at,
            parameters=json.dumps([{"key": p.key, "value": p.value} for p in record.parameters]),
            snapshot_id=_store_snapshot(session, record.snapshot),
            owners=record.owners,
            creator=record.creator,
            from_task_id=record.from_task_id,
            cancelled=record.cancelled,
            message=record.message,
        )
    )
    session.flush()
    for t in record.tasks:
        session.add(
            m.TaskInstance(
                id=t.id,
                flow_instance_id=record.id,
                task_id=t.task_id,
                name=t.name,
                position=t.position,
                status=int(t.status),
                run_num=t.run_num,
                retry_limit=t.retry_limit,
                retry_interval=t.retry_interval,
                priority=t.priority,
                upstream=json.dumps(list(t.upstream)),
                updated_at=t.updated_at,
                message=t.message,
            )
        )
    session.flush()


def exists(session: Session, instance_id: str) -> bool:
    return session.get(m.FlowInstance, instance_id) is not None


def tick_exists(session: Session, flow_id: int, scheduled_at: datetime) -> bool:
    found = session.execute(
        select(m.FlowInstance.id).where(
            m.FlowInstance.flow_id == flow_id, m.FlowInstance.scheduled_at == scheduled_at
        )
    ).first()
    return found is not None


def get(session: Session, instance_id: str, *, with_tasks: bool = True) -> InstanceRecord | None:
    row = session.execute(_instances().where(FLOW_INSTANCES.c.id == instance_id)).first()
    if row is None:
        return None
    tasks: Sequence[Any] = ()
    if with_tasks:
        tasks = session.execute(
            select(TASK_INSTANCES).where(TASK_INSTANCES.c.flow_instance_id == instance_id)
        ).all()
    return _record(row, tasks)


def get_many(session: Session, instance_ids: Iterable[str]) -> list[InstanceRecord]:
    ids = list(instance_ids)
    if not ids:
        return []
    # Core rows, not ORM objects: the scheduler calls this on every step, and skipping the identity
    # map makes it several times faster. Rows have the same attribute names as the ORM classes.
    rows = session.execute(_instances().where(FLOW_INSTANCES.c.id.in_(ids))).all()
    tasks = session.execute(select(TASK_INSTANCES).where(TASK_INSTANCES.c.flow_instance_id.in_(ids))).all()
    by_instance: dict[str, list[Any]] = {}
    for t in tasks:
        by_instance.setdefault(t.flow_instance_id, []).append(t)
    return [_record(r, by_instance.get(r.id, [])) for r in rows]


def get_task(session: Session, task_instance_id: str) -> TaskInstanceRecord | None:
    row = session.get(m.TaskInstance, task_instance_id)
    return _task_record(row) if row else None


def get_task_in_org(session: Session, task_instance_id: str) -> tuple[TaskInstanceRecord, str, int] | None:
    """A task instance with its instance's organisation and flow id, in one query."""
    row = session.execute(
        select(
            TASK_INSTANCES, FLOW_INSTANCES.c.org_id.label("org_id"), FLOW_INSTANCES.c.flow_id.label("flow_id")
        )
        .join(FLOW_INSTANCES, FLOW_INSTANCES.c.id == TASK_INSTANCES.c.flow_instance_id)
        .where(TASK_INSTANCES.c.id == task_instance_id)
    ).first()
    return None if row is None else (_task_record(row), row.org_id, row.flow_id)


def last_manual_created_at(session: Session, flow_id: int) -> datetime | None:
    return session.execute(
        select(m.FlowInstance.created_at)
        .where(m.FlowInstance.flow_id == flow_id, m.FlowInstance.scheduled_at.is_(None))
        .order_by(m.FlowInstance.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def pending(session: Session) -> list[InstanceRecord]:
    """INIT and WAIT instances, without tasks: candidates to start."""
    rows = session.execute(
        _instances().where(FLOW_INSTANCES.c.status.in_([int(Status.INIT), int(Status.WAIT)]))
    ).all()
    return [_record(r) for r in rows]


def active_flow_ids(session: Session) -> set[int]:
    rows = session.execute(
        select(m.FlowInstance.flow_id).where(
            m.FlowInstance.status.in_([int(Status.RUNNING), int(Status.WAIT)])
        )
    ).scalars()
    return set(rows)


def open_instance_ids(session: Session) -> list[str]:
    """Started instances that have not ended: running ones, and ended ones whose tasks are still settling."""
    rows = session.execute(
        select(m.FlowInstance.id).where(
            m.FlowInstance.ended_at.is_(None),
            m.FlowInstance.status.not_in([int(Status.INIT), int(Status.WAIT)]),
        )
    ).scalars()
    return sorted(rows)


@lru_cache(maxsize=256)
def _update_by_id(table: Table, columns: tuple[str, ...]) -> Update:
    """``UPDATE table SET columns WHERE id = :row_id``, built once per column set.

    The scheduler writes a few shapes of change thousands of times; building the statement
    afresh each time cost more than running it (SQLAlchemy then reuses the compiled form too).
    """
    return update(table).where(table.c.id == bindparam("row_id")).values({c: bindparam(c) for c in columns})


def _update(session: Session, table: Table, row_id: str, values: dict[str, Any]) -> None:
    if "status" in values:
        values["status"] = int(values["status"])
    statement = _update_by_id(table, tuple(sorted(values)))
    session.execute(statement, {"row_id": row_id, **values})


TASK_STATE_COLUMNS = (
    "status",
    "run_num",
    "next_attempt_at",
    "started_at",
    "ended_at",
    "updated_at",
    "exit_code",
    "is_timeout",
    "message",
    "command",
)


def update_tasks(session: Session, rows: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Update many task instances: one statement (executemany) per set of columns written."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row_id, values in rows:
        params = {**values, "row_id": row_id}
        if "status" in params:
            params["status"] = int(params["status"])
        shapes.setdefault(tuple(sorted(values)), []).append(params)
    for columns, params_list in shapes.items():
        session.execute(_update_by_id(TASK_INSTANCES, columns), params_list)


def update_instance(session: Session, instance_id: str, **values: Any) -> None:
    _update(session, FLOW_INSTANCES, instance_id, values)  # Core: no ORM synchronisation to pay for


def update_task(session: Session, task_instance_id: str, **values: Any) -> None:
    _update(session, TASK_INSTANCES, task_instance_id, values)


def search(
    session: Session,
    *,
    org_id: str,
    type_: int,
    expression: str,
    owner: str,
    from_at: datetime | None,
    to_at: datetime | None,
    statuses: Sequence[int],
    sorters: Sequence[tuple[str, bool]],
    offset: int,
    limit: int,
) -> tuple[list[InstanceRecord], int]:
    """List Flow Instances: one page, plus the total number of matches."""
    query = select(m.FlowInstance).where(m.FlowInstance.org_id == org_id, m.FlowInstance.type == type_)
    if from_at is not None:
        query = query.where(m.FlowInstance.trigger_at >= from_at)
    if to_at is not None:
        query = query.where(m.FlowInstance.trigger_at < to_at)
    if statuses:
        query = query.where(m.FlowInstance.status.in_(list(statuses)))
    if owner:
        query = query.where(m.FlowInstance.owners.like(f"%{_escape(owner)}%", escape="\\"))
    if expression:
        pattern = f"%{_escape(expression.lower())}%"
        query = query.where(
            or_(
                func.lower(m.FlowInstance.flow_name).like(pattern, escape="\\"),
                m.FlowInstance.id.like(pattern, escape="\\"),
            )
        )
    count = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    order: list[Any] = [
        (SORT_COLUMNS[col].desc() if desc else SORT_COLUMNS[col].asc()).nulls_last() for col, desc in sorters
    ]
    if not order:  # newest first, the order a user watching runs expects
        order = [m.FlowInstance.trigger_at.desc()]
    page_ids = list(
        session.execute(
            query.with_only_columns(m.FlowInstance.id)
            .order_by(*order, m.FlowInstance.id)
            .offset(offset)
            .limit(limit)
        ).scalars()
    )
    rows = {r.id: r for r in session.execute(_instances().where(FLOW_INSTANCES.c.id.in_(page_ids))).all()}
    return [_record(rows[i]) for i in page_ids], int(count)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- schedules ------------------------------------------------------------------------------------


def schedule_cursor(session: Session, flow_id: int) -> datetime | None:
    row = session.get(m.FlowSchedule, flow_id)
    return row.cursor_at if row else None


def set_schedule(session: Session, flow_id: int, cursor_at: datetime, next_tick_at: datetime | None) -> None:
    row = session.get(m.FlowSchedule, flow_id)
    if row is None:
        session.add(m.FlowSchedule(flow_id=flow_id, cursor_at=cursor_at, next_tick_at=next_tick_at))
    else:
        row.cursor_at = cursor_at
        row.next_tick_at = next_tick_at
    session.flush()


def due_periodic_flows(session: Session, now: datetime) -> list[int]:
    """Enabled periodic flows whose next tick is due, or not computed yet (new, edited, re-enabled)."""
    schedule = m.FlowSchedule
    rows = session.execute(
        select(m.Flow.id)
        .outerjoin(schedule, schedule.flow_id == m.Flow.id)
        .where(
            m.Flow.active == 1,
            m.Flow.type == 1,
            or_(schedule.flow_id.is_(None), schedule.next_tick_at.is_(None), schedule.next_tick_at <= now),
        )
        .order_by(m.Flow.id)
    ).scalars()
    return list(rows)


def earliest_next_tick(session: Session) -> datetime | None:
    """When the scheduler must look at the schedules again."""
    return session.execute(
        select(m.FlowSchedule.next_tick_at)
        .join(m.Flow, m.Flow.id == m.FlowSchedule.flow_id)
        .where(m.Flow.active == 1, m.Flow.type == 1, m.FlowSchedule.next_tick_at.is_not(None))
        .order_by(m.FlowSchedule.next_tick_at)
        .limit(1)
    ).scalar_one_or_none()
