"""Read the typed :class:`~flowyard.flowspec.model.WorkflowSpec` out of a preserved document.

``to_workflow`` works on all three 1.x layouts (:mod:`.layouts`). Registry references (layout 1) are
resolved on the way: ``script``, ``trigger`` and parameter entries that are ``"{{…}}"`` strings are
looked up in ``spec.scripts`` / ``spec.triggers`` / ``spec.variables``; a ``depends[].nodeId`` that
names a ``reference`` placeholder node becomes an external dependency on that node's output string.

Edges come from dependencies by output string (spec §3.8): every ``outputs.nodeOutputs[].data`` of a
top-level node is indexed to its node; a ``depends[].output`` found in the index is an internal
:class:`Edge`, anything else is an :class:`ExternalDependency`, kept verbatim.
"""

from __future__ import annotations

from typing import Any

from flowyard.flowspec.access import (
    NODE_STRATEGY_KEYS,
    TRIGGER_KEYS,
    VARIABLE_KEYS,
    WORKFLOW_STRATEGY_KEYS,
    as_list,
    as_obj,
    get_int,
    get_str,
    is_ref,
    read_extension,
    read_fields,
    ref_id,
    resolve_ref,
)
from flowyard.flowspec.document import FlowSpecDocument
from flowyard.flowspec.errors import FlowSpecError, join_path
from flowyard.flowspec.layouts import Layout, LayoutInfo, detect_layout, find_key
from flowyard.flowspec.model import (
    CONTAINER_KEYS,
    Edge,
    ExternalDependency,
    InnerNode,
    NodeSpec,
    Strategy,
    Trigger,
    Variable,
    WorkflowSpec,
)

__all__ = ["dependency_key", "output_list_key", "read_node", "read_trigger", "to_workflow"]


def dependency_key(info: LayoutInfo) -> str:
    """The key of the workflow's edge list as spelled in the document (``dependencies`` or ``flow``)."""
    existing = find_key(info.workflow, "dependencies", "flow")
    if existing is not None:
        return existing
    return "dependencies" if info.layout is Layout.EMBEDDED else "flow"


def output_list_key(outputs: dict[str, Any], version: str) -> str:
    """The key of the node-output list in an ``outputs`` object (``nodeOutputs``, or 1.0's ``outputs``)."""
    existing = find_key(outputs, "nodeOutputs", "outputs", "nodeOutput", "output")
    if existing is not None:
        return existing
    return "outputs" if version == "1.0.0" else "nodeOutputs"


def read_trigger(value: Any, path: str, info: LayoutInfo) -> Trigger | None:
    """The trigger at ``path`` (``None`` if absent), resolving a ``{{triggers.id}}`` reference."""
    if value is None:
        return None
    value = resolve_ref(info.body, info.body_path, "triggers", value, path)
    return Trigger(**read_fields(as_obj(value, path), TRIGGER_KEYS, path))


def _read_variables(items: Any, path: str, info: LayoutInfo) -> tuple[Variable, ...]:
    result = []
    for index, raw_item in enumerate(as_list(items, path)):
        item_path = join_path(path, index)
        item = as_obj(resolve_ref(info.body, info.body_path, "variables", raw_item, item_path), item_path)
        fields = read_fields(item, VARIABLE_KEYS, item_path)
        if fields["name"] is None:
            raise FlowSpecError(item_path, "a variable needs a 'name'")
        result.append(Variable(**fields))
    return tuple(result)


def _read_outputs(node: dict[str, Any], path: str, version: str) -> tuple[str, ...]:
    outputs = node.get("outputs")
    if outputs is None:
        return ()
    outputs_path = join_path(path, "outputs")
    outputs = as_obj(outputs, outputs_path)
    key = output_list_key(outputs, version)
    result = []
    for index, item in enumerate(as_list(outputs.get(key), join_path(outputs_path, key))):
        item_path = join_path(join_path(outputs_path, key), index)
        if isinstance(item, str):
            result.append(ref_id(item) if is_ref(item) else item)
            continue
        data = get_str(as_obj(item, item_path), "data", item_path)
        if data is not None:
            result.append(data)
    return tuple(result)


def _command_of(node: dict[str, Any]) -> str | None:
    script = node.get("script")
    runtime = script.get("runtime") if isinstance(script, dict) else None
    command = runtime.get("command") if isinstance(runtime, dict) else None
    return command if isinstance(command, str) else None


