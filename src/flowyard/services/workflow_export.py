"""Flowyard → FlowSpec: the workflow GetWorkflowDefinition returns for a flow (:func:`to_workflow_spec`).

Pure functions, no database. For a flow born in EnOS, a fresh workflow with every field FlowSpec
carries plus the ``flowyard`` objects. For an imported flow, the stored workflow with exactly the
fields that differ between the flow and what the stored document imports as
(:func:`~flowyard.services.workflow_import.to_definition`) written back, so edits made through the
EnOS API show up and everything else stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flowyard.domain.flows import (
    FailureStrategy,
    Flow,
    FlowDefinition,
    FlowOptions,
    FlowType,
    Parameter,
    RerunMode,
    TaskDefinition,
    TaskRelation,
)
from flowyard.errors import InvalidParameterError
from flowyard.flowspec import Edge, NodeSpec, Strategy, Trigger, Variable, WorkflowSpec
from flowyard.flowspec.access import dump_extension, load_extension
from flowyard.services.workflow_import import to_definition
from flowyard.services.workflow_specs import (
    flow_extension,
    format_wall,
    node_command,
    task_extension,
    timeout_fields,
)


def _variable_type(value: str) -> str:
    # MigrationX's rule: a value that refers to a scheduling parameter is System, else Constant.
    return "System" if "$" in value else "Constant"


def _command_for(task: TaskDefinition, current: str | None) -> str:
    """The node command that runs ``task``: the current one when it already does, else the default."""
    return node_command(task.type, current)


def _node_ids(flow: Flow) -> dict[str, str]:
    """Task name → node id: the imported node id, else the task id (a task born in EnOS)."""
    d = flow.definition
    return {task.name: task.node_id or str(tid) for task, tid in zip(d.tasks, flow.task_ids, strict=True)}


def _incoming(d: FlowDefinition, ids: dict[str, str]) -> dict[str, list[tuple[str, TaskRelation]]]:
    result: dict[str, list[tuple[str, TaskRelation]]] = {task.name: [] for task in d.tasks}
    for rel in d.relations:
        result[rel.target].append((ids[rel.source], rel))
    return result


def _fresh_node(task: TaskDefinition, node_id: str, incoming: list[tuple[str, TaskRelation]]) -> NodeSpec:
    timeout, unit = timeout_fields(task.timeout, "HOURS") if task.timeout else (None, None)
    return NodeSpec(
        id=node_id,
        name=task.name,
        command=_command_for(task, None),
        content=task.cmd,
        strategy=Strategy(
            timeout=timeout,
            timeout_unit=unit,
            rerun_times=task.retry_limit or None,
            rerun_interval_ms=task.retry_interval * 1000 or None,
            rerun_mode=str(task.rerun_mode) if task.rerun_mode else None,
            priority=task.priority_level or None,
        ),
        outputs=(node_id,),
        extension=dump_extension(task_extension(task, incoming)),
    )


def _fresh_workflow(flow: Flow, workflow_id: str) -> WorkflowSpec:
    d, o = flow.definition, flow.definition.options
    ids = _node_ids(flow)
    incoming = _incoming(d, ids)
    periodic = d.type == FlowType.PERIODIC
    return WorkflowSpec(
        kind="CycleWorkflow" if periodic else "ManualWorkflow",
        id=workflow_id,
        name=d.name,
        description=d.desc or None,
        trigger=Trigger(
            type="Scheduler" if periodic else "Manual",
            cron=d.cron if periodic else None,
            timezone=o.time_zone or None,
            start_time=format_wall(o.schedule_start),
            end_time=format_wall(o.schedule_end),
        ),
        strategy=Strategy(
            rerun_mode=None if o.rerun_mode == RerunMode.ALLOWED else str(o.rerun_mode),
            failure_strategy=None if o.failure_strategy == FailureStrategy.BREAK else str(o.failure_strategy),
            instance_mode=str(o.instance_mode) if o.instance_mode else None,
        ),
        parameters=tuple(Variable(p.key, p.value, "Workflow", _variable_type(p.value)) for p in d.parameters),
        nodes=tuple(_fresh_node(task, ids[task.name], incoming[task.name]) for task in d.tasks),
        edges=tuple(Edge(ids[r.source], ids[r.target], ids[r.source]) for r in d.relations),
        extension=dump_extension(flow_extension(d)),
    )


def _merge_extension(stored: str | None, now: dict[str, Any], base: dict[str, Any]) -> str | None:
    """``stored`` with the keys Flowyard manages set from ``now``, when ``now`` differs from ``base``."""
    if now == base:
        return stored
    merged = {key: value for key, value in load_extension(stored).items() if key not in base}
    merged.update(now)
    return dump_extension(merged)


def _changed(now: Any, base: Any, new: Callable[[], Any], old: Any) -> Any:
    return new() if now != base else old


def _merge_node(
    node: NodeSpec,
    task: TaskDefinition,
    base: TaskDefinition,
    incoming: tuple[list[tuple[str, TaskRelation]], list[tuple[str, TaskRelation]]],
    fallback: Strategy,
) -> NodeSpec:
    s = node.strategy
    unit = s.timeout_unit if s.timeout is not None else fallback.timeout_unit
    timeout, timeout_unit = _changed(
        task.timeout, base.timeout, lambda: timeout_fields(task.timeout, unit), (s.timeout, s.timeout_unit)
    )
    strategy = replace(
        s,
        timeout=timeout,
        timeout_unit=timeout_unit,
        rerun_times=_changed(task.retry_limit, base.retry_limit, lambda: task.retry_limit, s.rerun_times),
        rerun_interval_ms=_changed(
            task.retry_interval, base.retry_interval, lambda: task.retry_interval * 1000, s.rerun_interval_ms
        ),
        priority=_changed(task.priority_level, base.priority_level, lambda: task.priority_level, s.priority),
        rerun_mode=_changed(
            task.rerun_mode,
            base.rerun_mode,
            lambda: str(task.rerun_mode) if task.rerun_mode else None,
            s.rerun_mode,
        ),
    )
    script_changed = (task.type, task.cmd) != (base.type, base.cmd)
    return replace(
        node,
        name=task.name if task.name != base.name else node.name,
        command=_command_for(task, node.command) if script_changed else node.command,
        content=task.cmd if script_changed else node.content,
        strategy=strategy,
        extension=_merge_extension(
            node.extension, task_extension(task, incoming[0]), task_extension(base, incoming[1])
        ),
    )


def _merge_trigger(stored: WorkflowSpec, d: FlowDefinition, base: FlowDefinition) -> Trigger | None:
    o, b = d.options, base.options
    periodic = d.type == FlowType.PERIODIC
    wanted = (
        (d.type, d.cron) == (base.type, base.cron),
        (o.time_zone, o.schedule_start, o.schedule_end) == (b.time_zone, b.schedule_start, b.schedule_end),
    )
    if all(wanted):
        return stored.trigger
    t = stored.trigger or Trigger()
    if not wanted[0]:
        t = replace(t, type="Scheduler", cron=d.cron) if periodic else replace(t, type="Manual")
    if not wanted[1]:
        t = replace(
            t,
            timezone=_changed(o.time_zone, b.time_zone, lambda: o.time_zone or None, t.timezone),
            start_time=_changed(
                o.schedule_start, b.schedule_start, lambda: format_wall(o.schedule_start), t.start_time
            ),
            end_time=_changed(
                o.schedule_end, b.schedule_end, lambda: format_wall(o.schedule_end), t.end_time
            ),
        )
    return t


def _merge_strategy(s: Strategy, o: FlowOptions, b: FlowOptions) -> Strategy:
    return replace(
        s,
        rerun_mode=_changed(o.rerun_mode, b.rerun_mode, lambda: str(o.rerun_mode), s.rerun_mode),
        failure_strategy=_changed(
            o.failure_strategy, b.failure_strategy, lambda: str(o.failure_strategy), s.failure_strategy
        ),
        instance_mode=_changed(
            o.instance_mode,
            b.instance_mode,
            lambda: str(o.instance_mode) if o.instance_mode else None,
            s.instance_mode,
        ),
    )


def _merge_parameters(stored: tuple[Variable, ...], params: tuple[Parameter, ...]) -> tuple[Variable, ...]:
    by_name = {v.name: v for v in stored}
    return tuple(
        replace(by_name[p.key], value=p.value)
        if p.key in by_name
        else Variable(p.key, p.value, "Workflow", _variable_type(p.value))
        for p in params
    )


def _merge_edges(
    stored: WorkflowSpec, nodes: dict[str, NodeSpec], now: set[tuple[str, str]], base: set[tuple[str, str]]
) -> tuple[Edge, ...]:
    """Stored edges that still stand (or were never relations), plus new ones by default output."""
    kept = [
        e
        for e in stored.edges
        if e.upstream in nodes
        and e.downstream in nodes
        and ((e.upstream, e.downstream) in now or (e.upstream, e.downstream) not in base)
    ]
    present = {(e.upstream, e.downstream) for e in kept}
    for up, down in sorted(now - present):
        outputs = nodes[up].outputs
        kept.append(Edge(up, down, up if up in outputs else (outputs[0] if outputs else None)))
    return tuple(kept)


def _merged_workflow(flow: Flow, stored: WorkflowSpec) -> WorkflowSpec:
    d = flow.definition
    base = to_definition(stored).definition
    base_ids = {task.name: task.node_id for task in base.tasks}
    base_by_node = {task.node_id: task for task in base.tasks}
    base_incoming = _incoming(base, base_ids)
    stored_nodes = {node.id: node for node in stored.nodes}
    ids = _node_ids(flow)
    incoming = _incoming(d, ids)
    nodes: list[NodeSpec] = []
    for task in d.tasks:
        node_id = ids[task.name]
        node, base_task = stored_nodes.get(node_id), base_by_node.get(node_id)
        if node is None or base_task is None:
            nodes.append(_fresh_node(task, node_id, incoming[task.name]))
            continue
        pair = (incoming[task.name], base_incoming[base_task.name])
        nodes.append(_merge_node(node, task, base_task, pair, stored.strategy))
    by_id = {node.id: node for node in nodes}
    now_pairs = {(ids[r.source], ids[r.target]) for r in d.relations}
    base_pairs = {(base_ids[r.source], base_ids[r.target]) for r in base.relations}
    return replace(
        stored,
        name=d.name,
        description=_changed(d.desc, base.desc, lambda: d.desc or None, stored.description),
        trigger=_merge_trigger(stored, d, base),
        strategy=_merge_strategy(stored.strategy, d.options, base.options),
        parameters=_changed(
            d.parameters,
            base.parameters,
            lambda: _merge_parameters(stored.parameters, d.parameters),
            stored.parameters,
        ),
        nodes=tuple(nodes),
        edges=_merge_edges(stored, by_id, now_pairs, base_pairs),
        external=tuple(dep for dep in stored.external if dep.node_id in by_id),
        extension=_merge_extension(stored.extension, flow_extension(d), flow_extension(base)),
    )


def to_workflow_spec(flow: Flow, workflow_id: str, stored: WorkflowSpec | None) -> WorkflowSpec:
    """The workflow to export for ``flow``.

    Without ``stored`` (a flow born in EnOS): a new workflow carrying every field FlowSpec can
    (node ids are the task ids). With ``stored`` (the imported document's workflow): that workflow
    with the fields where the flow now differs from what ``stored`` imports as written back —
    name, description, cron and trigger type, time zone and schedule window, rerun mode, failure
    strategy, instance mode, parameters, each node's name, script, retries, timeout, priority and
    rerun mode, relations, and the ``flowyard`` objects; tasks without a node become new nodes.
    """
    if stored is None:
        return _fresh_workflow(flow, workflow_id)
    try:
        return _merged_workflow(flow, stored)
    except InvalidParameterError:
        # A document stored before its import rules tightened: give it back as stored, renamed.
        return replace(stored, name=flow.definition.name)
