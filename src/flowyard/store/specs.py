"""Stored FlowSpec documents: which flow a DataWorks workflow id names, and its original text.

A row exists for every flow imported through ImportWorkflowDefinition; the flow's deletion
removes it (foreign key ``ON DELETE CASCADE``). ``workflow_id`` is unique per project.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowyard.store import models


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
