"""Write one converted FlowSpec import into the database, inside the caller's transaction.

The workflow id (``spec.workflows[0].id``) names the flow within the project. A known id replaces
that flow's definition in place (same flow id; a task keeps its id by node id, then by name; a task
another flow depends on cannot be removed); a missing or unknown id creates a flow in the
organisation's root directory. Either way every member of the organisation owns the flow (the
project is organisation-wide), and a flow name used by another flow of the organisation is refused.
The conversion itself is :mod:`flowyard.services.workflow_import`; the transaction, and the job it
belongs to, are the caller's (:class:`flowyard.services.dataworks.WorkflowSpecService`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from flowyard.domain.flows import Flow, Placement, TaskDefinition
from flowyard.errors import InvalidParameterError, LockedError, StateError
from flowyard.flowspec import FlowSpecDocument, FlowSpecError, WorkflowSpec, to_workflow
from flowyard.services.workflow_import import Conversion
from flowyard.store import counters
from flowyard.store import directories as dir_store
from flowyard.store import flows as flow_store
from flowyard.store import identity as identity_store
from flowyard.store import jobs as job_store
from flowyard.store import specs as spec_store

IMPORTER = "dataworks-import"


@dataclass(frozen=True, slots=True)
class Saved:
    """What an import did: its job type (``Create`` or ``Update``) and the workflow id it saved."""

    job_type: str
    workflow_id: str


def locked_message(flow_id: int) -> str:
    """Why the DataWorks face refuses to change a locked flow (an administrator locked it, as on
    the EnOS face, where the same flow answers 62105)."""
    return (
        f"Forbidden: workflow {flow_id} is locked and cannot be changed or deleted;"
        f" an administrator can unlock it with `flowyard admin flow unlock {flow_id}`."
    )


def job_type(session: Session, project_id: int, doc: FlowSpecDocument) -> str:
    """``Update`` when the document's workflow id is already in the project, else ``Create``."""
    try:
        workflow_id = to_workflow(doc).id
    except FlowSpecError:
        return job_store.CREATE  # the run reports why
    known = spec_store.by_workflow_id(session, project_id, workflow_id) if workflow_id else None
    return job_store.UPDATE if known is not None else job_store.CREATE


def save_import(
    session: Session,
    project_id: int,
    org_id: str,
    text: str,
    wf: WorkflowSpec,
    conversion: Conversion,
    now: datetime,
) -> Saved:
    """Create or replace the flow of ``wf`` and store ``text`` as its FlowSpec document."""
    definition = conversion.definition
    known = spec_store.by_workflow_id(session, project_id, wf.id) if wf.id else None
    stored = flow_store.load_flow(session, known.flow_id) if known is not None else None
    if stored is not None and stored.locked:
        raise LockedError(locked_message(stored.id))
    clash = flow_store.find_by_name(session, org_id, definition.name)
    if clash is not None and (stored is None or clash.id != stored.id):
        raise InvalidParameterError(
            f"a flow named '{definition.name}' already exists (flow {clash.id}) for another workflow"
        )
    active = 1 if conversion.active else 0
    # The project is organisation-wide, so every member owns what was imported into it.
    members = sorted(user.username for user in identity_store.list_users(session, org_id))
    definition = replace(definition, owners=";".join(members))
    if stored is None:
        flow_id = counters.allocate(
            session, counters.FLOW_IDS, lambda n: flow_store.flow_id_taken(session, n)
        )
        flow = Flow(
            id=flow_id,
            org_id=org_id,
            dir_id=dir_store.ensure_root(session, org_id, now).id,
            definition=definition,
            task_ids=_task_ids(session, definition.tasks, {}),
            task_placements=tuple(Placement() for _ in definition.tasks),
            links=(),
            active=active,
            creator=IMPORTER,
            update_user=IMPORTER,
            created_at=now,
            updated_at=now,
        )
        flow_store.insert_flow(session, flow)
    else:
        old_ids = dict(zip((t.name for t in stored.definition.tasks), stored.task_ids, strict=True))
        by_node = {
            t.node_id: tid
            for t, tid in zip(stored.definition.tasks, stored.task_ids, strict=True)
            if t.node_id
        }
        task_ids = _task_ids(session, definition.tasks, old_ids, by_node)
        removed = set(stored.task_ids) - set(task_ids)
        users = [d for d in flow_store.task_dependents(session, removed) if d[0] != stored.id]
        if users:
            raise StateError(f"task {users[0][2]} cannot be removed: flow {users[0][0]} relies on it")
        flow = Flow(
            id=stored.id,
            org_id=org_id,
            dir_id=stored.dir_id,
            definition=definition,
            task_ids=task_ids,
            task_placements=tuple(Placement() for _ in definition.tasks),
            links=(),
            active=active,
            creator=stored.creator,
            update_user=IMPORTER,
            created_at=stored.created_at,
            updated_at=now,
        )
        flow_store.replace_flow(session, flow)
    workflow_id = wf.id or str(flow.id)
    spec_store.save(session, spec_store.StoredSpec(flow.id, project_id, workflow_id, text))
    return Saved(job_store.CREATE if stored is None else job_store.UPDATE, workflow_id)


def _task_ids(
    session: Session,
    tasks: tuple[TaskDefinition, ...],
    old: dict[str, int],
    by_node: dict[str, int] | None = None,
) -> tuple[int, ...]:
    """Task ids for an import: a node keeps its task id by node id first (a node renamed in
    DataWorks stays the same task), then by name; anything else gets a new id."""
    by_node = by_node or {}
    ids: list[int] = []
    used: set[int] = set()
    for task in tasks:
        known = by_node.get(task.node_id) if task.node_id else None
        if known is None or known in used:
            known = old.get(task.name)
        if known is None or known in used:
            known = counters.allocate(
                session, counters.TASK_IDS, lambda n: flow_store.task_id_taken(session, n)
            )
        used.add(known)
        ids.append(known)
    return tuple(ids)
