"""Flows, their tasks, relations and premises, as rows.

Functions take an open session and never commit: the calling service owns
the transaction. A :class:`~flowyard.domain.flows.Flow` is written and read
whole; the order of tasks, relations and links is kept so that an export
gives back what was imported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from flowyard.domain.flows import (
    WALL_FORMAT,
    Cycle,
    FailureStrategy,
    Flow,
    FlowDefinition,
    FlowLink,
    FlowOptions,
    FlowType,
    InstanceMode,
    LinkRelation,
    Parameter,
    Placement,
    RerunMode,
    ResolvedLink,
    RunMode,
    TaskDefinition,
    TaskLink,
    TaskRelation,
)
from flowyard.store import models as m


@dataclass(frozen=True, slots=True)
class FlowSummary:
    """What lists need of a flow, without its tasks."""

    id: int
    org_id: str
    dir_id: str
    name: str
    cycle: str
    owners: str
    visitors: str
    creator: str
    locked: bool


SORT_COLUMNS = {
    "create_time": m.Flow.created_at,
    "update_time": m.Flow.updated_at,
    "start_time": m.Flow.start_date,
}


def _dump_parameters(params: tuple[Parameter, ...]) -> str:
    return json.dumps([{"key": p.key, "value": p.value} for p in params], ensure_ascii=False)


def _load_parameters(text: str) -> tuple[Parameter, ...]:
    return tuple(Parameter(key=item["key"], value=item["value"]) for item in json.loads(text or "[]"))


def _dump_run_mode(mode: RunMode) -> str:
    return json.dumps(asdict(mode), ensure_ascii=False)


def _load_run_mode(text: str) -> RunMode:
    return RunMode(**json.loads(text))


def _options_dict(options: FlowOptions) -> dict[str, str]:
    """The options that differ from the defaults, under their attribute names ({} = all default)."""
    default = FlowOptions()
    out: dict[str, str] = {}
    for name in (f.name for f in fields(FlowOptions)):
        value = getattr(options, name)
        if value != getattr(default, name):
            out[name] = value.strftime(WALL_FORMAT) if isinstance(value, datetime) else str(value)
    return out


def dump_options(definition: FlowDefinition) -> str:
    """``flows.options``: the non-default FlowOptions and per-task FlowSpec fields; ``{}`` = EnOS defaults."""
    raw: dict[str, Any] = dict(_options_dict(definition.options))
    tasks: dict[str, dict[str, str]] = {}
    for task in definition.tasks:
        entry = {"node_id": task.node_id} if task.node_id else {}
        if task.rerun_mode is not None:
            entry["rerun_mode"] = str(task.rerun_mode)
        if entry:
            tasks[task.name] = entry
    if tasks:
        raw["tasks"] = tasks
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


def load_options(
    text: str, tasks: tuple[TaskDefinition, ...]
) -> tuple[FlowOptions, tuple[TaskDefinition, ...]]:
    """The inverse of :func:`dump_options`: the flow's options, and ``tasks`` with their FlowSpec fields."""
    raw = json.loads(text or "{}")
    start, end = raw.get("schedule_start"), raw.get("schedule_end")
    options = FlowOptions(
        time_zone=raw.get("time_zone", ""),
        schedule_start=datetime.strptime(start, WALL_FORMAT) if start else None,
        schedule_end=datetime.strptime(end, WALL_FORMAT) if end else None,
        rerun_mode=RerunMode(raw.get("rerun_mode", RerunMode.ALLOWED)),
        failure_strategy=FailureStrategy(raw.get("failure_strategy", FailureStrategy.BREAK)),
        instance_mode=InstanceMode(raw["instance_mode"]) if raw.get("instance_mode") else None,
    )
    by_name: dict[str, dict[str, str]] = raw.get("tasks", {})
    loaded = []
    for task in tasks:
        entry = by_name.get(task.name, {})
        mode = entry.get("rerun_mode")
        loaded.append(
            replace(task, node_id=entry.get("node_id", ""), rerun_mode=RerunMode(mode) if mode else None)
        )
    return options, tuple(loaded)


