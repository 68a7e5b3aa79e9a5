"""Flow use cases: import, read, save, move, search, delete, enable and disable.

Each public method is one transaction. Callers pass a checked
:class:`~flowyard.domain.permissions.Caller` and ``now``; nothing here reads
the clock or knows the wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.flows import Flow, FlowDefinition, Placement, ResolvedLink
from flowyard.domain.permissions import (
    Caller,
    Rights,
    flow_rights,
    require_edit,
    require_read,
    require_unlocked,
)
from flowyard.domain.validation import validate_definition
from flowyard.errors import InvalidParameterError, StateError
from flowyard.services.flow_save import SaveRequest, build_saved_flow
from flowyard.store import counters
from flowyard.store import directories as dir_store
from flowyard.store import flows as store
from flowyard.store.db import transaction

FLOW_NOT_FOUND = "Flow not found"
DEPENDED_ON_V21 = "This workflow is relied on by other workflows and cannot be deleted."
DEPENDED_ON_V20 = "This workflow is relied on by other workflows. You cannot delete this workflow."


@dataclass(frozen=True, slots=True)
class FlowView:
    """A flow as one caller sees it."""

    flow: Flow
    rights: Rights
    caller_locked: bool


@dataclass(frozen=True, slots=True)
class FlowListItem:
    summary: store.FlowSummary
    editable: bool


def load_visible(session: Session, caller: Caller, flow_id: int) -> Flow:
    """The flow, if it exists in the caller's organisation; otherwise 62102 "Flow not found"."""
    flow = store.load_flow(session, flow_id)
    if flow is None or flow.org_id != caller.org_id:
        raise InvalidParameterError(FLOW_NOT_FOUND)
    return flow


def rights_of(caller: Caller, flow: Flow) -> Rights:
    d = flow.definition
    return flow_rights(caller, owners=d.owners, visitors=d.visitors, creator=flow.creator)


def resolve_links(session: Session, org_id: str, definition: FlowDefinition) -> list[ResolvedLink]:
    """Turn named premises into ids, allocating virtual node ids for task premises.

    Raises 62102 naming the first premise that points at nothing.
    """
    resolved: list[ResolvedLink] = []
    for flow_link in definition.flow_links:
        upstream = store.find_by_name(session, org_id, flow_link.source_flow_name)
        if upstream is None:
            raise InvalidParameterError(
                f"Workflow validation failed: flowLink {flow_link.link_id} references unknown "
                f"upstream flow '{flow_link.source_flow_name}'"
            )
        resolved.append(
            ResolvedLink(
                link_id=flow_link.link_id,
                node_flow_id=upstream.id,
                upstream_flow_id=upstream.id,
                upstream_flow_name=upstream.name,
            )
        )
    for task_link in definition.task_links:
        upstream = store.find_by_name(session, org_id, task_link.source_flow_name)
        if upstream is None:
            raise InvalidParameterError(
                f"Workflow validation failed: taskLink {task_link.link_id} references unknown "
                f"upstream flow '{task_link.source_flow_name}'"
            )
        task_id = store.task_ids_by_name(session, upstream.id).get(task_link.source_task_name)
        if task_id is None:
            raise InvalidParameterError(
                f"Workflow validation failed: taskLink {task_link.link_id} references unknown task "
                f"'{task_link.source_task_name}' of flow '{upstream.name}'"
            )
        resolved.append(
            ResolvedLink(
                link_id=task_link.link_id,
                node_flow_id=counters.allocate(
                    session, counters.FLOW_IDS, lambda n: store.flow_id_taken(session, n)
                ),
                upstream_flow_id=upstream.id,
                upstream_flow_name=upstream.name,
                upstream_task_id=task_id,
                upstream_task_name=task_link.source_task_name,
            )
        )
    return resolved


