"""Directory and time operations of the EnOS API (spec 3.2, 3.7, 3.13, 3.16)."""

from __future__ import annotations

from typing import Any

from flowyard.api.context import Call, Operation
from flowyard.api.schemas import CreateDirectory
from flowyard.api.timefmt import gmt_label, to_epoch_ms
from flowyard.services.directories import DirectoryNode


def create_directory(call: Call) -> dict[str, str]:
    parent = call.body.str("parentId", "")
    name = call.body.str("dirName", "")
    return {"dirId": call.ctx.directories.create(call.caller, parent, name, call.now)}


def _render(node: DirectoryNode) -> dict[str, Any]:
    children: list[dict[str, Any]] = [_render(child) for child in node.children]
    children += [
        {"editable": f.editable, "title": f.title, "type": 1, "key": f.flow_id, "isDirectory": False}
        for f in node.files
    ]
    return {"title": node.title, "type": 1, "key": node.id, "isDirectory": True, "children": children}


def list_directories(call: Call) -> list[dict[str, Any]]:
    return [_render(call.ctx.directories.tree(call.caller, call.now))]


def current_time(call: Call) -> int:
    return to_epoch_ms(call.now)


def time_zone(call: Call) -> dict[str, str]:
    return {"timezone": gmt_label(call.ctx.zone, call.now)}


OPERATIONS = (
    Operation("directories", "POST", "create", create_directory, body=CreateDirectory),
    Operation("directories", "GET", "listWorkFlowDirs", list_directories, read_only=True),
    Operation("time", "GET", "getCurrentTime", current_time, needs_user=False, read_only=True),
    Operation("time", "GET", "getTimeZone", time_zone, needs_user=False, read_only=True),
)
