"""Run operations of the EnOS API: triggers, flow instances, task instances, logs (spec 3.1, 3.9, 3.11,
3.12, 3.15, 3.20-3.22)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowyard.api.context import Call, Operation
from flowyard.api.envelope import V20
from flowyard.api.flow_codec import (
    compact_json,
    parse_flow_type,
    parse_parameters,
    render_parameters,
    render_run_mode,
)
from flowyard.api.limits import check_length
from flowyard.api.pagination import parse_page
from flowyard.api.schemas import (
    FLOW_INST_ID,
    MAX_LENGTH,
    TASK_INST_ID,
    CancelInstance,
    SearchInstances,
    Trigger,
    TriggerFromTask,
    UpdateAndTrigger,
)
from flowyard.api.timefmt import fmt_datetime, fmt_timestamp, from_epoch_ms
from flowyard.api.wire import to_int
from flowyard.domain import tasktypes
from flowyard.domain.instances import InstanceRecord, TaskInstanceRecord
from flowyard.domain.states import Status
from flowyard.errors import InvalidParameterError
from flowyard.timezones import java_date

INSTANCE_SORT_FIELDS = ("create_time", "update_time", "start_time", "trigger_time", "end_time")
V21_SORT_ERROR = "The sorters field parameter is invalid"
V20_SORT_ERROR = "illegal sorted by field"


SHELL_INSTANCE_NUMBER = 3  # a task instance whose definition is gone reports as a shell task
MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the last instant a datetime can hold


def epoch_ms_field(value: int, name: str) -> datetime:
    if not 0 <= value <= MAX_EPOCH_MS:
        raise InvalidParameterError(
            f"Invalid parameter: {name} must be epoch milliseconds between 0 and {MAX_EPOCH_MS}"
        )
    return from_epoch_ms(value)


def _trigger_time(call: Call) -> datetime:
    return epoch_ms_field(call.body.int("triggerTime", None), "triggerTime")


def trigger(call: Call) -> dict[str, str]:
    instance = call.ctx.runs.trigger(call.caller, call.body.int("flowId"), _trigger_time(call), call.now)
    return {"flowInstanceId": instance}


def trigger_from_task(call: Call) -> dict[str, str]:
    try:
        flow_id, task_id = call.body.int("flowId"), call.body.int("taskId")
    except InvalidParameterError:
        raise InvalidParameterError("Invalid request body.") from None
    instance = call.ctx.runs.trigger(
        call.caller, flow_id, _trigger_time(call), call.now, from_task_id=task_id
    )
    return {"flowInstanceId": instance}


def update_and_trigger(call: Call) -> dict[str, str]:
    overrides = parse_parameters(call.body.required("parameters"), "parameters")
    instance = call.ctx.runs.trigger(
        call.caller, call.body.int("flowId"), _trigger_time(call), call.now, overrides=overrides
    )
    return {"flowInstanceId": instance}


def cancel(call: Call) -> str:
    call.ctx.runs.cancel(call.caller, call.body.str("flowInstId"), call.now)
    return ""


def _graph(record: InstanceRecord, version: str) -> dict[str, Any]:
    flow = record.flow()
    d = flow.definition
    node = {t.name: f"t_{tid}" for t, tid in zip(d.tasks, flow.task_ids, strict=True)}
    placement = dict(zip(flow.task_ids, flow.task_placements, strict=True))
    link_node = {link.link_id: f"f_{link.node_flow_id}" for link in flow.links}
    gap = f"{d.cycle}0"
    graph: dict[str, Any] = {
        "creator": record.creator,
        "freq": d.cron,
        "alertMode": d.alert_mode,
        "owners": record.owners,
        "cycle": str(d.cycle),
        "doAs": d.submitter,
        "name": d.name,
        "instId": record.id,
        "id": record.flow_id,
        "parameters": render_parameters(record.parameters),
        "flows": [
            {
                "flowId": str(link.node_flow_id),
                "flowName": link.node_name,
                "nodeId": f"f_{link.node_flow_id}",
                "isVirtual": link.is_virtual,
                "x": link.placement.x,
                "y": link.placement.y,
                "flowInstId": "",
                "status": "NONE",
            }
            for link in flow.links
        ],
        "tasks": [
            {
                "taskName": t.name,
                "taskInstId": t.id,
                "x": placement[t.task_id].x if t.task_id in placement else 0.0,
                "y": placement[t.task_id].y if t.task_id in placement else 0.0,
                "taskId": t.task_id,
                "nodeId": f"t_{t.task_id}",
                "status": t.status.name,
            }
            for t in record.tasks
        ],
        "relations": [
            {
                "cycleGap": r.cycle_gap or gap,
                "rerun": r.rerun,
                "source": node[r.source],
                "target": node[r.target],
            }
            for r in d.relations
        ]
        + [
            {
                "cycleGap": r.cycle_gap or gap,
                "rerun": r.rerun,
                "source": link_node[r.link_id],
                "target": node[r.target_task_name],
            }
            for r in d.link_relations
        ],
    }
    if version == V20:
        graph["alertTo"] = d.alert_to
        graph["appId"] = d.app_id
    return graph


def render_instance(call: Call, record: InstanceRecord, *, listing: bool) -> dict[str, Any]:
    zone = call.ctx.zone
    flow = record.flow()
    edit, read = call.ctx.runs.rights(call.caller, record)
    out: dict[str, Any] = {
        "instanceId": record.id,
        "flowId": record.flow_id,
        "flowName": record.flow_name,
        "freq": flow.definition.cron,
        "cycle": str(flow.definition.cycle),
        "parameters": render_parameters(record.parameters),
        "doAs": flow.definition.submitter,
        "graph": compact_json(_graph(record, call.version)),
        "status": int(record.status),
        "statusDesc": record.status.name,
        "triggerTime": fmt_datetime(record.trigger_at, zone),
        "startTime": fmt_datetime(record.started_at, zone),
        "endTime": fmt_datetime(record.ended_at, zone),
        "timestamp": fmt_timestamp(record.created_at, zone),
        "virtual": False,
        "owner": record.owners,
        "hasEditPri": edit,
        "hasReadPri": read,
    }
    if listing:
        out["isCancelled"] = record.cancelled
    else:
        out["alertMode"] = flow.definition.alert_mode
        out["calDt"] = record.cal_dt.isoformat()
    return out


def get_instance(call: Call) -> dict[str, Any]:
    instance_id = call.query_str("flowInstId") or ""
    if not instance_id:
        raise InvalidParameterError("Invalid parameter: flowInstId is required")
    return render_instance(call, call.ctx.runs.get(call.caller, instance_id), listing=False)


def _statuses(value: Any) -> list[int]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    codes = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            continue
        code = to_int(item, "status")
        if code not in {s.value for s in Status}:
            raise InvalidParameterError(f"Invalid parameter: status {code} is not a FlowInstanceStatus code")
        codes.append(code)
    return codes


def search_instances(call: Call) -> dict[str, Any]:
    body = call.body
    message = V20_SORT_ERROR if call.version == V20 else V21_SORT_ERROR
    page = parse_page(body, call.version, INSTANCE_SORT_FIELDS, message)
    from_ms = body.opt_int("fromTriggerTime", "startTriggerTime")
    to_ms = body.opt_int("toTriggerTime", "endTriggerTime")
    result = call.ctx.runs.search(
        call.caller,
        type_=int(parse_flow_type(body.int("type"), "type")),
        expression=check_length(body.str("expression", ""), "expression"),
        owner=check_length(body.str("owner", ""), "owner"),
        from_at=None if from_ms is None else epoch_ms_field(from_ms, "fromTriggerTime"),
        to_at=None if to_ms is None else epoch_ms_field(to_ms, "toTriggerTime"),
        statuses=_statuses(body.raw("status")),
        sorters=page.sorters,
        page=page.index,
        size=page.size,
    )
    return {
        "flowInsts": [render_instance(call, r, listing=True) for r in result.items],
        "count": result.total,
    }


def render_task_instance(call: Call, task: TaskInstanceRecord, record: InstanceRecord) -> dict[str, Any]:
    zone = call.ctx.zone
    flow = record.flow()
    definition = flow.definition.task(task.name)
    return {
        "instanceId": task.id,
        "taskId": task.task_id,
        "taskName": task.name,
        "cycle": str(flow.definition.cycle),
        "status": int(task.status),
        "runNum": task.run_num,
        # spec section 6 item 1: only 7 is evidenced; the registry holds our mapping
        "type": tasktypes.of(definition).instance_number if definition else SHELL_INSTANCE_NUMBER,
        "syncType": definition.sync_type if definition else None,
        "freq": (definition.cron or None) if definition else None,
        "ifPre": 0 if record.trigger_kind == "schedule" else 1,
        "stsDesc": task.status.name,
        "recallNum": max(task.run_num - 1, 0),
        "triggerTime": fmt_datetime(record.trigger_at, zone),
        "timeout": definition.timeout if definition else 0,
        "recallLimit": task.retry_limit,
        "recallInterval": task.retry_interval,
        "startTime": fmt_datetime(task.started_at, zone),
        "endTime": fmt_datetime(task.ended_at, zone),
        "timeStamp": java_date(record.created_at, zone),
        "isTimeout": task.is_timeout,
        "flowInstId": record.id,
        "doAs": flow.definition.submitter,
        "alert": False,
        "runMode": render_run_mode(definition.run_mode) if definition else "",
        "cmd": task.command or (definition.cmd if definition else ""),
        "hasResourceBefore": False,
        "resourceName": "",
        "fileName": "",
        "resourceVersion": "",
    }


def get_task_instance(call: Call) -> dict[str, Any]:
    task, record = call.ctx.runs.get_task(call.caller, call.query_str("taskInstId") or "")
    return render_task_instance(call, task, record)


def get_log(call: Call) -> dict[str, str]:
    raw = call.query_str("maxLength")
    max_length = None if raw in (None, "") else to_int(raw, "maxLength")
    return {"log": call.ctx.runs.read_log(call.caller, call.query_str("taskInstId") or "", max_length)}


V21_ONLY = frozenset({"v2.1"})
OPERATIONS = (
    Operation("flows", "POST", "trigger", trigger, body=Trigger),
    Operation("flows", "POST", "triggerFromTask", trigger_from_task, versions=V21_ONLY, body=TriggerFromTask),
    Operation("flows", "POST", "updateAndTrigger", update_and_trigger, body=UpdateAndTrigger),
    Operation("flowInstances", "POST", "cancel", cancel, body=CancelInstance),
    Operation("flowInstances", "GET", "get", get_instance, read_only=True, query=(FLOW_INST_ID,)),
    Operation("flowInstances", "POST", "search", search_instances, read_only=True, body=SearchInstances),
    Operation(
        "taskInstances",
        "GET",
        "get",
        get_task_instance,
        versions=V21_ONLY,
        read_only=True,
        query=(TASK_INST_ID,),
    ),
    Operation("taskInstances", "GET", "getLog", get_log, read_only=True, query=(TASK_INST_ID, MAX_LENGTH)),
)