def _flow_columns(flow: Flow) -> dict[str, object]:
    d = flow.definition
    return {
        "org_id": flow.org_id,
        "dir_id": flow.dir_id,
        "name": d.name,
        "desc": d.desc,
        "type": int(d.type),
        "cycle": str(d.cycle),
        "cron": d.cron,
        "parameters": _dump_parameters(d.parameters),
        "alert_mode": d.alert_mode,
        "alert_to": d.alert_to,
        "app_id": d.app_id,
        "submitter": d.submitter,
        "owners": d.owners,
        "visitors": d.visitors,
        "sync_type": d.sync_type,
        "start_date": d.start_date,
        "options": dump_options(d),
        "active": flow.active,
        "locked": flow.locked,
        "entry": flow.entry,
        "queue": flow.queue,
        "creator": flow.creator,
        "update_user": flow.update_user,
        "updated_at": flow.updated_at,
    }


def _task_columns(task: TaskDefinition, position: int, placement: Placement) -> dict[str, object]:
    return {
        "position": position,
        "name": task.name,
        "type": task.type,
        "cmd": task.cmd,
        "resource": task.resource,
        "sync_type": task.sync_type,
        "submitter": task.submitter,
        "file_package": task.file_package,
        "cron": task.cron,
        "priority_level": task.priority_level,
        "timeout": task.timeout,
        "retry_limit": task.retry_limit,
        "retry_interval": task.retry_interval,
        "success_code": task.success_code,
        "wait_code": task.wait_code,
        "as_link": task.as_link,
        "run_mode": _dump_run_mode(task.run_mode),
        "x": placement.x,
        "y": placement.y,
    }


def insert_flow(session: Session, flow: Flow) -> None:
    """Insert a new flow with everything it owns; ids in ``flow`` are already allocated."""
    session.add(m.Flow(id=flow.id, created_at=flow.created_at, **_flow_columns(flow)))
    session.flush()
    _write_graph(session, flow, existing_task_ids=set())


def replace_flow(session: Session, flow: Flow) -> None:
    """Overwrite a stored flow; tasks keep their ids, tasks not in ``flow`` are deleted."""
    session.execute(update(m.Flow).where(m.Flow.id == flow.id).values(**_flow_columns(flow)))
    # The cron may have changed: the scheduler recomputes the next tick from the same cursor.
    session.execute(update(m.FlowSchedule).where(m.FlowSchedule.flow_id == flow.id).values(next_tick_at=None))
    session.execute(delete(m.LinkRelation).where(m.LinkRelation.flow_id == flow.id))
    session.execute(delete(m.FlowLink).where(m.FlowLink.flow_id == flow.id))
    session.execute(delete(m.TaskRelation).where(m.TaskRelation.flow_id == flow.id))
    existing = set(session.execute(select(m.Task.id).where(m.Task.flow_id == flow.id)).scalars())
    gone = existing - set(flow.task_ids)
    if gone:
        session.execute(delete(m.Task).where(m.Task.id.in_(gone)))
    _write_graph(session, flow, existing_task_ids=existing)


