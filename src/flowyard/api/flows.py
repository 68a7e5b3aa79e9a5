"""Flow operations of the EnOS API (spec 3.3-3.6, 3.8, 3.10, 3.14, 3.17-3.19), and Move Flow.

Move Flow (``action=move``) is a Flowyard extension: EnOS cannot move a flow between directories.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flowyard.api.context import Call, Operation
from flowyard.api.flow_codec import parse_definition, render_definition
from flowyard.api.flow_graph import parse_save, render_detail
from flowyard.api.limits import MAX_REQUESTED_ID, check_length, check_range
from flowyard.api.pagination import parse_page
from flowyard.api.schemas import (
    EXPRESSION,
    FLOW_ID,
    SEARCH_VALUE,
    FlowRef,
    ImportFlow,
    MoveFlow,
    SaveFlow,
    SearchFlows,
)
from flowyard.errors import InvalidParameterError

SEARCH_FIELDS = ("create_time", "update_time", "start_time")
SEARCH_FIELD_ERROR = "Illegal field, should be one of [create_time, update_time, start_time]."


def import_flow(call: Call) -> dict[str, Any]:
    body = call.body
    name = body.opt_str("flowName")
    if name is None or not name.strip():
        raise InvalidParameterError("Invalid parameter: flowName")
    dir_id = body.opt_str("dirId")
    if not dir_id:
        raise InvalidParameterError("Directory does not exist")
    flow_json = body.object("flowJson")
    if flow_json is None:
        raise InvalidParameterError("Invalid parameter: flowJson is required")
    limit = call.ctx.settings.max_tasks_per_flow
    tasks = flow_json.list("tasks") or []
    if len(tasks) > limit:  # counted before parsing: nothing of an oversized flow is read further
        raise InvalidParameterError(
            f"Invalid parameter: flowJson.tasks lists {len(tasks)} tasks; a flow may have at most {limit}"
            " (server setting max_tasks_per_flow)"
        )
    definition = parse_definition(flow_json, name=name)
    desc = body.opt_str("desc")
    if desc:
        definition = replace(definition, desc=desc)
    requested = body.opt_int("flowId")
    if requested is not None:
        check_range(requested, "flowId", 1, MAX_REQUESTED_ID)
    flow_id = call.ctx.flows.import_flow(
        call.caller, definition, dir_id=dir_id, requested_id=requested, now=call.now
    )
    return {"flowId": flow_id}


def export_flow(call: Call) -> dict[str, Any]:
    view = call.ctx.flows.view(call.caller, call.query_int("flowId"))
    return render_definition(view.flow, call.version)


def get_flow(call: Call) -> dict[str, Any]:
    view = call.ctx.flows.view(call.caller, call.query_int("flowId"))
    return render_detail(view, call.version, call.ctx.zone)


def save_flow(call: Call) -> dict[str, Any]:
    return {"flowId": call.ctx.flows.save(call.caller, parse_save(call.body), call.now)}


def move_flow(call: Call) -> str:
    dir_id = call.body.opt_str("dirId")
    if not dir_id:
        raise InvalidParameterError("Directory does not exist")
    call.ctx.flows.move(call.caller, call.body.int("flowId"), dir_id, call.now)
    return ""


def search_flows(call: Call) -> list[dict[str, Any]]:
    page = parse_page(call.body, call.version, SEARCH_FIELDS, SEARCH_FIELD_ERROR)
    expression = check_length(call.body.str("expression", ""), "expression")
    found = call.ctx.flows.search(call.caller, expression, page.sorters, page.index, page.size)
    return [{"flowId": str(f.id), "flowName": f.name} for f in found]


def my_flows(call: Call) -> list[dict[str, Any]]:
    expression = check_length(call.query_str("expression", "searchValue") or "", "expression")
    return [
        {
            "flowId": str(item.summary.id),
            "editable": item.editable,
            "flowName": item.summary.name,
            "cycle": item.summary.cycle,
        }
        for item in call.ctx.flows.mine(call.caller, expression)
    ]


def delete_flow(call: Call) -> str:
    call.ctx.flows.delete(call.caller, call.query_int("flowId"))
    return ""


def enable_flow(call: Call) -> str:
    call.ctx.flows.set_active(call.caller, call.body.int("flowId"), True, call.now)
    return ""


def disable_flow(call: Call) -> str:
    call.ctx.flows.set_active(call.caller, call.body.int("flowId"), False, call.now)
    return ""


OPERATIONS = (
    Operation(
        "flows",
        "POST",
        "import",
        import_flow,
        internal_message=("Failed to create workflow", "Workflow creating failed"),
        body=ImportFlow,
    ),
    Operation("flows", "GET", "export", export_flow, read_only=True, query=(FLOW_ID,)),
    Operation("flows", "GET", "get", get_flow, read_only=True, query=(FLOW_ID,)),
    Operation("flows", "GET", "loadForEdit", get_flow, read_only=True, query=(FLOW_ID,)),
    Operation("flows", "POST", "save", save_flow, body=SaveFlow),
    Operation("flows", "POST", "move", move_flow, body=MoveFlow),
    Operation("flows", "POST", "search", search_flows, read_only=True, body=SearchFlows),
    Operation("flows", "GET", "getMyFlow", my_flows, read_only=True, query=(EXPRESSION, SEARCH_VALUE)),
    Operation("flows", "GET", "delete", delete_flow, query=(FLOW_ID,)),
    Operation("flows", "POST", "enable", enable_flow, body=FlowRef),
    Operation("flows", "POST", "disable", disable_flow, body=FlowRef),
)
