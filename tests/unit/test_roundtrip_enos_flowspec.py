"""Properties of the one flow model behind both faces.

1. EnOS → Flowyard → FlowSpec → Flowyard → EnOS: an EnOS flow definition (wire form), exported as a
   fresh FlowSpec document, read back and imported, renders as the same EnOS definition. FlowSpec
   carries every field natively or in its ``flowyard`` objects except those listed in
   :data:`NOT_CARRIED`.
2. FlowSpec → Flowyard → FlowSpec: GetWorkflowDefinition of an imported, unchanged flow is the
   imported text, byte for byte.
3. Edits through the EnOS face show in GetWorkflowDefinition: importing its document gives the
   edited flow definition back.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowyard.api.envelope import V20, V21
from flowyard.api.flow_codec import parse_definition, render_definition
from flowyard.api.wire import Reader
from flowyard.domain.flows import (
    FailureStrategy,
    Flow,
    FlowDefinition,
    FlowOptions,
    FlowType,
    InstanceMode,
    Parameter,
    Placement,
    RerunMode,
    TaskDefinition,
    TaskRelation,
)
from flowyard.domain.validation import validate_definition
from flowyard.flowspec import (
    Edge,
    NodeSpec,
    Strategy,
    Trigger,
    Variable,
    WorkflowSpec,
    apply_workflow,
    dumps,
    new_document,
    parse,
    to_workflow,
)
from flowyard.services.workflow_export import to_workflow_spec
from flowyard.services.workflow_import import to_definition

#: EnOS fields FlowSpec does not carry, and why. Everything else travels: natively (name, cron,
#: type periodic/manual, parameters, desc, task name/script/type PYTHON-or-shell, retries,
#: interval, timeout, priority, relations, FlowOptions, node ids) or in the ``flowyard`` objects
#: of the workflow and its nodes (cycle, temporary type, a manual flow's cron, alertMode, alertTo,
#: appId, submitter, visitors, syncType, startTime, other task types, resource, syncType,
#: submitter, filePackage, task cron, successCode, waitCode, asLink, runMode, relation
#: rerun/cycleGap). Premises on other flows are written to the ``flowyard`` object for the reader
#: but not re-created on import (a FlowSpec import only reports them).
NOT_CARRIED = {
    "owners": "assigned by the importing server (DataWorks import: the project's members)",
    "order of relations": "FlowSpec groups dependencies by downstream node; the set is kept",
    "flowLinks/taskLinks/linkRelations": "kept in the document, reported, not re-created",
}

names = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and bool(s.strip()))
small = st.integers(min_value=0, max_value=100_000)
ZONES = ["", "Asia/Shanghai", "GMT+8", "Europe/Berlin", "UTC"]
CRONS = ["0 0 0 * * ? *", "0 1/1 * * * ? *", "59 59 23 L * ? *", "0 0 2 ? * MON-FRI", "00 30 02 * * ?"]
walls = st.none() | st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)).map(
    lambda d: d.replace(microsecond=0)
)
run_modes = st.builds(
    lambda cpu, mem, mode: json.dumps(
        {
            "taskMode": mode,
            "cpu": cpu,
            "memory": mem,
            "maxParallel": 2 if mode == 2 else 0,
            "keyType": 2 if mode == 2 else 0,
            "datasourceId": 0,
            "path": "",
            "content": "k1,k2" if mode == 2 else "",
        },
        separators=(",", ":"),
    ),
    st.sampled_from([0.1, 0.5, 1, 1.5, 2]),
    st.sampled_from([0.3, 1, 2.5, 4]),
    st.sampled_from([1, 2]),
)


# Flowyard refuses NUL in any text field at the API edge (PostgreSQL text cannot hold one).
def plain_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=max_size
    )


def _labels(kind: Any) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from([m.value for m in kind])


@st.composite
def enos_definitions(draw: st.DrawFn) -> dict[str, Any]:
    """EnOS Import Flow JSON, including the Flowyard option keys."""
    task_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    node_ids = draw(
        st.lists(st.from_regex(r"[1-9][0-9]{0,18}", fullmatch=True), min_size=6, max_size=6, unique=True)
    )
    tasks = []
    for i, n in enumerate(task_names):
        task: dict[str, Any] = {
            "name": n,
            "resource": draw(st.sampled_from(["default", "gpu"])),
            "type": draw(st.sampled_from(["COMMAND", "SHELL", "PYTHON", "DATA_INTEGRATION", "HIVE"])),
            "syncType": draw(st.sampled_from([0, 1])),
            "cmd": draw(plain_text(max_size=40)),
            "submitter": draw(plain_text(max_size=5)),
            "filePackage": draw(st.sampled_from(["", "pkg.zip"])),
            "cron": draw(st.sampled_from(["", "0 0 3 * * ? *"])),
            "priorityLevel": draw(st.integers(0, 5)),
            "timeout": draw(small),
            "retryLimit": draw(st.integers(0, 5)),
            "retryInterval": draw(st.integers(0, 86_400)),
            "successCode": draw(st.sampled_from(["0", "0,1", "0,2,3"])),
            "asLink": draw(st.booleans()),
            "runMode": draw(run_modes),
            "waitCode": draw(st.sampled_from(["", "3"])),
        }
        if draw(st.booleans()):
            task["nodeId"] = node_ids[i]
        mode = draw(_labels(RerunMode))
        if mode is not None:
            task["rerunMode"] = mode
        tasks.append(task)
    pairs = [(a, b) for i, a in enumerate(task_names) for b in task_names[i + 1 :]]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=6)) if pairs else []
    params = draw(st.lists(names, unique=True, max_size=3))
    out: dict[str, Any] = {
        "name": draw(names),
        "cycle": draw(st.sampled_from(["M", "W", "D", "H", "mi"])),
        "cron": draw(st.sampled_from(CRONS)),
        "parameters": json.dumps(
            [{"key": k, "value": draw(plain_text(max_size=10))} for k in params],
            ensure_ascii=False,
            separators=(",", ":"),
        ),
        "alertMode": draw(st.integers(0, 3)),
        "submitter": draw(plain_text(max_size=8)),
        "owners": "",
        "visitors": draw(st.sampled_from(["", ";v;"])),
        "type": draw(st.sampled_from([0, 1, 2])),
        "syncType": draw(st.sampled_from([0, 1])),
        "desc": draw(plain_text(max_size=20)),
        "startTime": draw(st.sampled_from(["", "2019-07-24", "2030-01-01"])),
        "tasks": tasks,
        "flowLinks": [],
        "taskLinks": [],
        "relations": [
            {
                "sourceTaskName": a,
                "targetTaskName": b,
                "rerun": draw(st.booleans()),
                **({"cycleGap": "D-1"} if draw(st.booleans()) else {}),
            }
            for a, b in edges
        ],
        "linkRelations": [],
        "alertTo": draw(st.sampled_from(["", "ops"])),
        "appId": draw(st.sampled_from(["", "app-1"])),
    }
    zone = draw(st.sampled_from(ZONES))
    if zone:
        out["timeZone"] = zone
    start, end = draw(walls), draw(walls)
    if start is not None and end is not None and end < start:
        start, end = end, start
    for key, value in (("scheduleStartTime", start), ("scheduleEndTime", end)):
        if value is not None:
            out[key] = value.strftime("%Y-%m-%d %H:%M:%S")
    for key, kind in (
        ("rerunMode", RerunMode),
        ("failureStrategy", FailureStrategy),
        ("instanceMode", InstanceMode),
    ):
        label = draw(_labels(kind))
        if label is not None and label not in ("Allowed", "Break"):  # defaults are not rendered
            out[key] = label
    return out


def flow_of(definition: FlowDefinition, first_task_id: int = 5000) -> Flow:
    validate_definition(definition)
    return Flow(
        id=1001,
        org_id="o",
        dir_id="d",
        definition=definition,
        task_ids=tuple(range(first_task_id, first_task_id + len(definition.tasks))),
        task_placements=tuple(Placement() for _ in definition.tasks),
        links=(),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=enos_definitions(), version=st.sampled_from([V20, V21]))
def test_enos_to_flowspec_and_back_is_identity_on_what_flowspec_carries(
    raw: dict[str, Any], version: str
) -> None:
    flow = flow_of(parse_definition(Reader(raw)))
    enos = render_definition(flow, version)

    text = dumps(new_document(to_workflow_spec(flow, str(flow.id), None)))
    back = to_definition(to_workflow(parse(text))).definition
    again = render_definition(flow_of(back, first_task_id=9000), version)

    # Tasks born in EnOS come back with their task id as node id; otherwise the EnOS form is equal.
    for task, task_id in zip(enos["tasks"], flow.task_ids, strict=True):
        task.setdefault("nodeId", str(task_id))
    for rendered in (again, enos):
        rendered["relations"].sort(key=lambda r: (r["targetTaskName"], r["sourceTaskName"]))
    assert again == enos


def test_not_carried_fields_are_listed() -> None:
    definition = FlowDefinition(name="f", owners="alice;bob", tasks=(TaskDefinition(name="t"),))
    flow = flow_of(definition)
    back = to_definition(to_workflow(parse(dumps(new_document(to_workflow_spec(flow, "1", None))))))
    assert back.definition.owners == "" and "owners" in NOT_CARRIED


# --- FlowSpec → Flowyard → FlowSpec, and EnOS edits in GetWorkflowDefinition ---------------------------

_ids = st.from_regex(r"[1-9][0-9]{0,18}", fullmatch=True)
_text = st.text(st.characters(codec="utf-8", blacklist_categories=("Cs", "Co")), max_size=12)
_wall_text = walls.map(lambda d: None if d is None else d.strftime("%Y-%m-%d %H:%M:%S"))
_opt_small = st.none() | st.integers(min_value=0, max_value=50)


@st.composite
def importable_workflows(draw: st.DrawFn) -> WorkflowSpec:
    """Workflows ImportWorkflowDefinition accepts: named, uniquely named nodes, acyclic edges."""
    node_ids = draw(st.lists(_ids, min_size=1, max_size=5, unique=True))
    node_names = draw(st.lists(names, min_size=len(node_ids), max_size=len(node_ids), unique=True))
    nodes = [
        NodeSpec(
            id=node_id,
            name=name,
            command=draw(st.sampled_from(["DIDE_SHELL", "PYTHON", "VIRTUAL", "ODPS_SQL", "SHELL"])),
            content=draw(st.none() | _text),
            strategy=Strategy(
                timeout=draw(_opt_small),
                timeout_unit=draw(st.none() | st.sampled_from(["HOURS", "MINUTES", "SECONDS"])),
                rerun_times=draw(_opt_small),
                rerun_interval_ms=draw(st.none() | st.integers(0, 10**6)),
                rerun_mode=draw(_labels(RerunMode)),
                priority=draw(_opt_small),
                instance_mode=draw(_labels(InstanceMode)),
                recurrence=draw(st.none() | st.just("Normal")),
            ),
            outputs=(node_id, f"proj.{name}"),
        )
        for node_id, name in zip(node_ids, node_names, strict=True)
    ]
    edges = []
    for i, up in enumerate(nodes):
        for down in nodes[i + 1 :]:
            if draw(st.booleans()):
                edges.append(Edge(up.id, down.id, draw(st.sampled_from(up.outputs))))
    periodic = draw(st.booleans())
    start, end = sorted([draw(walls) or datetime(1970, 1, 1), draw(walls) or datetime(9999, 1, 1)])
    return WorkflowSpec(
        kind="CycleWorkflow" if periodic else "ManualWorkflow",
        id=draw(_ids),
        name=draw(names),
        description=draw(st.none() | _text),
        trigger=Trigger(
            type="Scheduler" if periodic else "Manual",
            cron=draw(st.sampled_from(CRONS[3:])) if periodic else None,
            timezone=draw(st.none() | st.sampled_from(ZONES[1:])),
            start_time=start.strftime("%Y-%m-%d %H:%M:%S") if draw(st.booleans()) else None,
            end_time=end.strftime("%Y-%m-%d %H:%M:%S") if draw(st.booleans()) else None,
        ),
        strategy=Strategy(
            timeout=draw(_opt_small),
            timeout_unit=draw(st.none() | st.sampled_from(["HOURS", "MINUTES"])),
            rerun_times=draw(_opt_small),
            rerun_interval_ms=draw(st.none() | st.integers(0, 10**6)),
            rerun_mode=draw(_labels(RerunMode)),
            failure_strategy=draw(_labels(FailureStrategy)),
            instance_mode=draw(_labels(InstanceMode)),
            priority=draw(_opt_small),
        ),
        parameters=tuple(
            Variable(n, draw(st.none() | _text), "Workflow", draw(st.sampled_from(["System", "Constant"])))
            for n in draw(st.lists(names, max_size=3, unique=True))
        ),
        nodes=tuple(nodes),
        edges=tuple(edges),
    )


def _get_workflow_definition(text: str, flow: Flow) -> str:
    doc = parse(text)
    stored = to_workflow(doc)
    return dumps(apply_workflow(doc, to_workflow_spec(flow, stored.id or "", stored)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wf=importable_workflows())
def test_flowspec_to_flowyard_to_flowspec_gives_back_the_document(wf: WorkflowSpec) -> None:
    text = dumps(new_document(wf))
    flow = flow_of(to_definition(to_workflow(parse(text))).definition)
    assert _get_workflow_definition(text, flow) == text


@st.composite
def edits(draw: st.DrawFn, definition: FlowDefinition) -> FlowDefinition:
    """What the EnOS face can change in an imported flow (Save Flow and the option keys)."""
    new_names = draw(
        st.lists(names, min_size=len(definition.tasks), max_size=len(definition.tasks), unique=True)
    )
    tasks = []
    for task, name in zip(definition.tasks, new_names, strict=True):
        if draw(st.booleans()):
            tasks.append(task)
            continue
        tasks.append(
            dataclasses.replace(
                task,
                name=name if draw(st.booleans()) else task.name,
                type=draw(st.sampled_from(["SHELL", "PYTHON"])),
                cmd=draw(st.sampled_from([task.cmd, "echo edited", ""])),
                retry_limit=draw(st.integers(0, 5)),
                retry_interval=draw(st.integers(0, 600)),
                timeout=draw(st.sampled_from([0, 59, 60, 3600, 7200, 5400])),
                priority_level=draw(st.integers(0, 8)),
                rerun_mode=draw(st.none() | st.sampled_from(list(RerunMode))),
                resource=draw(st.sampled_from(["default", "gpu"])),
            )
        )
    if len({t.name for t in tasks}) < len(tasks):  # a rename collided with a kept name
        tasks = list(definition.tasks)
    names_now = [t.name for t in tasks]
    pairs = [(a, b) for i, a in enumerate(names_now) for b in names_now[i + 1 :]]
    relations = tuple(TaskRelation(a, b, rerun=draw(st.booleans())) for a, b in pairs if draw(st.booleans()))
    flow_type = draw(st.sampled_from(list(FlowType)))
    start, end = sorted([draw(walls) or datetime(1970, 1, 1), draw(walls) or datetime(9999, 1, 1)])
    options = FlowOptions(
        time_zone=draw(st.sampled_from(ZONES)),
        schedule_start=start if draw(st.booleans()) else None,
        schedule_end=end if draw(st.booleans()) else None,
        rerun_mode=draw(st.sampled_from(list(RerunMode))),
        failure_strategy=draw(st.sampled_from(list(FailureStrategy))),
        instance_mode=draw(st.none() | st.sampled_from(list(InstanceMode))),
    )
    return dataclasses.replace(
        definition,
        name=draw(st.sampled_from([definition.name, "renamed flow"])),
        type=flow_type,
        cron=draw(st.sampled_from(CRONS)),
        desc=draw(st.sampled_from([definition.desc, "", "edited"])),
        parameters=tuple(
            Parameter(k, v) for k, v in draw(st.dictionaries(names, st.text(max_size=5), max_size=3)).items()
        ),
        alert_mode=draw(st.integers(0, 3)),
        tasks=tuple(tasks),
        relations=relations,
        options=options if draw(st.booleans()) else definition.options,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), wf=importable_workflows())
def test_enos_edits_show_in_get_workflow_definition(data: st.DataObject, wf: WorkflowSpec) -> None:
    text = dumps(new_document(wf))
    flow = flow_of(to_definition(to_workflow(parse(text))).definition)
    changed = data.draw(edits(flow.definition))
    validate_definition(changed)
    exported = _get_workflow_definition(text, dataclasses.replace(flow, definition=changed))
    assert _relations_as_set(to_definition(to_workflow(parse(exported))).definition) == _relations_as_set(
        changed
    )


def _relations_as_set(definition: FlowDefinition) -> FlowDefinition:
    """``definition`` with its relations in one order (FlowSpec groups them by downstream node)."""
    ordered = sorted(definition.relations, key=lambda r: (r.target, r.source))
    return dataclasses.replace(definition, relations=tuple(ordered))
