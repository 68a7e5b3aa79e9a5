"""FlowSpec ⇄ WorkflowSpec: pinned values from real examples, round trips, write-back, properties."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowyard.flowspec import (
    Edge,
    ExternalDependency,
    FlowSpecError,
    NodeSpec,
    Strategy,
    Trigger,
    Variable,
    WorkflowSpec,
    apply_workflow,
    dumps,
    is_dataworks_id,
    new_document,
    normalize,
    parse,
    to_workflow,
)

EXAMPLES = Path("/work/shared/examples/flowspec")
JSON_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json"))

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="FlowSpec examples not available")


def _load(name: str) -> WorkflowSpec:
    return to_workflow(parse((EXAMPLES / name).read_text(encoding="utf-8")))


def test_api_example_pinned() -> None:
    wf = _load("importworkflowdefinition_api_example.json")
    assert (wf.kind, wf.id, wf.name, wf.owner) == (
        "CycleWorkflow",
        "632647691239009XXXX",
        "Asynchronous_Workflow_Creation_Test",
        None,
    )
    assert wf.trigger == Trigger(
        type="Scheduler",
        cron="00 03 00 * * ?",
        timezone="Asia/Shanghai",
        start_time="1970-01-01 00:00:00",
        end_time="9999-01-01 00:00:00",
        delay_seconds=0,
    )
    assert wf.strategy == Strategy(
        timeout=0,
        instance_mode="T+1",
        rerun_mode="Allowed",
        rerun_times=3,
        rerun_interval_ms=180000,
        failure_strategy="Break",
    )
    assert [(n.id, n.name, n.command, n.content) for n in wf.nodes] == [
        ("742981001612325XXXX", "111", "ODPS_SQL", "select now();\n"),
        ("595182137303408XXXX", "222", "ODPS_SQL", "select now();\n select 1;"),
    ]
    assert wf.node("742981001612325XXXX").trigger.cron == "00 24 00 * * ?"  # type: ignore[union-attr]
    assert wf.node("595182137303408XXXX").strategy.recurrence == "Normal"
    assert wf.edges == (Edge("742981001612325XXXX", "595182137303408XXXX", "742981001612325XXXX", "Normal"),)
    assert wf.external == ()


def test_cycle_export_pinned_including_branch_outputs() -> None:
    wf = _load("cycle_workflow_spec.json")
    assert (wf.id, wf.name, wf.owner, wf.trigger.cron, wf.trigger.timezone) == (  # type: ignore[union-attr]
        "7322159560488851894",
        "workflow1",
        "1107550004253538",
        "00 00 00 * * ?",
        "GMT+8",
    )
    assert wf.strategy.recurrence == "Normal"
    assert sorted(n.name or "" for n in wf.nodes) == sorted(
        [
            "canshu1",
            "fuzhi1",
            "dowhile1",
            "join1",
            "branch",
            "virtualroot1",
            "foreach1",
            "x_not_in_input_shell1",
            "pyhon1",
        ]
    )
    assert wf.node("7525339864785788978").command == "CONTROLLER_BRANCH"
    assert wf.node("9221517664676278215").command == "PYTHON"
    names = {n.id: n.name for n in wf.nodes}
    edges = sorted((names[e.upstream], names[e.downstream]) for e in wf.edges)
    assert edges == sorted(
        [
            ("fuzhi1", "canshu1"),
            ("virtualroot1", "fuzhi1"),
            ("canshu1", "dowhile1"),
            ("pyhon1", "join1"),
            ("x_not_in_input_shell1", "join1"),
            ("canshu1", "branch"),
            ("canshu1", "foreach1"),
            ("branch", "x_not_in_input_shell1"),
            ("branch", "pyhon1"),
        ]
    )
    # Downstream of a branch depends on the branch's output string, not its id.
    assert Edge("7525339864785788978", "8841665445732735117", "reg_upgrade0702.x_in_input_false") in wf.edges
    assert wf.external == ()


def test_legacy_manual_workflow_pinned() -> None:
    wf = _load("manual_workflow_spec.json")
    assert (wf.kind, wf.id, wf.name, wf.trigger) == (
        "ManualWorkflow",
        "5986045913996004866",
        "workflow1",
        None,
    )
    assert wf.parameters == (
        Variable("flowpar1", "flowpar1", "Workflow", "System"),
        Variable("flowpar2", "flowpar2", "Workflow", "System"),
    )
    assert len(wf.nodes) == 7
    assert wf.node("6123419979096480467").command_type_id == 1322
    assert wf.node("6015062126715695745").outputs == ("6015062126715695745", "yongxunQA_emr_chengdu1.assign1")
    assert len(wf.edges) == 4


def test_external_dependencies_are_kept_and_typed() -> None:
    wf = _load("all_depend_types.json")
    assert wf.edges == ()
    assert [(d.output, d.type) for d in wf.external][:3] == [
        ("5a550dd3c0fb40e5b1455ff3dd998da7", "Normal"),
        ("yin_zdh_wudong_zt_dw_dw_case001", "CrossCycleDependsOnOtherNode"),
        ("dw_scheduler_pre.16549628_out", "CrossCycleDependsOnOtherNode"),
    ]
    assert ("dw_scheduler_pre.mysql_mc_di_02", "CrossCycleDependsOnSelf") in [
        (d.output, d.type) for d in wf.external
    ]


def test_registry_references_are_resolved() -> None:
    wf = _load("real_case.json")
    assert [n.id for n in wf.nodes] == [
        "sls_full_access_log",
        "dw_open_api_invoke_log_details_analyse",
        "dw_open_api_invoke_log_details_business",
    ]
    node = wf.node("sls_full_access_log")
    assert (node.command, node.strategy.priority, node.strategy.timeout) == ("DI", 7, 4)
    assert node.trigger is not None and node.trigger.cron == "00 */30 00-23 * * ?"
    assert [p.name for p in node.parameters] == ["bizdate", "startTime", "endTime", "ds"]
    assert [p.name for p in wf.parameters] == ["bizdate", "startTime", "endTime"]  # scope Workflow only
    assert wf.edges == (
        Edge("sls_full_access_log", "dw_open_api_invoke_log_details_analyse", None, "Normal"),
        Edge(
            "dw_open_api_invoke_log_details_analyse",
            "dw_open_api_invoke_log_details_business",
            None,
            "Normal",
        ),
    )
    # A dependency on a `reference` placeholder node is external, by that node's output string.
    assert wf.external == (
        ExternalDependency("dw_open_api_invoke_log_details_business", output="dataworks_analyze.8674738_out"),
    )


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_apply_unchanged_workflow_leaves_document_unchanged(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    doc = parse(text)
    assert dumps(apply_workflow(doc, to_workflow(doc))) == text


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_apply_with_reordered_but_equal_workflow_leaves_document_unchanged(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    doc = parse(text)
    wf = to_workflow(doc)
    shuffled = dataclasses.replace(wf, nodes=wf.nodes[::-1], edges=wf.edges[::-1], external=wf.external[::-1])
    assert dumps(apply_workflow(doc, shuffled)) == text


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_new_document_round_trips_every_example(name: str) -> None:
    wf = _load(name)
    fresh = new_document(wf)
    assert (fresh.version, fresh.kind) == ("1.1.0", wf.kind)
    reparsed = parse(dumps(fresh))
    assert normalize(to_workflow(reparsed)) == normalize(wf)


def test_new_document_mirrors_workflow_into_spec() -> None:
    wf = _load("cycle_workflow_spec.json")
    spec = new_document(wf).data["spec"]
    assert (spec["id"], spec["name"], spec["type"], spec["owner"]) == (
        wf.id,
        wf.name,
        "CycleWorkflow",
        wf.owner,
    )
    assert spec["workflows"][0]["script"]["runtime"]["command"] == "WORKFLOW"
    manual = new_document(_load("manual_workflow_spec.json")).data["spec"]["workflows"][0]
    assert manual["script"]["runtime"]["command"] == "MANUAL_WORKFLOW"


def test_apply_changes_only_the_modelled_fields_that_changed() -> None:
    text = (EXAMPLES / "importworkflowdefinition_api_example.json").read_text(encoding="utf-8")
    doc = parse(text)
    wf = to_workflow(doc)
    first, second = wf.nodes
    changed = dataclasses.replace(
        wf,
        name="renamed",
        trigger=dataclasses.replace(wf.trigger, cron="00 30 01 * * ?"),  # type: ignore[arg-type]
        nodes=(
            dataclasses.replace(
                first, content="select 2;", strategy=dataclasses.replace(first.strategy, rerun_times=5)
            ),
            second,
            NodeSpec(id="3", name="333", command="DIDE_SHELL", content="echo hi", outputs=("3",)),
        ),
        edges=(*wf.edges, Edge("595182137303408XXXX", "3", "595182137303408XXXX")),
    )
    out = apply_workflow(doc, changed)
    assert doc.data == json.loads(text)  # the input document is untouched
    assert normalize(to_workflow(out)) == normalize(changed)
    spec = out.data["spec"]
    workflow = spec["workflows"][0]
    assert (spec["name"], workflow["name"]) == ("renamed", "renamed")  # mirrored
    assert workflow["trigger"]["cron"] == "00 30 01 * * ?"
    assert list(workflow["trigger"]) == list(json.loads(text)["spec"]["workflows"][0]["trigger"])
    node = workflow["nodes"][0]
    assert (node["script"]["content"], node["rerunTimes"]) == ("select 2;", 5)
    assert list(node) == list(json.loads(text)["spec"]["workflows"][0]["nodes"][0])  # key order kept
    # The original dependency object is reused verbatim (refTableName kept), the new one appended.
    assert workflow["dependencies"][0] == json.loads(text)["spec"]["workflows"][0]["dependencies"][0]
    assert workflow["dependencies"][1] == {
        "nodeId": "3",
        "depends": [{"type": "Normal", "output": "595182137303408XXXX"}],
    }


def test_apply_removes_nodes_missing_from_the_workflow() -> None:
    doc = parse((EXAMPLES / "manual_workflow_spec.json").read_text(encoding="utf-8"))
    wf = to_workflow(doc)
    kept = tuple(n for n in wf.nodes if n.name != "canshu1")
    out = to_workflow(apply_workflow(doc, dataclasses.replace(wf, nodes=kept)))
    assert sorted(n.name or "" for n in out.nodes) == sorted(n.name or "" for n in kept)


def test_apply_refuses_to_change_a_shared_registry_object() -> None:
    doc = parse((EXAMPLES / "real_case.json").read_text(encoding="utf-8"))
    wf = to_workflow(doc)
    node = wf.nodes[0]
    changed = dataclasses.replace(wf, nodes=(dataclasses.replace(node, content="x"), *wf.nodes[1:]))
    with pytest.raises(FlowSpecError, match="registry reference") as info:
        apply_workflow(doc, changed)
    assert info.value.path == "$.spec.nodes[1].script"


def test_normalize_deduplicates_dependencies_and_folds_enum_case() -> None:
    edge = Edge("a", "b", "a", "normal")
    wf = WorkflowSpec(
        kind="CycleWorkflow", nodes=(NodeSpec("b"), NodeSpec("a", outputs=("a", "a"))), edges=(edge, edge)
    )
    result = normalize(wf)
    assert result.edges == (Edge("a", "b", "a", "Normal"),)
    assert [n.id for n in result.nodes] == ["a", "b"]
    assert result.nodes[0].outputs == ("a",)
    assert normalize(result) == result


def test_inner_nodes_of_nested_payloads_are_listed_with_their_parent() -> None:
    wf = _load("real_cycle_workflow_spec.json")
    foreach = next(n for n in wf.nodes if n.inner_nodes)
    assert {(i.container, i.parent_id) for i in foreach.inner_nodes} == {("for-each", foreach.id)}
    assert [i.name for i in foreach.inner_nodes] == [
        "traverse_end",
        "inner_assign1",
        "traverse_start",
        "maxcsql",
    ]
    doc = parse(json.dumps({"version": "1.1.0", "kind": "CycleWorkflow", "spec": {"workflows": [{
        "name": "w", "nodes": [{"id": "1", "name": "loop", "do-while": {
            "nodes": [{"id": "2", "name": "inner", "for-each": {"nodes": [{"id": "3", "name": "deep"}]}}],
            "while": {"id": "4", "name": "end"}}}]}]}}))  # fmt: skip
    (node,) = to_workflow(doc).nodes
    assert [(i.id, i.parent_id, i.container) for i in node.inner_nodes] == [
        ("2", "1", "do-while"),
        ("3", "2", "for-each"),
        ("4", "1", "do-while"),
    ]


def test_the_flowyard_object_is_read_as_canonical_text_and_written_back_as_an_object() -> None:
    text = (EXAMPLES / "importworkflowdefinition_api_example.json").read_text(encoding="utf-8")
    doc = parse(text)
    wf = to_workflow(doc)
    assert wf.extension is None and all(n.extension is None for n in wf.nodes)
    first = dataclasses.replace(wf.nodes[0], extension='{"asLink":true,"resource":"gpu"}')
    out = apply_workflow(
        doc, dataclasses.replace(wf, nodes=(first, *wf.nodes[1:]), extension='{"alertMode":2}')
    )
    workflow = out.data["spec"]["workflows"][0]
    assert workflow["flowyard"] == {"alertMode": 2}
    assert workflow["nodes"][0]["flowyard"] == {"asLink": True, "resource": "gpu"}
    assert "flowyard" not in workflow["nodes"][1]
    assert to_workflow(out).nodes[0].extension == '{"asLink":true,"resource":"gpu"}'
    assert dumps(apply_workflow(out, wf)) == text  # removing them restores the document


def test_a_flowyard_value_that_is_not_an_object_is_refused() -> None:
    doc = parse('{"version": "1.1.0", "kind": "CycleWorkflow", "spec": {"workflows": [{"flowyard": 1}]}}')
    with pytest.raises(FlowSpecError, match="flowyard"):
        to_workflow(doc)


def test_is_dataworks_id() -> None:
    assert is_dataworks_id("7322159560488851894")
    assert not is_dataworks_id("632647691239009XXXX")
    assert not is_dataworks_id("12345678901234567890")


# --- property: WorkflowSpec → new_document → text → to_workflow is the identity (normalized) ---------

_ids = st.from_regex(r"[1-9][0-9]{0,18}", fullmatch=True)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_opt_text = st.none() | _text
_opt_int = st.none() | st.integers(min_value=0, max_value=10**6)
_labels = st.none() | st.sampled_from(["Normal", "Skip", "Pause", "Allowed", "T+1", "HOURS", "Break"])
_extensions = st.none() | st.dictionaries(
    st.sampled_from(["type", "cycle", "alertMode", "runMode"]),
    st.none() | st.integers(0, 3) | _text | st.dictionaries(st.just("cpu"), st.floats(0.1, 2.0)),
    min_size=1,
).map(lambda d: json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
_variables = st.lists(
    st.builds(
        Variable,
        name=_text,
        value=_opt_text,
        scope=_labels,
        type=st.none() | st.sampled_from(["System", "Constant"]),
    ),
    max_size=3,
).map(tuple)
_triggers = st.none() | st.builds(
    Trigger,
    type=st.none() | st.sampled_from(["Scheduler", "Manual"]),
    cron=st.none() | st.just("00 00 00 * * ?"),
    timezone=_opt_text,
    start_time=_opt_text,
    delay_seconds=_opt_int,
    identifier=_opt_text,
)
_node_strategies = st.builds(
    Strategy,
    timeout=_opt_int,
    timeout_unit=_labels,
    rerun_times=_opt_int,
    rerun_interval_ms=_opt_int,
    rerun_mode=_labels,
    priority=_opt_int,
    instance_mode=_labels,
    recurrence=_labels,
)
_wf_strategies = st.builds(
    Strategy,
    timeout=_opt_int,
    rerun_times=_opt_int,
    rerun_interval_ms=_opt_int,
    failure_strategy=_labels,
    priority=_opt_int,
    max_internal_concurrency=_opt_int,
    priority_weight_strategy=_labels,
    recurrence=_labels,
)


@st.composite
def workflows(draw: st.DrawFn) -> WorkflowSpec:
    node_ids = draw(st.lists(_ids, max_size=6, unique=True))
    nodes = []
    for node_id in node_ids:
        extra = draw(st.lists(st.sampled_from(["x", "y"]), max_size=2, unique=True))
        nodes.append(
            NodeSpec(
                id=node_id,
                name=draw(_opt_text),
                command=draw(st.none() | st.sampled_from(["ODPS_SQL", "DIDE_SHELL", "bash"])),
                command_type_id=draw(_opt_int),
                language=draw(_opt_text),
                content=draw(_opt_text),
                parameters=draw(_variables),
                strategy=draw(_node_strategies),
                trigger=draw(_triggers),
                outputs=(node_id, *(f"proj.{node_id}.{e}" for e in extra)),
                extension=draw(_extensions),
            )
        )
    edges = []
    if nodes:
        for _ in range(draw(st.integers(0, 8))):
            up, down = draw(st.sampled_from(nodes)), draw(st.sampled_from(nodes))
            output = draw(st.none() | st.sampled_from(up.outputs))
            edges.append(
                Edge(
                    up.id, down.id, output, draw(st.sampled_from(["Normal", "CrossCycleDependsOnOtherNode"]))
                )
            )
    external = []
    if nodes:
        for _ in range(draw(st.integers(0, 3))):
            down = draw(st.sampled_from(nodes)).id
            if draw(st.booleans()):
                external.append(
                    ExternalDependency(down, output=draw(st.sampled_from(["p_root", "other.out"])))
                )
            else:
                external.append(ExternalDependency(down, upstream_node_id="elsewhere", type="Normal"))
    return WorkflowSpec(
        kind=draw(st.sampled_from(["CycleWorkflow", "ManualWorkflow", "TriggerWorkflow"])),
        id=draw(st.none() | _ids),
        name=draw(_opt_text),
        owner=draw(_opt_text),
        description=draw(_opt_text),
        trigger=draw(_triggers),
        strategy=draw(_wf_strategies),
        parameters=draw(_variables),
        nodes=tuple(nodes),
        edges=tuple(edges),
        external=tuple(external),
        extension=draw(_extensions),
    )


@settings(max_examples=150, deadline=None)
@given(workflows())
def test_property_new_document_then_to_workflow_is_identity(wf: WorkflowSpec) -> None:
    assert normalize(to_workflow(parse(dumps(new_document(wf))))) == normalize(wf)


@settings(max_examples=100, deadline=None)
@given(workflows(), workflows())
def test_property_apply_then_read_gives_the_applied_workflow(
    base: WorkflowSpec, target: WorkflowSpec
) -> None:
    doc = parse(dumps(new_document(base)))
    assert normalize(to_workflow(apply_workflow(doc, target))) == normalize(target)