def _write_graph(session: Session, flow: Flow, existing_task_ids: set[int]) -> None:
    d = flow.definition
    ids_by_name: dict[str, int] = {}
    new_tasks: list[dict[str, object]] = []
    for position, (task, task_id, placement) in enumerate(
        zip(d.tasks, flow.task_ids, flow.task_placements, strict=True)
    ):
        ids_by_name[task.name] = task_id
        columns = _task_columns(task, position, placement)
        if task_id in existing_task_ids:
            session.execute(update(m.Task).where(m.Task.id == task_id).values(**columns))
        else:
            new_tasks.append({"id": task_id, "flow_id": flow.id, **columns})
    # One executemany per table instead of one ORM object per row: a flow at the tasks-per-flow
    # limit is written in a fraction of a second, so the write lock is held that long only.
    session.flush()
    if new_tasks:
        session.execute(insert(m.Task), new_tasks)
    relation_rows = [
        {
            "flow_id": flow.id,
            "position": position,
            "source_task_id": ids_by_name[rel.source],
            "target_task_id": ids_by_name[rel.target],
            "rerun": rel.rerun,
            "cycle_gap": rel.cycle_gap,
        }
        for position, rel in enumerate(d.relations)
    ]
    if relation_rows:
        session.execute(insert(m.TaskRelation), relation_rows)
    link_rows: dict[str, m.FlowLink] = {}
    for position, link in enumerate(flow.links):
        row = m.FlowLink(
            flow_id=flow.id,
            position=position,
            link_key=link.link_id,
            node_flow_id=link.node_flow_id,
            upstream_flow_id=link.upstream_flow_id,
            upstream_task_id=link.upstream_task_id,
            x=link.placement.x,
            y=link.placement.y,
        )
        session.add(row)
        link_rows[link.link_id] = row
    session.flush()
    for position, link_rel in enumerate(d.link_relations):
        session.add(
            m.LinkRelation(
                flow_id=flow.id,
                position=position,
                link_row_id=link_rows[link_rel.link_id].id,
                target_task_id=ids_by_name[link_rel.target_task_name],
                rerun=link_rel.rerun,
                cycle_gap=link_rel.cycle_gap,
            )
        )
    session.flush()


