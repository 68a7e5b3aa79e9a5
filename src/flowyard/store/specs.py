"""Stored FlowSpec documents: which flow a DataWorks workflow id names, and its original text.

A row exists for every flow imported through ImportWorkflowDefinition; the flow's deletion
removes it (foreign key ``ON DELETE CASCADE``). ``workflow_id`` is unique per project. A flow without
a row (made through the EnOS API) is the workflow whose id is its flow id.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from flowyard.store import models

#: ``flows.type`` of a periodic flow (``FlowType.PERIODIC``), a DataWorks CycleWorkflow.
PERIODIC = 1


@dataclass(frozen=True, slots=True)
class StoredSpec:
    flow_id: int
    project_id: int
    workflow_id: str
    document: str


def _to_spec(row: models.FlowSpecRecord) -> StoredSpec:
    return StoredSpec(row.flow_id, row.project_id, row.workflow_id, row.document)


def by_workflow_id(session: Session, project_id: int, workflow_id: str) -> StoredSpec | None:
    row = session.scalar(
        select(models.FlowSpecRecord).where(
            models.FlowSpecRecord.project_id == project_id, models.FlowSpecRecord.workflow_id == workflow_id
        )
    )
    return None if row is None else _to_spec(row)


def by_flow_id(session: Session, flow_id: int) -> StoredSpec | None:
    row = session.get(models.FlowSpecRecord, flow_id)
    return None if row is None else _to_spec(row)


def save(session: Session, spec: StoredSpec) -> None:
    """Insert or replace the row of ``spec.flow_id``."""
    row = session.get(models.FlowSpecRecord, spec.flow_id)
    if row is None:
        session.add(
            models.FlowSpecRecord(
                flow_id=spec.flow_id,
                project_id=spec.project_id,
                workflow_id=spec.workflow_id,
                document=spec.document,
            )
        )
    else:
        row.project_id, row.workflow_id, row.document = spec.project_id, spec.workflow_id, spec.document
    session.flush()


@dataclass(frozen=True, slots=True)
class WorkflowPage:
    """One page of an organisation's workflows: ``(flow id, workflow id)`` by flow id, and the total."""

    total: int
    items: list[tuple[int, str]]


def page_workflows(
    session: Session, org_id: str, *, periodic: bool | None, name: str, offset: int, limit: int
) -> WorkflowPage:
    """The flows of ``org_id`` (periodic or not when ``periodic`` is given) whose name contains
    ``name`` ignoring case, ordered by flow id, ``limit`` of them from ``offset``.

    Case folding is the database's ``lower()``, so on SQLite only ASCII letters fold.
    """
    flow, spec = models.Flow, models.FlowSpecRecord
    wanted: ColumnElement[bool] = flow.org_id == org_id
    if periodic is not None:
        wanted = and_(wanted, flow.type == PERIODIC if periodic else flow.type != PERIODIC)
    if name:
        pattern = "%" + name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        wanted = and_(wanted, func.lower(flow.name).like(pattern, escape="\\"))
    total = session.scalar(select(func.count()).select_from(flow).where(wanted)) or 0
    rows = session.execute(
        select(flow.id, spec.workflow_id)
        .outerjoin(spec, spec.flow_id == flow.id)
        .where(wanted)
        .order_by(flow.id)
        .offset(offset)
        .limit(limit)
    )
    return WorkflowPage(total, [(flow_id, workflow_id or str(flow_id)) for flow_id, workflow_id in rows])