def read_inner_nodes(node: dict[str, Any], path: str) -> tuple[InnerNode, ...]:
    """The nodes inside the control-flow payloads of ``node``, nested ones flattened (read-only)."""
    parent = get_str(node, "id", path) or ""
    found: list[InnerNode] = []
    for key in CONTAINER_KEYS:
        payload = node.get(key)
        if not isinstance(payload, dict):
            continue
        key_path = join_path(path, key)
        members = [
            (join_path(join_path(key_path, "nodes"), i), n) for i, n in enumerate(payload.get("nodes") or [])
        ]
        if isinstance(payload.get("while"), dict):
            members.append((join_path(key_path, "while"), payload["while"]))
        for member_path, member in members:
            if not isinstance(member, dict):
                continue
            found.append(
                InnerNode(
                    id=get_str(member, "id", member_path) or "",
                    parent_id=parent,
                    container=key,
                    name=get_str(member, "name", member_path),
                    command=_command_of(member),
                )
            )
            found.extend(read_inner_nodes(member, member_path))
    return tuple(found)


def read_node(node: dict[str, Any], path: str, info: LayoutInfo, version: str) -> NodeSpec:
    """The modelled fields of one top-level node object."""
    node_id = get_str(node, "id", path)
    if node_id is None:
        raise FlowSpecError(path, "a node needs an 'id'")
    script_value = node.get("script")
    script: dict[str, Any] = {}
    if script_value is not None:
        script_path = join_path(path, "script")
        script = as_obj(
            resolve_ref(info.body, info.body_path, "scripts", script_value, script_path), script_path
        )
    script_path = join_path(path, "script")
    runtime_path = join_path(script_path, "runtime")
    runtime = as_obj(script.get("runtime") or {}, runtime_path)
    content_key = "code" if "code" in script and "content" not in script else "content"
    strategy_path = join_path(path, "strategy")
    nested = as_obj(node.get("strategy") or {}, strategy_path)
    flat = read_fields(node, NODE_STRATEGY_KEYS, path)
    fallback = read_fields(nested, NODE_STRATEGY_KEYS, strategy_path)
    strategy = Strategy(**{attr: flat[attr] if flat[attr] is not None else fallback[attr] for attr in flat})
    return NodeSpec(
        id=node_id,
        name=get_str(node, "name", path),
        command=get_str(runtime, "command", runtime_path),
        command_type_id=get_int(runtime, "commandTypeId", runtime_path),
        language=get_str(script, "language", script_path),
        content=get_str(script, content_key, script_path),
        parameters=_read_variables(script.get("parameters"), join_path(script_path, "parameters"), info),
        strategy=strategy,
        trigger=read_trigger(node.get("trigger"), join_path(path, "trigger"), info),
        outputs=_read_outputs(node, path, version),
        extension=read_extension(node, path),
        inner_nodes=read_inner_nodes(node, path),
    )


def _workflow_parameters(info: LayoutInfo) -> tuple[Variable, ...]:
    wf, path = info.workflow, info.workflow_path
    if info.layout is Layout.EMBEDDED:
        script_path = join_path(path, "script")
        script = as_obj(wf.get("script") or {}, script_path)
        return _read_variables(script.get("parameters"), join_path(script_path, "parameters"), info)
    variables = _read_variables(wf.get("variables"), join_path(path, "variables"), info)
    if info.layout is Layout.LEGACY_MANUAL:
        return variables
    # Registry layout: spec.variables is a registry of every scope; the workflow's own are scope Workflow.
    return tuple(v for v in variables if (v.scope or "").lower() == "workflow")


def _workflow_prop(info: LayoutInfo, key: str) -> str | None:
    value = get_str(info.workflow, key, info.workflow_path)
    if value is None and info.workflow is not info.body:
        value = get_str(info.body, key, info.body_path)
    return value