def load_flow(session: Session, flow_id: int) -> Flow | None:
    row = session.get(m.Flow, flow_id)
    if row is None:
        return None
    tasks = list(
        session.execute(select(m.Task).where(m.Task.flow_id == flow_id).order_by(m.Task.position)).scalars()
    )
    names = {t.id: t.name for t in tasks}
    relations = session.execute(
        select(m.TaskRelation).where(m.TaskRelation.flow_id == flow_id).order_by(m.TaskRelation.position)
    ).scalars()
    upstream_flow = m.Flow.__table__.alias("upstream_flow")
    upstream_task = m.Task.__table__.alias("upstream_task")
    link_rows = session.execute(
        select(m.FlowLink, upstream_flow.c.name, upstream_task.c.name)
        .join(upstream_flow, upstream_flow.c.id == m.FlowLink.upstream_flow_id)
        .outerjoin(upstream_task, upstream_task.c.id == m.FlowLink.upstream_task_id)
        .where(m.FlowLink.flow_id == flow_id)
        .order_by(m.FlowLink.position)
    ).all()
    links: list[ResolvedLink] = []
    link_key_by_row: dict[int, str] = {}
    flow_links: list[FlowLink] = []
    task_links: list[TaskLink] = []
    for link, flow_name, task_name in link_rows:
        link_key_by_row[link.id] = link.link_key
        links.append(
            ResolvedLink(
                link_id=link.link_key,
                node_flow_id=link.node_flow_id,
                upstream_flow_id=link.upstream_flow_id,
                upstream_flow_name=flow_name,
                upstream_task_id=link.upstream_task_id,
                upstream_task_name=task_name,
                placement=Placement(link.x, link.y),
            )
        )
        if link.upstream_task_id is None:
            flow_links.append(FlowLink(link_id=link.link_key, source_flow_name=flow_name))
        else:
            task_links.append(
                TaskLink(link_id=link.link_key, source_flow_name=flow_name, source_task_name=task_name)
            )
    link_relations = session.execute(
        select(m.LinkRelation).where(m.LinkRelation.flow_id == flow_id).order_by(m.LinkRelation.position)
    ).scalars()
    options, task_definitions = load_options(row.options, tuple(_task_definition(t) for t in tasks))
    definition = FlowDefinition(
        name=row.name,
        cycle=Cycle(row.cycle),
        cron=row.cron,
        type=FlowType(row.type),
        parameters=_load_parameters(row.parameters),
        alert_mode=row.alert_mode,
        submitter=row.submitter,
        owners=row.owners,
        visitors=row.visitors,
        sync_type=row.sync_type,
        desc=row.desc,
        start_date=row.start_date,
        tasks=task_definitions,
        relations=tuple(
            TaskRelation(
                source=names[r.source_task_id],
                target=names[r.target_task_id],
                rerun=r.rerun,
                cycle_gap=r.cycle_gap,
            )
            for r in relations
        ),
        flow_links=tuple(flow_links),
        task_links=tuple(task_links),
        link_relations=tuple(
            LinkRelation(
                link_id=link_key_by_row[lr.link_row_id],
                target_task_name=names[lr.target_task_id],
                rerun=lr.rerun,
                cycle_gap=lr.cycle_gap,
            )
            for lr in link_relations
        ),
        alert_to=row.alert_to,
        app_id=row.app_id,
        options=options,
    )
    # Links are kept in one position order; present them flow links first, as the definition does.
    links.sort(key=lambda link: link.upstream_task_id is not None)
    return Flow(
        id=row.id,
        org_id=row.org_id,
        dir_id=row.dir_id,
        definition=definition,
        task_ids=tuple(t.id for t in tasks),
        task_placements=tuple(Placement(t.x, t.y) for t in tasks),
        links=tuple(links),
        active=row.active,
        locked=row.locked,
        entry=row.entry,
        queue=row.queue,
        creator=row.creator,
        update_user=row.update_user,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _task_definition(t: m.Task) -> TaskDefinition:
    return TaskDefinition(
        name=t.name,
        type=t.type,
        cmd=t.cmd,
        resource=t.resource,
        sync_type=t.sync_type,
        submitter=t.submitter,
        file_package=t.file_package,
        cron=t.cron,
        priority_level=t.priority_level,
        timeout=t.timeout,
        retry_limit=t.retry_limit,
        retry_interval=t.retry_interval,
        success_code=t.success_code,
        wait_code=t.wait_code,
        as_link=t.as_link,
        run_mode=_load_run_mode(t.run_mode),
    )


def flow_id_taken(session: Session, flow_id: int) -> bool:
    """True if ``flow_id`` names a flow or a task premise's virtual node."""
    if session.get(m.Flow, flow_id) is not None:
        return True
    found = session.execute(select(m.FlowLink.id).where(m.FlowLink.node_flow_id == flow_id).limit(1))
    return found.first() is not None


def task_id_taken(session: Session, task_id: int) -> bool:
    return session.get(m.Task, task_id) is not None


def task_ids_taken_between(session: Session, low: int, high: int) -> set[int]:
    return set(session.execute(select(m.Task.id).where(m.Task.id.between(low, high))).scalars())


def find_by_name(session: Session, org_id: str, name: str) -> FlowSummary | None:
    row = session.execute(
        select(m.Flow).where(m.Flow.org_id == org_id, m.Flow.name == name)
    ).scalar_one_or_none()
    return _summary(row) if row else None


def get_summary(session: Session, flow_id: int) -> FlowSummary | None:
    row = session.get(m.Flow, flow_id)
    return _summary(row) if row else None


def task_ids_by_name(session: Session, flow_id: int) -> dict[str, int]:
    rows = session.execute(select(m.Task.name, m.Task.id).where(m.Task.flow_id == flow_id)).all()
    return {name: task_id for name, task_id in rows}


def _summary(row: m.Flow) -> FlowSummary:
    return FlowSummary(
        id=row.id,
        org_id=row.org_id,
        dir_id=row.dir_id,
        name=row.name,
        cycle=row.cycle,
        owners=row.owners,
        visitors=row.visitors,
        creator=row.creator,
        locked=row.locked,
    )


def list_org(session: Session, org_id: str) -> list[FlowSummary]:
    rows = session.execute(select(m.Flow).where(m.Flow.org_id == org_id).order_by(m.Flow.id)).scalars()
    return [_summary(r) for r in rows]


def search(
    session: Session,
    org_id: str,
    expression: str,
    sorters: list[tuple[str, bool]],
    offset: int,
    limit: int,
) -> list[FlowSummary]:
    """Flows of ``org_id`` whose id or name contains ``expression`` (ignoring case).

    ``sorters`` are (column, descending) pairs.
    """
    query = select(m.Flow).where(m.Flow.org_id == org_id)
    if expression:
        pattern = "%" + expression.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(m.Flow.name).like(pattern.lower(), escape="\\"),
                cast(m.Flow.id, String).like(pattern, escape="\\"),
            )
        )
    # Flows without a start date sort last in both directions, on every backend.
    order = [
        (SORT_COLUMNS[col].desc() if desc else SORT_COLUMNS[col].asc()).nulls_last() for col, desc in sorters
    ]
    query = query.order_by(*order, m.Flow.id).offset(offset).limit(limit)
    return [_summary(r) for r in session.execute(query).scalars()]


