"""FlowSpec document layer: parsing, round trip, layouts, errors (pure, no I/O beyond example files)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from flowyard.errors import InvalidParameterError
from flowyard.flowspec import FlowSpecError, Layout, detect_layout, dumps, parse, to_workflow

EXAMPLES = Path("/work/shared/examples/flowspec")
JSON_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json"))

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="FlowSpec examples not available")


def _text(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


def test_all_json_examples_are_present() -> None:
    assert len(JSON_EXAMPLES) == 9


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_json_example_round_trips_byte_identical(name: str) -> None:
    # All examples are written like json.dumps(indent=2); the detected style reproduces them exactly.
    text = _text(name)
    assert dumps(parse(text)) == text


@pytest.mark.parametrize("name", JSON_EXAMPLES)
def test_json_example_round_trip_keeps_key_order_when_restyled(name: str) -> None:
    doc = parse(_text(name))
    compact = json.dumps(doc.data, separators=(",", ":"), ensure_ascii=True)
    again = parse(compact)
    # Not byte-identical (separators are not detected), but JSON-equal with identical key order.
    assert json.dumps(json.loads(dumps(again))) == json.dumps(doc.data)


def test_bytes_input_and_bom_are_accepted() -> None:
    text = _text("importworkflowdefinition_api_example.json")
    assert parse(("\ufeff" + text).encode("utf-8")).data == json.loads(text)


@pytest.mark.parametrize(
    ("name", "layout"),
    [
        ("importworkflowdefinition_api_example.json", Layout.EMBEDDED),
        ("cycle_workflow_spec.json", Layout.EMBEDDED),
        ("real_cycle_workflow_spec.json", Layout.EMBEDDED),
        ("trigger_workflow.json", Layout.EMBEDDED),
        ("manual_workflow_spec.json", Layout.LEGACY_MANUAL),
        ("real_case.json", Layout.REGISTRY),
        ("innerflow.json", Layout.REGISTRY),
        ("dide_shell.json", Layout.REGISTRY),
        ("all_depend_types.json", Layout.REGISTRY),
    ],
)
def test_layout_detection(name: str, layout: Layout) -> None:
    assert detect_layout(parse(_text(name))).layout is layout


def test_version_1_0_0_without_spec_wrapper_uses_root_as_body() -> None:
    doc = parse(json.dumps({"version": "1.0.0", "kind": "CycleWorkflow", "nodes": [{"id": "a"}], "flow": []}))
    assert doc.body_path == "$"
    wf = to_workflow(doc)
    assert [n.id for n in wf.nodes] == ["a"]


def test_envelope_keys_are_case_insensitive() -> None:
    doc = parse('{"Version": "1.1.0", "KIND": "cycleworkflow", "Spec": {"nodes": []}}')
    assert (doc.version, doc.kind, doc.body_path) == ("1.1.0", "cycleworkflow", "$.Spec")
    assert to_workflow(doc).kind == "CycleWorkflow"


def test_yaml_example_parses_when_pyyaml_is_installed() -> None:
    pytest.importorskip("yaml")
    doc = parse(_text("simple.yaml"))
    assert doc.source_format == "yaml"
    wf = to_workflow(doc)
    assert [n.id for n in wf.nodes] == ["start", "datax", "sql"]
    assert [(e.upstream, e.downstream) for e in wf.edges] == [("start", "datax"), ("datax", "sql")]
    assert wf.node("datax").command == "DI"
    assert parse(dumps(doc)).data == doc.data


def test_yaml_without_pyyaml_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyYAML is a dependency, but an installation can still lack it (a vendored copy, a broken
    # venv): importing it then fails, which a None entry in sys.modules reproduces.
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(FlowSpecError, match="PyYAML, which is not installed"):
        parse(_text("simple.yaml"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"FlowSpec \$: the document is empty"),
        ('{"version": "1.1.0",', r"FlowSpec \$: not valid JSON: .* line 1"),
        ("[1, 2]", r"FlowSpec \$: the document must be an object, not list"),
        ('{"kind": "CycleWorkflow", "spec": {}}', r"FlowSpec \$: missing required key 'version'"),
        (
            '{"version": "1.1", "kind": "CycleWorkflow", "spec": {}}',
            r"FlowSpec \$\.version: version must be .*d\.d\.d",
        ),
        (
            '{"version": 1, "kind": "CycleWorkflow", "spec": {}}',
            r"FlowSpec \$\.version: version must be a string",
        ),
        (
            '{"version": "3.0.0", "kind": "CycleWorkflow", "spec": {}}',
            r"\$\.version: unsupported version '3\.0\.0'",
        ),
        ('{"version": "1.1.0", "spec": {}}', r"FlowSpec \$: missing required key 'kind'"),
        ('{"version": "1.1.0", "kind": "", "spec": {}}', r"\$\.kind: kind must be a non-empty string"),
        (
            '{"version": "1.1.0", "kind": "CycleWorkflow"}',
            r"\$: missing required key 'spec' \(only version 1\.0\.0",
        ),
        ('{"version": "1.1.0", "kind": "CycleWorkflow", "spec": []}', r"\$\.spec: spec must be an object"),
        ('{"version": "1.1.0", "version": "1.2.0"}', r"duplicate key 'version'"),
    ],
)
def test_parse_errors_name_the_problem_and_path(text: str, message: str) -> None:
    with pytest.raises(FlowSpecError, match=message) as info:
        parse(text)
    assert isinstance(info.value, InvalidParameterError)
    assert info.value.code == 62102


def _doc(spec: object, kind: str = "CycleWorkflow", version: str = "1.1.0") -> str:
    return json.dumps({"version": version, "kind": kind, "spec": spec})


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (
            _doc({"workflows": [{"nodes": []}]}, version="2.0.0"),
            "$.version",
            "2.0.0 single-entity documents are not supported",
        ),
        (_doc({"nodes": []}, kind="Node"), "$.kind", "kind 'Node' is not a workflow kind"),
        (_doc({"id": "1"}), "$.spec", "needs 'workflows' or 'nodes'"),
        (_doc({"workflows": []}), "$.spec.workflows", "non-empty array"),
        (_doc({"nodes": {}}), "$.spec.nodes", "must be an array"),
        (_doc({"nodes": [{"name": "x"}]}), "$.spec.nodes[0]", "a node needs an 'id'"),
        (_doc({"nodes": [{"id": "a"}, {"id": "a"}]}), "$.spec.nodes[1].id", "duplicate node id 'a'"),
        (_doc({"nodes": [{"id": "a", "timeout": "soon"}]}), "$.spec.nodes[0].timeout", "must be an integer"),
        (
            _doc({"nodes": [{"id": "a", "script": "{{scripts.nope}}"}]}),
            "$.spec.nodes[0].script",
            "names no entry of spec.scripts",
        ),
        (_doc({"nodes": [{"id": "a", "name": {"x": 1}}]}), "$.spec.nodes[0].name", "must be a string"),
        (_doc({"nodes": [], "flow": [{"depends": []}]}), "$.spec.flow[0]", "needs a 'nodeId'"),
        (
            _doc({"nodes": [], "flow": [{"nodeId": "a", "depends": [{"type": "Normal"}]}]}),
            "$.spec.flow[0].depends[0]",
            "needs an 'output' or a 'nodeId'",
        ),
    ],
)
def test_conversion_errors_name_the_json_path(text: str, path: str, message: str) -> None:
    with pytest.raises(FlowSpecError, match=message) as info:
        to_workflow(parse(text))
    assert info.value.path == path


#: Example layouts this layer refuses. None of the shipped examples is refused; 2.0.0 documents are.
UNSUPPORTED_EXAMPLES: list[str] = []


def test_every_example_is_supported_or_listed_as_refused() -> None:
    names = [*JSON_EXAMPLES, "simple.yaml"]
    for name in names:
        if name in UNSUPPORTED_EXAMPLES:
            with pytest.raises(FlowSpecError):
                to_workflow(parse(_text(name)))
        elif name.endswith(".json"):
            to_workflow(parse(_text(name)))
