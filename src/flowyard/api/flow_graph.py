"""The editor's view of a flow: ``FlowDetail`` with its ``graph`` (spec 4.12-4.16), and Save Flow's body."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from flowyard.api.envelope import V20
from flowyard.api.flow_codec import (
    compact_json,
    parse_cycle,
    parse_flow_type,
    parse_options_if_given,
    parse_parameters,
    parse_task,
    render_options,
    render_parameters,
)
from flowyard.api.timefmt import fmt_timestamp
from flowyard.api.wire import Reader, to_date
from flowyard.domain.flows import Flow, Placement
from flowyard.services.flow_save import GraphEdge, GraphFlowNode, GraphTask, SaveRequest
from flowyard.services.flows import FlowView


def _gap(gap: str, flow: Flow) -> str:
    return gap or f"{flow.definition.cycle}0"


def render_graph(flow: Flow, version: str) -> dict[str, Any]:
    """The FlowGraph document (serialised into ``FlowDetail.graph``)."""
    d = flow.definition
    task_node = {task.name: f"t_{tid}" for task, tid in zip(d.tasks, flow.task_ids, strict=True)}
    link_node = {link.link_id: f"f_{link.node_flow_id}" for link in flow.links}
    relations = [
        {
            "cycleGap": _gap(r.cycle_gap, flow),
            "rerun": r.rerun,
            "source": task_node[r.source],
            "target": task_node[r.target],
        }
        for r in d.relations
    ] + [
        {
            "cycleGap": _gap(r.cycle_gap, flow),
            "rerun": r.rerun,
            "source": link_node[r.link_id],
            "target": task_node[r.target_task_name],
        }
        for r in d.link_relations
    ]
    graph: dict[str, Any] = {
        "name": d.name,
        "creator": flow.creator,
        "freq": d.cron,
        "cycle": str(d.cycle),
        "type": int(d.type),
        "active": flow.active,
        "alertMode": d.alert_mode,
        "owners": d.owners,
        "visitors": d.visitors,
        "startTime": d.start_date.isoformat() if d.start_date else "",
        "doAs": d.submitter,
        "syncType": d.sync_type,
        "parameters": render_parameters(d.parameters),
        "queue": flow.queue,
        "desc": d.desc,
        "flows": [
            {
                "isVirtual": link.is_virtual,
                "flowId": str(link.node_flow_id),
                "flowName": link.node_name,
                "nodeId": f"f_{link.node_flow_id}",
                "x": link.placement.x,
                "y": link.placement.y,
            }
            for link in flow.links
        ],
        "tasks": [
            {"taskName": task.name, "taskId": str(tid), "nodeId": f"t_{tid}", "x": place.x, "y": place.y}
            for task, tid, place in zip(d.tasks, flow.task_ids, flow.task_placements, strict=True)
        ],
        "relations": relations,
    }
    if version == V20:
        graph["alertTo"] = d.alert_to
        graph["appId"] = d.app_id
    return graph


def render_detail(view: FlowView, version: str, zone: tzinfo) -> dict[str, Any]:
    """Get Flow and Load Flow For Edit's ``data``."""
    flow = view.flow
    d = flow.definition
    out: dict[str, Any] = {
        "flowId": flow.id,
        "flowName": d.name,
        "active": flow.active,
        "creator": flow.creator,
        "createTime": fmt_timestamp(flow.created_at, zone),
        "updateUser": flow.update_user,
        "updateTime": fmt_timestamp(flow.updated_at, zone),
        "freq": d.cron,
        "cycle": str(d.cycle),
        "parameters": render_parameters(d.parameters),
        "owner": d.owners,
        "visitor": d.visitors,
        "doAs": d.submitter,
        "alertMode": d.alert_mode,
        "graph": compact_json(render_graph(flow, version)),
        "entry": flow.entry,
        "type": int(d.type),
        "syncType": d.sync_type,
        "desc": d.desc,
        "startTime": d.start_date.isoformat() if d.start_date else "",
        "queue": flow.queue,
        "virtual": False,
        "locked": flow.locked,
        "hasEditPri": view.rights.edit,
        "hasReadPri": view.rights.read,
        "isUserLocked": view.caller_locked,
    }
    if version == V20:
        out["alertTo"] = d.alert_to
        out["appId"] = d.app_id
    # Flowyard's FlowSpec options (timeZone, ...), as Export Flow gives them: only non-default ones.
    out.update(render_options(d.options))
    return out


def _placement(r: Reader) -> Placement:
    return Placement(x=r.float("x", 0.0), y=r.float("y", 0.0))


def parse_save(body: Reader) -> SaveRequest:
    """Save Flow's body; the graph parts may also come wrapped in a ``graph`` object or string."""
    graph = body.object("graph") or body
    tasks = graph.list("tasks")
    flows = graph.list("flows")
    relations = graph.list("relations")
    start = body.raw("startTime")
    return SaveRequest(
        flow_id=body.int("id", None, "flowId"),
        type=parse_flow_type(body.int("type"), body.at("type")),
        name=body.str("name", None, "flowName"),
        cron=body.str("freq", None, "cron"),
        cycle=parse_cycle(body.str("cycle"), body.at("cycle")),
        alert_mode=body.int("alertMode", 0),
        do_as=body.str("doAs", "", "submitter"),
        owners=body.str("owners", "", "owner"),
        visitors=body.str("visitors", "", "visitor"),
        active=body.int("active", 0),
        start_date=None if start is None else to_date(start, body.at("startTime")),
        parameters=None
        if body.raw("parameters") is None
        else parse_parameters(body.raw("parameters"), body.at("parameters")),
        desc=body.opt_str("desc"),
        queue=body.opt_str("queue"),
        options=parse_options_if_given(body),
        tasks=None
        if tasks is None
        else tuple(
            GraphTask(
                task_id=t.int("taskId") if t.raw("taskId") not in (None, "") else None,
                name=t.opt_str("taskName"),
                placement=_placement(t),
                # Flowyard's extension: a task definition to create or edit a task (services/flow_save).
                definition=parse_task(task) if (task := t.object("task")) is not None else None,
                node_id=t.str("nodeId", ""),
            )
            for t in graph.items("tasks")
        ),
        flows=None
        if flows is None
        else tuple(
            GraphFlowNode(
                flow_id=f.int("flowId"),
                name=f.str("flowName", ""),
                is_virtual=f.bool("isVirtual", False),
                node_id=f.str("nodeId", ""),
                placement=_placement(f),
            )
            for f in graph.items("flows")
        ),
        relations=None
        if relations is None
        else tuple(
            GraphEdge(
                source=e.str("source"),
                target=e.str("target"),
                rerun=e.bool("rerun", True),
                cycle_gap=e.str("cycleGap", ""),
            )
            for e in graph.items("relations")
        ),
    )