def dependents(session: Session, flow_id: int) -> list[tuple[int, str]]:
    """Other flows with a premise on ``flow_id`` or on one of its tasks: (id, name)."""
    rows = session.execute(
        select(m.Flow.id, m.Flow.name)
        .join(m.FlowLink, m.FlowLink.flow_id == m.Flow.id)
        .where(m.FlowLink.upstream_flow_id == flow_id, m.Flow.id != flow_id)
        .distinct()
        .order_by(m.Flow.id)
    ).all()
    return [(fid, name) for fid, name in rows]


def task_dependents(session: Session, task_ids: set[int]) -> list[tuple[int, str, int]]:
    """Flows with a task premise on one of ``task_ids``: (flow id, flow name, task id)."""
    if not task_ids:
        return []
    rows = session.execute(
        select(m.Flow.id, m.Flow.name, m.FlowLink.upstream_task_id)
        .join(m.FlowLink, m.FlowLink.flow_id == m.Flow.id)
        .where(m.FlowLink.upstream_task_id.in_(task_ids))
        .order_by(m.Flow.id)
    ).all()
    return [(fid, name, int(tid)) for fid, name, tid in rows if tid is not None]


def delete_flow(session: Session, flow_id: int) -> None:
    session.execute(delete(m.LinkRelation).where(m.LinkRelation.flow_id == flow_id))
    session.execute(delete(m.FlowLink).where(m.FlowLink.flow_id == flow_id))
    session.execute(delete(m.TaskRelation).where(m.TaskRelation.flow_id == flow_id))
    session.execute(delete(m.Task).where(m.Task.flow_id == flow_id))
    session.execute(delete(m.Flow).where(m.Flow.id == flow_id))


def set_active(session: Session, flow_id: int, active: int, user: str, now: datetime) -> None:
    session.execute(
        update(m.Flow).where(m.Flow.id == flow_id).values(active=active, update_user=user, updated_at=now)
    )
    if active:  # a paused schedule starts again from now; paused ticks are not caught up
        session.execute(delete(m.FlowSchedule).where(m.FlowSchedule.flow_id == flow_id))


def set_dir(session: Session, flow_id: int, dir_id: str, user: str, now: datetime) -> None:
    session.execute(
        update(m.Flow).where(m.Flow.id == flow_id).values(dir_id=dir_id, update_user=user, updated_at=now)
    )


def set_locked(session: Session, flow_id: int, locked: bool) -> None:
    session.execute(update(m.Flow).where(m.Flow.id == flow_id).values(locked=locked))


def task_location(session: Session, task_id: int) -> tuple[FlowSummary, str] | None:
    """The flow that holds task ``task_id``, and the task's name; None for an unknown task."""
    row = session.execute(
        select(m.Flow, m.Task.name).join(m.Task, m.Task.flow_id == m.Flow.id).where(m.Task.id == task_id)
    ).first()
    return None if row is None else (_summary(row[0]), row[1])
