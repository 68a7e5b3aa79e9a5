"""The FlowSpec fields of the flow model: import, EnOS edits shown by GetWorkflowDefinition, semantics.

GetWorkflowDefinition is ``apply_workflow(doc, to_workflow_spec(flow, id, to_workflow(doc)))``; these
tests call exactly that, without a database.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from flowyard.api.flow_codec import parse_options_if_given, render_options
from flowyard.api.wire import Reader
from flowyard.domain.flows import (
    FailureStrategy,
    Flow,
    FlowDefinition,
    FlowOptions,
    InstanceMode,
    Placement,
    RerunMode,
    TaskDefinition,
    TaskRelation,
    schedule_window,
)
from flowyard.domain.snapshots import dump_flow, load_flow
from flowyard.domain.validation import validate_definition
from flowyard.errors import InvalidParameterError
from flowyard.flowspec import FlowSpecDocument, WorkflowSpec, apply_workflow, dumps, parse, to_workflow
from flowyard.services.workflow_export import to_workflow_spec
from flowyard.services.workflow_import import to_definition

EXAMPLES = Path("/work/shared/examples/flowspec")
API_EXAMPLE = "importworkflowdefinition_api_example.json"
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="FlowSpec examples not available")


def _doc(name: str) -> FlowSpecDocument:
    return parse((EXAMPLES / name).read_text(encoding="utf-8"))


def imported(doc: FlowSpecDocument) -> Flow:
    """The flow ImportWorkflowDefinition makes of ``doc`` (task ids 100, 101, …)."""
    definition = to_definition(to_workflow(doc)).definition
    validate_definition(definition)
    return Flow(
        id=1,
        org_id="o",
        dir_id="d",
        definition=definition,
        task_ids=tuple(range(100, 100 + len(definition.tasks))),
        task_placements=tuple(Placement() for _ in definition.tasks),
        links=(),
    )


def get_workflow_definition(doc: FlowSpecDocument, flow: Flow) -> FlowSpecDocument:
    stored = to_workflow(doc)
    return apply_workflow(doc, to_workflow_spec(flow, stored.id or "1", stored))


def edited(flow: Flow, **changes: Any) -> Flow:
    return dataclasses.replace(flow, definition=dataclasses.replace(flow.definition, **changes))


def test_import_carries_the_flowspec_options() -> None:
    d = imported(_doc(API_EXAMPLE)).definition
    assert d.options == FlowOptions(
        time_zone="Asia/Shanghai",
        schedule_start=datetime(1970, 1, 1),
        schedule_end=datetime(9999, 1, 1),
        rerun_mode=RerunMode.ALLOWED,
        failure_strategy=FailureStrategy.BREAK,
        instance_mode=InstanceMode.T_PLUS_1,
    )
    # Node ids stay strings (the sample uses the documentation's XXXX placeholders).
    assert [(t.name, t.node_id) for t in d.tasks] == [
        ("111", "742981001612325XXXX"),
        ("222", "595182137303408XXXX"),
    ]
    assert (d.tasks[0].retry_limit, d.tasks[0].retry_interval) == (3, 180)


def test_nineteen_digit_node_ids_are_kept_as_text() -> None:
    d = imported(_doc("cycle_workflow_spec.json")).definition
    assert "9221517664676278215" in [t.node_id for t in d.tasks]
    assert all(isinstance(t.node_id, str) and t.node_id.isdigit() for t in d.tasks)


def test_unchanged_flow_gives_back_the_document_byte_for_byte() -> None:
    for name in (
        API_EXAMPLE,
        "cycle_workflow_spec.json",
        "manual_workflow_spec.json",
        "trigger_workflow.json",
    ):
        doc = _doc(name)
        assert dumps(get_workflow_definition(doc, imported(doc))) == dumps(doc), name


def test_enos_edits_show_up_in_get_workflow_definition() -> None:
    doc = _doc(API_EXAMPLE)
    flow = imported(doc)
    first, second = flow.definition.tasks
    changed = edited(
        flow,
        cron="00 15 04 * * ?",
        desc="edited in EnOS",
        options=dataclasses.replace(
            flow.definition.options,
            time_zone="Europe/Berlin",
            schedule_end=datetime(2030, 6, 30, 23, 59, 59),
            rerun_mode=RerunMode.DENIED,
            failure_strategy=FailureStrategy.CONTINUE,
            instance_mode=InstanceMode.IMMEDIATELY,
        ),
        tasks=(
            dataclasses.replace(first, name="renamed", cmd="echo changed", type="SHELL", retry_limit=0),
            dataclasses.replace(second, timeout=90, retry_interval=7, priority_level=5),
        ),
        relations=(),
    )
    out = get_workflow_definition(doc, changed).data["spec"]["workflows"][0]
    assert out["trigger"]["cron"] == "00 15 04 * * ?"
    assert (out["trigger"]["timezone"], out["trigger"]["endTime"]) == ("Europe/Berlin", "2030-06-30 23:59:59")
    assert out["trigger"]["startTime"] == "1970-01-01 00:00:00"  # unchanged: as written
    assert out["strategy"]["rerunMode"] == "Denied"
    assert out["strategy"]["failureStrategy"] == "Continue"
    assert out["strategy"]["instanceMode"] == "Immediately"
    assert out["description"] == "edited in EnOS"
    node1, node2 = out["nodes"]
    assert node1["name"] == "renamed" and node1["id"] == "742981001612325XXXX"
    assert node1["script"]["content"] == "echo changed"
    assert node1["script"]["runtime"]["command"] == "DIDE_SHELL"  # it now runs as a shell task
    assert node1["rerunTimes"] == 0
    assert (node2["timeout"], node2["timeoutUnit"], node2["rerunInterval"], node2["priority"]) == (
        90,
        "SECONDS",
        7000,
        5,
    )
    assert out["dependencies"] == []
    # Importing the exported document gives the edited flow back.
    again = to_definition(to_workflow(get_workflow_definition(doc, changed))).definition
    assert again == changed.definition


def test_a_new_relation_depends_on_the_upstream_default_output() -> None:
    doc = _doc(API_EXAMPLE)
    flow = imported(doc)
    reverse = (TaskRelation("222", "111", rerun=False),)
    out = get_workflow_definition(doc, edited(flow, relations=reverse)).data["spec"]["workflows"][0]
    assert out["dependencies"] == [
        {"nodeId": "742981001612325XXXX", "depends": [{"type": "Normal", "output": "595182137303408XXXX"}]}
    ]
    assert out["nodes"][0]["flowyard"] == {
        "relations": [{"upstream": "595182137303408XXXX", "rerun": False, "cycleGap": ""}]
    }
    again = to_definition(to_workflow(get_workflow_definition(doc, edited(flow, relations=reverse))))
    assert again.definition.relations == reverse


def test_enos_only_fields_travel_in_the_flowyard_object() -> None:
    doc = _doc(API_EXAMPLE)
    flow = imported(doc)
    task = dataclasses.replace(flow.definition.tasks[1], resource="gpu", success_code="0,2", as_link=True)
    changed = edited(flow, alert_mode=2, visitors=";v;", tasks=(flow.definition.tasks[0], task))
    out = get_workflow_definition(doc, changed).data["spec"]["workflows"][0]
    assert out["flowyard"] == {"alertMode": 2, "visitors": ";v;"}
    assert out["nodes"][1]["flowyard"] == {"resource": "gpu", "successCode": "0,2", "asLink": True}
    assert to_definition(to_workflow(get_workflow_definition(doc, changed))).definition == changed.definition


def test_a_task_without_a_node_becomes_a_new_node() -> None:
    doc = _doc(API_EXAMPLE)
    flow = imported(doc)
    extra = TaskDefinition(name="extra", type="PYTHON", cmd="print(1)")
    changed = dataclasses.replace(
        edited(flow, tasks=(*flow.definition.tasks, extra), relations=(TaskRelation("222", "extra"),)),
        task_ids=(*flow.task_ids, 777),
        task_placements=(*flow.task_placements, Placement()),
    )
    wf = to_workflow(get_workflow_definition(doc, changed))
    node = wf.node("777")
    assert (node.name, node.command, node.content) == ("extra", "PYTHON", "print(1)")
    assert [(e.upstream, e.downstream) for e in wf.edges][-1] == ("595182137303408XXXX", "777")


# --- inner nodes of control-flow nodes --------------------------------------------------------------


def test_inner_nodes_are_listed_reported_and_kept_verbatim() -> None:
    doc = _doc("cycle_workflow_spec.json")
    wf = to_workflow(doc)
    dowhile = next(n for n in wf.nodes if n.name == "dowhile1")
    assert [(i.name, i.command, i.container) for i in dowhile.inner_nodes] == [
        ("cycle_start", "CONTROLLER_CYCLE_START", "do-while"),
        ("dowhileshlell1", "DIDE_SHELL", "do-while"),
        ("cycle_end", "CONTROLLER_CYCLE_END", "do-while"),
    ]
    assert {i.parent_id for i in dowhile.inner_nodes} == {dowhile.id}
    conversion = to_definition(wf)
    assert any("dowhile1" in w and "dowhileshlell1" in w for w in conversion.warnings)
    task = conversion.definition.task("dowhile1")
    assert task is not None and "CONTROLLER_CYCLE (its 3 inner nodes are kept" in task.cmd
    # Editing other fields leaves the payloads exactly as they were.
    flow = imported(doc)
    changed = edited(
        flow, cron="00 00 05 * * ?", options=dataclasses.replace(flow.definition.options, time_zone="UTC")
    )
    before = {n["id"]: n.get("do-while") for n in doc.data["spec"]["workflows"][0]["nodes"]}
    after = {
        n["id"]: n.get("do-while")
        for n in get_workflow_definition(doc, changed).data["spec"]["workflows"][0]["nodes"]
    }
    assert after == before


def test_nodes_without_payload_have_no_inner_nodes() -> None:
    wf = to_workflow(_doc(API_EXAMPLE))
    assert all(node.inner_nodes == () for node in wf.nodes)


# --- refusals -----------------------------------------------------------------------------------------


def _spec(**strategy: Any) -> WorkflowSpec:
    doc = _doc(API_EXAMPLE)
    doc.data["spec"]["workflows"][0]["strategy"].update(strategy)
    return to_workflow(doc)


def test_enum_labels_match_case_insensitively() -> None:
    options = to_definition(_spec(rerunMode="denied", failureStrategy="CONTINUE")).definition.options
    assert (options.rerun_mode, options.failure_strategy) == (RerunMode.DENIED, FailureStrategy.CONTINUE)


@pytest.mark.parametrize(("key", "value"), [("rerunMode", "Sometimes"), ("failureStrategy", "Retry")])
def test_unknown_enum_labels_are_refused(key: str, value: str) -> None:
    with pytest.raises(InvalidParameterError, match=value):
        to_definition(_spec(**{key: value}))


def test_a_bad_schedule_time_is_refused() -> None:
    doc = _doc(API_EXAMPLE)
    doc.data["spec"]["workflows"][0]["trigger"]["startTime"] = "yesterday"
    with pytest.raises(InvalidParameterError, match="startTime"):
        to_definition(to_workflow(doc))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (FlowOptions(time_zone="Mars/Olympus"), "unknown time zone"),
        (
            FlowOptions(schedule_start=datetime(2030, 1, 1), schedule_end=datetime(2029, 1, 1)),
            "before its start",
        ),
        (FlowOptions(schedule_start=datetime(2030, 1, 1, tzinfo=UTC)), "wall-clock"),
    ],
)
def test_validation_of_options(options: FlowOptions, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        validate_definition(FlowDefinition(name="f", options=options))


def test_validation_refuses_duplicate_node_ids() -> None:
    tasks = (TaskDefinition(name="a", node_id="7"), TaskDefinition(name="b", node_id="7"))
    with pytest.raises(InvalidParameterError, match="duplicate nodeIds: 7"):
        validate_definition(FlowDefinition(name="f", tasks=tasks))


# --- the schedule window the scheduler reads ----------------------------------------------------------


def test_schedule_window_reads_wall_times_in_the_flow_zone() -> None:
    options = FlowOptions(
        time_zone="GMT+8",
        schedule_start=datetime(2026, 1, 1),
        schedule_end=datetime(2026, 12, 31, 23, 59, 59),
    )
    assert schedule_window(options, UTC) == (
        datetime(2025, 12, 31, 16, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC),
    )


def test_schedule_window_uses_the_server_zone_when_the_flow_has_none() -> None:
    server = timezone(timedelta(hours=-5))
    start, end = schedule_window(FlowOptions(schedule_start=datetime(2026, 1, 1)), server)
    assert (start, end) == (datetime(2026, 1, 1, 5, 0, tzinfo=UTC), None)


def test_a_window_end_beyond_year_9999_is_unbounded() -> None:
    options = FlowOptions(time_zone="GMT-10", schedule_end=datetime(9999, 12, 31, 23, 0))
    assert schedule_window(options, UTC) == (None, None)


# --- snapshots -----------------------------------------------------------------------------------------


def test_snapshots_keep_the_options() -> None:
    flow = imported(_doc("cycle_workflow_spec.json"))
    flow = edited(
        flow, options=dataclasses.replace(flow.definition.options, failure_strategy=FailureStrategy.CONTINUE)
    )
    flow = edited(
        flow,
        tasks=(
            dataclasses.replace(flow.definition.tasks[0], rerun_mode=RerunMode.DENIED),
            *flow.definition.tasks[1:],
        ),
    )
    assert load_flow(dump_flow(flow)) == flow


def test_snapshots_written_before_the_options_existed_load_with_defaults() -> None:
    flow = Flow(
        id=1,
        org_id="o",
        dir_id="d",
        definition=FlowDefinition(name="f", tasks=(TaskDefinition(name="t"),)),
        task_ids=(5,),
        task_placements=(Placement(),),
        links=(),
    )
    raw = json.loads(dump_flow(flow))
    del raw["definition"]["options"]
    for task in raw["definition"]["tasks"]:
        del task["node_id"], task["rerun_mode"]
    assert load_flow(json.dumps(raw)) == flow


def test_a_stored_document_that_no_longer_imports_is_given_back_as_stored() -> None:
    doc = _doc(API_EXAMPLE)
    flow = imported(doc)
    doc.data["spec"]["workflows"][0]["strategy"]["rerunMode"] = "Sometimes"
    out = get_workflow_definition(doc, edited(flow, name="renamed"))
    assert out.data["spec"]["workflows"][0]["strategy"]["rerunMode"] == "Sometimes"
    assert out.data["spec"]["workflows"][0]["name"] == "renamed"


# --- the EnOS wire keys ---------------------------------------------------------------------------------


def test_enos_option_keys_parse_and_render_only_when_set() -> None:
    assert parse_options_if_given(Reader({"name": "f"})) is None
    assert render_options(FlowOptions()) == {}
    body = {
        "timeZone": "GMT+8",
        "scheduleStartTime": "2026-01-01 00:00:00",
        "scheduleEndTime": "2026-12-31T23:59:59",
        "rerunMode": "denied",
        "failureStrategy": "Continue",
        "instanceMode": "Immediately",
    }
    options = parse_options_if_given(Reader(body))
    assert options == FlowOptions(
        "GMT+8",
        datetime(2026, 1, 1),
        datetime(2026, 12, 31, 23, 59, 59),
        RerunMode.DENIED,
        FailureStrategy.CONTINUE,
        InstanceMode.IMMEDIATELY,
    )
    assert render_options(options) == {
        **body,
        "scheduleEndTime": "2026-12-31 23:59:59",
        "rerunMode": "Denied",
    }


@pytest.mark.parametrize(("key", "value"), [("rerunMode", "Never"), ("scheduleStartTime", "soon")])
def test_bad_enos_option_values_are_refused(key: str, value: str) -> None:
    with pytest.raises(InvalidParameterError, match=key):
        parse_options_if_given(Reader({key: value}))
