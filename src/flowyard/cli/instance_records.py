"""Reading the records the run APIs answer with: statuses, and the task nodes of an instance graph.

FlowInstance and TaskInstance data comes from servers of several versions, so
statuses are read from a code or a name, and graph nodes from camelCase or
snake_case keys alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flowyard.domain.states import Status

from .flows import graph_of
from .output import cell

__all__ = ["TaskNode", "first_of", "graph_nodes", "graph_tasks", "record_status", "status_label", "status_of"]

_CODE = re.compile(r"-?[0-9]+")


def status_of(value: Any) -> Status | None:
    """The :class:`Status` of a code (int or digits) or a name (any case, ``-`` for ``_``); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return Status(value)
        except ValueError:
            return None
    if isinstance(value, str):
        text = value.strip()
        if _CODE.fullmatch(text):
            return status_of(int(text))
        return Status.__members__.get(text.upper().replace("-", "_"))
    return None


def record_status(record: dict[str, Any]) -> Status | None:
    """The status of a FlowInstance or TaskInstance: its ``status`` code, else its status name."""
    found = status_of(record.get("status"))
    if found is None:
        found = status_of(record.get("statusDesc", record.get("stsDesc")))
    return found


def status_label(record: dict[str, Any]) -> str:
    """The status name of a record (``RUNNING``), or what it holds when that is no known status."""
    status = record_status(record)
    return status.name if status is not None else cell(record.get("statusDesc") or record.get("status"))


def first_of(node: dict[str, Any], *keys: str) -> Any:
    return next((node[key] for key in keys if node.get(key) is not None), None)


@dataclass(frozen=True, slots=True)
class TaskNode:
    """A task of an instance graph (camelCase or snake_case keys read alike)."""

    name: str
    task_id: str
    task_inst_id: str
    status: str

    @classmethod
    def of(cls, node: dict[str, Any]) -> TaskNode:
        return cls(
            name=cell(first_of(node, "taskName", "task_name")),
            task_id=cell(first_of(node, "taskId", "task_id")),
            task_inst_id=cell(first_of(node, "taskInstId", "task_inst_id", "instId", "inst_id")),
            status=cell(node.get("status")),
        )

    @property
    def key(self) -> str:
        return self.task_inst_id or self.task_id or self.name


def graph_nodes(instance: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The ``tasks`` or ``flows`` nodes of an instance's graph (a JSON string or an object)."""
    nodes = graph_of(instance).get(kind)
    return [node for node in nodes if isinstance(node, dict)] if isinstance(nodes, list) else []


def graph_tasks(instance: dict[str, Any]) -> list[TaskNode]:
    return [TaskNode.of(node) for node in graph_nodes(instance, "tasks")]
