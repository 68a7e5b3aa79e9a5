"""Directory use cases: create a directory, list the organisation's tree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.permissions import Caller, flow_rights, require_unlocked
from flowyard.errors import InvalidParameterError
from flowyard.store import directories as store
from flowyard.store import flows as flow_store
from flowyard.store.db import transaction

MAX_DIR_NAME = 255


@dataclass(frozen=True, slots=True)
class FlowFile:
    flow_id: int
    title: str
    editable: bool


@dataclass(slots=True)
class DirectoryNode:
    id: str
    title: str
    children: list[DirectoryNode] = field(default_factory=list)
    files: list[FlowFile] = field(default_factory=list)


class DirectoryService:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._sessions = session_factory

    def root(self, caller: Caller, now: datetime) -> str:
        with transaction(self._sessions) as session:
            return store.ensure_root(session, caller.org_id, now).id

    def create(self, caller: Caller, parent_id: str, name: str, now: datetime) -> str:
        """Create Directory; returns the new 32-hex id. A locked user may not (62105), as for every
        other change."""
        require_unlocked(caller)
        if not name or not name.strip():
            raise InvalidParameterError("param: dirName cannot be empty")
        if not parent_id:
            raise InvalidParameterError("param: parentId cannot be empty")
        if len(name) > MAX_DIR_NAME or any(ch in name for ch in "/\r\n\t\0"):
            raise InvalidParameterError(
                f"param: dirName must be at most {MAX_DIR_NAME} characters without '/' or control characters"
            )
        with transaction(self._sessions) as session:
            store.ensure_root(session, caller.org_id, now)
            parent = store.get(session, parent_id)
            if parent is None or parent.org_id != caller.org_id:
                raise InvalidParameterError("parentId not found")
            if store.find_child(session, parent_id, name) is not None:
                raise InvalidParameterError("A directory of the same name already exists")
            dir_id = uuid.uuid4().hex
            store.create(session, dir_id, caller.org_id, parent_id, name, now)
            return dir_id

    def tree(self, caller: Caller, now: datetime) -> DirectoryNode:
        """List Workflow Directories: the root with every sub-directory and flow of the organisation."""
        with transaction(self._sessions) as session:
            root = store.ensure_root(session, caller.org_id, now)
            rows = store.list_org(session, caller.org_id)
            flows = flow_store.list_org(session, caller.org_id)
        nodes = {row.id: DirectoryNode(id=row.id, title=row.name) for row in rows}
        for row in rows:
            if row.parent_id is not None and row.parent_id in nodes:
                nodes[row.parent_id].children.append(nodes[row.id])
        for flow in flows:
            rights = flow_rights(caller, owners=flow.owners, visitors=flow.visitors, creator=flow.creator)
            nodes[flow.dir_id].files.append(FlowFile(flow.id, flow.name, rights.edit))
        return nodes[root.id]