class FlowService:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def import_flow(
        self,
        caller: Caller,
        definition: FlowDefinition,
        *,
        dir_id: str,
        requested_id: int | None,
        now: datetime,
    ) -> int:
        """Create a flow from a portable definition; returns its id.

        ``requested_id`` is used when it is free, otherwise a new id is
        allocated (spec 3.14, zh rule).
        """
        require_unlocked(caller)
        validate_definition(definition)
        with transaction(self._sessions) as session:
            directory = dir_store.get(session, dir_id)
            if directory is None or directory.org_id != caller.org_id:
                raise InvalidParameterError("Directory does not exist")
            if store.find_by_name(session, caller.org_id, definition.name) is not None:
                raise InvalidParameterError("Workflow validation failed: Flow name must be unique")
            links = resolve_links(session, caller.org_id, definition)
            if (
                requested_id is not None
                and requested_id > 0
                and not store.flow_id_taken(session, requested_id)
            ):
                flow_id = requested_id
            else:
                flow_id = counters.allocate(
                    session, counters.FLOW_IDS, lambda n: store.flow_id_taken(session, n)
                )
            task_ids = tuple(
                counters.allocate_many(
                    session,
                    counters.TASK_IDS,
                    len(definition.tasks),
                    lambda low, high: store.task_ids_taken_between(session, low, high),
                )
            )
            flow = Flow(
                id=flow_id,
                org_id=caller.org_id,
                dir_id=dir_id,
                definition=definition,
                task_ids=task_ids,
                task_placements=tuple(Placement() for _ in definition.tasks),
                links=tuple(links),
                active=0,
                entry=1,
                creator=caller.username,
                update_user=caller.username,
                created_at=now,
                updated_at=now,
            )
            store.insert_flow(session, flow)
            return flow_id

    def view(self, caller: Caller, flow_id: int) -> FlowView:
        """Get Flow, Export Flow and Load Flow For Edit: the flow plus the caller's rights."""
        with transaction(self._sessions, read_only=True) as session:
            flow = load_visible(session, caller, flow_id)
        rights = rights_of(caller, flow)
        require_read(rights)
        return FlowView(flow=flow, rights=rights, caller_locked=caller.locked)

    def save(self, caller: Caller, request: SaveRequest, now: datetime) -> int:
        """Save Flow: overwrite a stored flow from the editor's graph model; returns its id."""
        require_unlocked(caller)
        with transaction(self._sessions) as session:
            stored = load_visible(session, caller, request.flow_id)
            require_edit(rights_of(caller, stored))
            require_unlocked(caller, flow_locked=stored.locked)
            flow = build_saved_flow(session, stored, request)
            validate_definition(flow.definition)
            clash = store.find_by_name(session, caller.org_id, flow.definition.name)
            if clash is not None and clash.id != flow.id:
                raise InvalidParameterError("Workflow validation failed: Flow name must be unique")
            removed = set(stored.task_ids) - set(flow.task_ids)
            users = [dep for dep in store.task_dependents(session, removed) if dep[0] != flow.id]
            if users:
                fid, fname, tid = users[0]
                raise StateError(f"Task {tid} cannot be removed: workflow {fid} ({fname}) relies on it")
            store.replace_flow(session, replace(flow, update_user=caller.username, updated_at=now))
            return flow.id

    def move(self, caller: Caller, flow_id: int, dir_id: str, now: datetime) -> None:
        """Move Flow (a Flowyard extension): put the flow into directory ``dir_id`` of its organisation.

        The rights of Save Flow: owners and the creator may move, locked users and flows get 62105;
        an unknown directory, or one of another organisation, is 62102 "Directory does not exist".
        """
        require_unlocked(caller)
        with transaction(self._sessions) as session:
            flow = store.get_summary(session, flow_id)
            if flow is None or flow.org_id != caller.org_id:
                raise InvalidParameterError(FLOW_NOT_FOUND)
            rights = flow_rights(caller, owners=flow.owners, visitors=flow.visitors, creator=flow.creator)
            require_edit(rights)
            require_unlocked(caller, flow_locked=flow.locked)
            directory = dir_store.get(session, dir_id)
            if directory is None or directory.org_id != caller.org_id:
                raise InvalidParameterError("Directory does not exist")
            store.set_dir(session, flow_id, dir_id, caller.username, now)

    def search(
        self, caller: Caller, expression: str, sorters: list[tuple[str, bool]], page: int, size: int
    ) -> list[store.FlowSummary]:
        """Search Flow: every flow of the organisation matching ``expression``; ``page`` counts from 0."""
        with transaction(self._sessions, read_only=True) as session:
            return store.search(session, caller.org_id, expression, sorters, page * size, size)

    def mine(self, caller: Caller, expression: str) -> list[FlowListItem]:
        """Get My Flow: flows the caller owns, created or visits, whose name or id contains ``expression``.

        Names match ignoring case, like Search Flow.
        """
        with transaction(self._sessions) as session:
            summaries = store.list_org(session, caller.org_id)
        items: list[FlowListItem] = []
        for s in summaries:
            rights = flow_rights(caller, owners=s.owners, visitors=s.visitors, creator=s.creator)
            if not rights.read:
                continue
            if expression and expression.lower() not in s.name.lower() and expression not in str(s.id):
                continue
            items.append(FlowListItem(summary=s, editable=rights.edit))
        return items

    def delete(self, caller: Caller, flow_id: int) -> None:
        with transaction(self._sessions) as session:
            flow = load_visible(session, caller, flow_id)
            require_edit(rights_of(caller, flow))
            require_unlocked(caller, flow_locked=flow.locked)
            if store.dependents(session, flow_id):
                raise StateError(DEPENDED_ON_V21, v20_message=DEPENDED_ON_V20)
            store.delete_flow(session, flow_id)

    def set_active(self, caller: Caller, flow_id: int, active: bool, now: datetime) -> None:
        """Enable Flow / Disable Flow: switch periodic scheduling on or off."""
        with transaction(self._sessions) as session:
            flow = load_visible(session, caller, flow_id)
            require_edit(rights_of(caller, flow))
            require_unlocked(caller, flow_locked=flow.locked)
            store.set_active(session, flow_id, 1 if active else 0, caller.username, now)

    def set_locked(self, flow_id: int, locked: bool) -> None:
        """Administrative lock: a locked flow cannot be changed, enabled, disabled or triggered."""
        with transaction(self._sessions) as session:
            if store.get_summary(session, flow_id) is None:
                raise InvalidParameterError(FLOW_NOT_FOUND)
            store.set_locked(session, flow_id, locked)