def _read_edges(
    info: LayoutInfo, nodes: list[NodeSpec], placeholders: dict[str, str]
) -> tuple[tuple[Edge, ...], tuple[ExternalDependency, ...]]:
    producers: dict[str, str] = {}
    for node in nodes:
        for output in node.outputs:
            producers.setdefault(output, node.id)
    node_ids = {node.id for node in nodes}
    edges: list[Edge] = []
    external: list[ExternalDependency] = []
    key = dependency_key(info)
    deps_path = join_path(info.workflow_path, key)
    for index, raw_item in enumerate(as_list(info.workflow.get(key), deps_path)):
        item_path = join_path(deps_path, index)
        item = as_obj(raw_item, item_path)
        raw_downstream = get_str(item, "nodeId", item_path)
        if raw_downstream is None:
            raise FlowSpecError(item_path, "a dependency entry needs a 'nodeId' (the downstream node)")
        downstream = ref_id(raw_downstream)
        depends_path = join_path(item_path, "depends")
        for d_index, raw_depend in enumerate(as_list(item.get("depends"), depends_path)):
            d_path = join_path(depends_path, d_index)
            depend = as_obj(raw_depend, d_path)
            dep_type = get_str(depend, "type", d_path) or "Normal"
            dep_output = get_str(depend, "output", d_path)
            raw_upstream = get_str(depend, "nodeId", d_path)
            if dep_output is not None:
                if dep_output in producers:
                    edges.append(Edge(producers[dep_output], downstream, dep_output, dep_type))
                else:
                    external.append(ExternalDependency(downstream, output=dep_output, type=dep_type))
            elif raw_upstream is not None:
                upstream = ref_id(raw_upstream)
                if upstream in node_ids:
                    edges.append(Edge(upstream, downstream, None, dep_type))
                elif upstream in placeholders:
                    external.append(
                        ExternalDependency(downstream, output=placeholders[upstream], type=dep_type)
                    )
                else:
                    external.append(ExternalDependency(downstream, upstream_node_id=upstream, type=dep_type))
            elif dep_type.lower() in ("crosscycledependsonself", "crosscycledependsonchildren"):
                # Self/children cross-cycle dependencies need no upstream (spec §3.8).
                edges.append(Edge(downstream, downstream, None, dep_type))
            else:
                raise FlowSpecError(d_path, "a dependency needs an 'output' or a 'nodeId'")
    return tuple(edges), tuple(external)


def to_workflow(doc: FlowSpecDocument) -> WorkflowSpec:
    """The typed view of the first workflow of ``doc``; the document is not changed.

    Raises :class:`FlowSpecError` for unsupported layouts/versions (see :mod:`.layouts`), values of the
    wrong JSON type, nodes without id, duplicate node ids and unresolvable registry references.
    """
    info = detect_layout(doc)
    wf, path = info.workflow, info.workflow_path
    nodes: list[NodeSpec] = []
    placeholders: dict[str, str] = {}
    seen: set[str] = set()
    nodes_path = join_path(path, "nodes")
    for index, raw_node in enumerate(as_list(wf.get("nodes"), nodes_path)):
        node_path = join_path(nodes_path, index)
        raw = as_obj(raw_node, node_path)
        if "reference" in raw and "script" not in raw:
            # Layout 1 placeholder for an existing node elsewhere, named by its output string.
            ref_path = join_path(node_path, "reference")
            output = get_str(as_obj(raw["reference"], ref_path), "output", ref_path)
            node_id = get_str(raw, "id", node_path)
            if output is None or node_id is None:
                raise FlowSpecError(node_path, "a reference node needs an 'id' and 'reference.output'")
            placeholders[node_id] = output
            continue
        node = read_node(raw, node_path, info, doc.version)
        if node.id in seen:
            raise FlowSpecError(join_path(node_path, "id"), f"duplicate node id {node.id!r}")
        seen.add(node.id)
        nodes.append(node)
    edges, external = _read_edges(info, nodes, placeholders)
    strategy_path = join_path(path, "strategy")
    return WorkflowSpec(
        kind=info.kind,
        id=_workflow_prop(info, "id"),
        name=_workflow_prop(info, "name"),
        owner=_workflow_prop(info, "owner"),
        description=_workflow_prop(info, "description"),
        trigger=read_trigger(wf.get("trigger"), join_path(path, "trigger"), info),
        strategy=Strategy(
            **read_fields(
                as_obj(wf.get("strategy") or {}, strategy_path), WORKFLOW_STRATEGY_KEYS, strategy_path
            )
        ),
        parameters=_workflow_parameters(info),
        nodes=tuple(nodes),
        edges=edges,
        external=external,
        extension=read_extension(wf, path),
    )
