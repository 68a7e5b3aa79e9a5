"""Write a :class:`WorkflowSpec` into FlowSpec: into a preserved document, or as a fresh one.

``apply_workflow`` touches only modelled fields, and only those whose value differs from what
:func:`~flowyard.flowspec.convert.to_workflow` reads from the document now; everything else — unknown
keys, key order, spelling, explicit defaults, metadata, control-flow payloads — is left as it was.
Consequently ``apply_workflow(doc, to_workflow(doc))`` returns a document equal to ``doc``.

Registry references are shared objects: changing a field that lives behind a ``"{{…}}"`` string (a
node's ``script``, ``trigger``, a registry variable) raises :class:`FlowSpecError` instead of silently
changing every node that shares it. Convert such documents with :func:`new_document` instead.
"""

from __future__ import annotations

import copy
from typing import Any

from flowyard.flowspec.access import (
    EXTENSION_KEY,
    NODE_STRATEGY_KEYS,
    TRIGGER_KEYS,
    WORKFLOW_STRATEGY_KEYS,
    load_extension,
    ref_id,
)
from flowyard.flowspec.convert import dependency_key, output_list_key, to_workflow
from flowyard.flowspec.document import FlowSpecDocument
from flowyard.flowspec.errors import FlowSpecError, join_path
from flowyard.flowspec.layouts import Layout, detect_layout
from flowyard.flowspec.model import (
    Edge,
    ExternalDependency,
    NodeSpec,
    Strategy,
    Trigger,
    Variable,
    WorkflowSpec,
)
from flowyard.flowspec.normalize import normalize

__all__ = ["apply_workflow", "new_document"]

NEW_DOCUMENT_VERSION = "1.1.0"


def _set(obj: dict[str, Any], key: str, new: Any, old: Any) -> None:
    if new == old:
        return
    if new is None:
        obj.pop(key, None)
    else:
        obj[key] = new


def _write_extension(obj: dict[str, Any], new: str | None, old: str | None) -> None:
    if new != old:
        _set(obj, EXTENSION_KEY, load_extension(new) if new is not None else None, old)


def _writable(parent: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    if not isinstance(value, dict):
        raise FlowSpecError(
            join_path(path, key),
            f"{value!r} is a registry reference; changing the shared object it names is not supported",
        )
    return value


def _variable_dict(variable: Variable) -> dict[str, Any]:
    result: dict[str, Any] = {"artifactType": "Variable", "name": variable.name}
    for attr in ("scope", "type", "value"):
        if getattr(variable, attr) is not None:
            result[attr] = getattr(variable, attr)
    return result


def _trigger_dict(trigger: Trigger) -> dict[str, Any]:
    return {key: getattr(trigger, attr) for attr, key in TRIGGER_KEYS if getattr(trigger, attr) is not None}


def _strategy_dict(strategy: Strategy) -> dict[str, Any]:
    pairs = WORKFLOW_STRATEGY_KEYS
    return {key: getattr(strategy, attr) for attr, key in pairs if getattr(strategy, attr) is not None}


def _write_variables(parent: dict[str, Any], key: str, new: tuple[Variable, ...], path: str) -> None:
    existing = {
        item.get("name"): item for item in parent.get(key) or [] if isinstance(item, dict) and "name" in item
    }
    if any(not isinstance(item, dict) for item in parent.get(key) or []):
        raise FlowSpecError(join_path(path, key), "holds registry references; changing them is not supported")
    items = []
    for variable in new:
        item = copy.deepcopy(existing.get(variable.name)) or _variable_dict(variable)
        for attr in ("name", "scope", "type", "value"):
            _set(item, attr, getattr(variable, attr), item.get(attr))
        items.append(item)
    parent[key] = items


def _write_trigger(parent: dict[str, Any], new: Trigger | None, old: Trigger | None, path: str) -> None:
    if new == old:
        return
    if new is None:
        parent.pop("trigger", None)
        return
    target = _writable(parent, "trigger", path)
    for attr, key in TRIGGER_KEYS:
        _set(target, key, getattr(new, attr), getattr(old, attr) if old else None)


def _write_outputs(raw: dict[str, Any], node: NodeSpec, version: str, path: str) -> None:
    outputs = _writable(raw, "outputs", path)
    key = output_list_key(outputs, version)
    existing = {item.get("data"): item for item in outputs.get(key) or [] if isinstance(item, dict)}
    outputs[key] = [
        copy.deepcopy(existing[data]) if data in existing else _output_dict(data, node)
        for data in node.outputs
    ]


def _output_dict(data: str, node: NodeSpec) -> dict[str, Any]:
    result: dict[str, Any] = {"data": data, "artifactType": "NodeOutput"}
    if node.name is not None:
        result["refTableName"] = node.name
    if data == node.id:
        result["isDefault"] = True
    return result


def _apply_node(raw: dict[str, Any], old: NodeSpec, new: NodeSpec, path: str, version: str) -> None:
    _set(raw, "name", new.name, old.name)
    script_fields = ("command", "command_type_id", "language", "content", "parameters")
    if any(getattr(new, f) != getattr(old, f) for f in script_fields):
        script = _writable(raw, "script", path)
        script_path = join_path(path, "script")
        if (new.command, new.command_type_id) != (old.command, old.command_type_id):
            runtime = _writable(script, "runtime", script_path)
            _set(runtime, "command", new.command, old.command)
            _set(runtime, "commandTypeId", new.command_type_id, old.command_type_id)
        _set(script, "language", new.language, old.language)
        content_key = "code" if "code" in script and "content" not in script else "content"
        _set(script, content_key, new.content, old.content)
        if new.parameters != old.parameters:
            _write_variables(script, "parameters", new.parameters, script_path)
    nested = raw.get("strategy") if isinstance(raw.get("strategy"), dict) else None
    for attr, key in NODE_STRATEGY_KEYS:
        new_value, old_value = getattr(new.strategy, attr), getattr(old.strategy, attr)
        if new_value != old_value:
            # Flat keys win on read, so write flat; keep a nested copy consistent if there is one.
            _set(raw, key, new_value, None if key not in raw else old_value)
            if nested is not None and key in nested:
                _set(nested, key, new_value, nested[key])
    _write_trigger(raw, new.trigger, old.trigger, path)
    if new.outputs != old.outputs:
        _write_outputs(raw, new, version, path)
    _write_extension(raw, new.extension, old.extension)


def _new_node(node: NodeSpec) -> dict[str, Any]:
    raw: dict[str, Any] = {"id": node.id}
    for attr, key in NODE_STRATEGY_KEYS:
        if getattr(node.strategy, attr) is not None:
            raw[key] = getattr(node.strategy, attr)
    script: dict[str, Any] = {}
    if node.language is not None:
        script["language"] = node.language
    if node.content is not None:
        script["content"] = node.content
    runtime: dict[str, Any] = {}
    if node.command is not None:
        runtime["command"] = node.command
    if node.command_type_id is not None:
        runtime["commandTypeId"] = node.command_type_id
    script["runtime"] = runtime
    if node.parameters:
        script["parameters"] = [_variable_dict(v) for v in node.parameters]
    raw["script"] = script
    if node.trigger is not None:
        raw["trigger"] = _trigger_dict(node.trigger)
    if node.name is not None:
        raw["name"] = node.name
    raw["inputs"] = {}
    raw["outputs"] = {"nodeOutputs": [_output_dict(data, node) for data in node.outputs]}
    if node.extension is not None:
        raw[EXTENSION_KEY] = load_extension(node.extension)
    return raw


def _depend_key(downstream: str, dep: Edge | ExternalDependency) -> tuple[str, str]:
    if isinstance(dep, Edge):
        return downstream, f"out:{dep.output}" if dep.output is not None else f"node:{dep.upstream}"
    return downstream, f"out:{dep.output}" if dep.output is not None else f"node:{dep.upstream_node_id}"


def _depend_dict(dep: Edge | ExternalDependency) -> dict[str, Any]:
    result: dict[str, Any] = {"type": dep.type}
    if dep.output is not None:
        result["output"] = dep.output
    elif isinstance(dep, Edge):
        result["nodeId"] = dep.upstream
    else:
        result["nodeId"] = dep.upstream_node_id
    return result


def _write_edges(container: dict[str, Any], key: str, wf: WorkflowSpec) -> None:
    old_items = [item for item in container.get(key) or [] if isinstance(item, dict)]
    old_depends: dict[tuple[str, str], dict[str, Any]] = {}
    old_by_node: dict[str, dict[str, Any]] = {}
    for item in old_items:
        downstream = ref_id(str(item.get("nodeId")))
        old_by_node.setdefault(downstream, item)
        for depend in item.get("depends") or []:
            if isinstance(depend, dict):
                ref = depend.get("output")
                name = f"out:{ref}" if ref is not None else f"node:{ref_id(str(depend.get('nodeId')))}"
                old_depends.setdefault((downstream, name), depend)
    grouped: dict[str, list[dict[str, Any]]] = {}
    deps: list[tuple[str, Edge | ExternalDependency]] = [(e.downstream, e) for e in wf.edges]
    deps += [(d.node_id, d) for d in wf.external]
    for downstream, dep in deps:
        previous = old_depends.get(_depend_key(downstream, dep))
        depend = copy.deepcopy(previous) if previous is not None else _depend_dict(dep)
        if (depend.get("type") or "Normal") != dep.type:
            depend["type"] = dep.type
        grouped.setdefault(downstream, []).append(depend)
    items = []
    for downstream, depends in grouped.items():
        old_item = old_by_node.get(downstream)
        item = copy.deepcopy(old_item) if old_item is not None else {"nodeId": downstream}
        item["depends"] = depends
        items.append(item)
    container[key] = items


def apply_workflow(doc: FlowSpecDocument, wf: WorkflowSpec) -> FlowSpecDocument:
    """A copy of ``doc`` with the modelled fields of its first workflow set from ``wf``.

    Nodes are matched by id: changed nodes are updated in place, new nodes appended, nodes missing
    from ``wf`` removed (registry placeholder nodes are never touched). The dependency list is
    rebuilt only when the edges differ, reusing the original dependency objects (and their
    ``refTableName``/``sourceType``) where they still apply. ``doc`` itself is not changed.
    """
    out = doc.copy()
    info = detect_layout(out)
    current = to_workflow(out)
    if normalize(current) == normalize(wf):
        return out
    workflow, path = info.workflow, info.workflow_path
    if wf.kind != current.kind:
        if info.layout is Layout.LEGACY_MANUAL:
            raise FlowSpecError("$.kind", "cannot change the kind of a legacy manual-workflow document")
        out.data[out.envelope_key("kind") or "kind"] = wf.kind
        for obj in {id(info.body): info.body, id(workflow): workflow}.values():
            if "type" in obj:
                obj["type"] = wf.kind
    for key in ("id", "name", "owner", "description"):
        new, old = getattr(wf, key), getattr(current, key)
        if new != old:
            mirrored = workflow is not info.body and key in info.body
            if key in workflow or not mirrored:
                _set(workflow, key, new, old)
            if mirrored:
                _set(info.body, key, new, old)
    _write_trigger(workflow, wf.trigger, current.trigger, path)
    _write_extension(workflow, wf.extension, current.extension)
    if wf.strategy != current.strategy:
        strategy = _writable(workflow, "strategy", path)
        for attr, key in WORKFLOW_STRATEGY_KEYS:
            _set(strategy, key, getattr(wf.strategy, attr), getattr(current.strategy, attr))
    if wf.parameters != current.parameters:
        if info.layout is Layout.EMBEDDED:
            _write_variables(_writable(workflow, "script", path), "parameters", wf.parameters, path)
        elif info.layout is Layout.LEGACY_MANUAL:
            _write_variables(workflow, "variables", wf.parameters, path)
        else:
            raise FlowSpecError(
                join_path(path, "variables"), "registry-layout parameters are shared; use new_document"
            )
    _apply_nodes(workflow, current, wf, join_path(path, "nodes"), out.version)
    if (wf.edges, wf.external) != (current.edges, current.external):
        _write_edges(workflow, dependency_key(info), wf)
    return out


def _apply_nodes(
    workflow: dict[str, Any], current: WorkflowSpec, wf: WorkflowSpec, path: str, version: str
) -> None:
    raw_nodes: list[Any] = workflow.setdefault("nodes", [])
    old_by_id = {node.id: node for node in current.nodes}
    wanted = {node.id for node in wf.nodes}
    kept: list[Any] = []
    for raw in raw_nodes:
        node_id = str(raw.get("id")) if isinstance(raw, dict) else None
        if node_id in old_by_id and node_id not in wanted:
            continue  # removed from the workflow
        kept.append(raw)
    raw_nodes[:] = kept
    index = {str(raw.get("id")): i for i, raw in enumerate(raw_nodes) if isinstance(raw, dict)}
    for node in wf.nodes:
        if node.id in old_by_id:
            _apply_node(
                raw_nodes[index[node.id]], old_by_id[node.id], node, join_path(path, index[node.id]), version
            )
        else:
            raw_nodes.append(_new_node(node))


def new_document(wf: WorkflowSpec) -> FlowSpecDocument:
    """A fresh version 1.1.0 document (layout 2, as DataWorks exports) describing ``wf``.

    ``spec.id/name/type/owner`` mirror the workflow (spec §5.6); the workflow's own default output is
    its id. Node outputs are written exactly as given — callers that build a workflow from scratch
    should include each node's id as its default output.
    """
    command = "MANUAL_WORKFLOW" if wf.kind == "ManualWorkflow" else "WORKFLOW"
    script: dict[str, Any] = {}
    if wf.name is not None:
        script["path"] = wf.name
    script["runtime"] = {"command": command}
    if wf.parameters:
        script["parameters"] = [_variable_dict(v) for v in wf.parameters]
    workflow: dict[str, Any] = {"script": script}
    if wf.id is not None:
        workflow["id"] = wf.id
    if wf.trigger is not None:
        workflow["trigger"] = _trigger_dict(wf.trigger)
    strategy = _strategy_dict(wf.strategy)
    if strategy:
        workflow["strategy"] = strategy
    for key in ("name", "owner", "description"):
        if getattr(wf, key) is not None:
            workflow[key] = getattr(wf, key)
    workflow["inputs"] = {}
    outputs: list[dict[str, Any]] = []
    if wf.id is not None:
        outputs.append(
            {"data": wf.id, "artifactType": "NodeOutput", "refTableName": wf.name or wf.id, "isDefault": True}
        )
    workflow["outputs"] = {"nodeOutputs": outputs} if outputs else {}
    if wf.extension is not None:
        workflow[EXTENSION_KEY] = load_extension(wf.extension)
    workflow["nodes"] = [_new_node(node) for node in wf.nodes]
    workflow["dependencies"] = []
    _write_edges(workflow, "dependencies", wf)
    spec: dict[str, Any] = {}
    for key in ("name", "id"):
        if getattr(wf, key) is not None:
            spec[key] = getattr(wf, key)
    spec["type"] = wf.kind
    if wf.owner is not None:
        spec["owner"] = wf.owner
    spec["workflows"] = [workflow]
    return FlowSpecDocument({"version": NEW_DOCUMENT_VERSION, "kind": wf.kind, "spec": spec})
