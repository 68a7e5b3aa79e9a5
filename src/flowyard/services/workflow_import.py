"""FlowSpec → Flowyard: the flow definition a FlowSpec workflow imports as (:func:`to_definition`).

Pure functions, no database (:mod:`flowyard.services.workflow_save` stores the result):

* workflow ``name`` → flow name (required: a document without a named workflow, such as the
  registry layout of single-node exports, is not importable); ``description`` → desc; workflow
  parameters → flow parameters (name, value);
* trigger ``Scheduler`` → periodic flow (``FlowType.PERIODIC``, active unless the workflow's
  recurrence/trigger is ``Pause``) with the 6-field Quartz cron as is; anything else → manual;
  the cycle is derived from the cron (:func:`~flowyard.services.workflow_specs.cycle_of`);
  trigger ``timezone``/``startTime``/``endTime`` and strategy ``rerunMode``/``failureStrategy``/
  ``instanceMode`` → :class:`FlowOptions`;
* nodes → tasks named like the node (names must be present and unique), keeping the node id:
  ``DIDE_SHELL`` and other shell commands → ``SHELL`` running ``script.content``; ``PYTHON`` →
  ``PYTHON``; ``VIRTUAL`` → ``SHELL`` running ``true``; every other command → a ``SHELL`` task that
  fails with ``Flowyard cannot run DataWorks command <X>`` (the original node, with the inner nodes
  of a control-flow payload, stays in the stored document and is reported);
* ``rerunTimes`` → retryLimit, ``rerunInterval`` (ms) → retryInterval in seconds rounded up,
  ``timeout`` (hours unless ``timeoutUnit`` says otherwise) → timeout in seconds, ``priority`` →
  priorityLevel, ``rerunMode`` → the task's rerun mode; node values win over the workflow strategy;
* edges → relations by task name (a node's dependency on itself is reported, not a relation);
  external dependencies are not modelled and are reported;
* the ``flowyard`` object of the workflow and of each node (read by
  :class:`~flowyard.services.workflow_specs.ExtensionReader`) restores the EnOS fields FlowSpec
  has no key for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TypeVar

from flowyard.domain import tasktypes
from flowyard.domain.flows import (
    FailureStrategy,
    FlowDefinition,
    FlowOptions,
    FlowType,
    InstanceMode,
    Parameter,
    RerunMode,
    TaskDefinition,
    TaskRelation,
)
from flowyard.domain.tasktypes.unrunnable import IMPORTS_AS, unrunnable_command
from flowyard.errors import InvalidParameterError
from flowyard.flowspec import NodeSpec, Strategy, Trigger, WorkflowSpec
from flowyard.services.workflow_specs import (
    ExtensionReader,
    apply_flow_extension,
    apply_task_extension,
    cycle_of,
    parse_wall,
    seconds_of,
)

_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Conversion:
    """A flow definition and what the import could not carry over (reported, not fatal)."""

    definition: FlowDefinition
    active: bool
    warnings: tuple[str, ...]


def _label(kind: type[_E], value: str | None, where: str) -> _E | None:
    """A FlowSpec enum label (case-insensitive, as the reference parser matches) or None."""
    if value is None:
        return None
    for member in kind:
        if member.value.lower() == value.lower():
            return member
    known = ", ".join(m.value for m in kind)
    raise InvalidParameterError(f"{where}: unknown value {value!r} (expected one of {known})")


def _inner_note(node: NodeSpec) -> str:
    if not node.inner_nodes:
        return ""
    return f" (its {len(node.inner_nodes)} inner nodes are kept in the FlowSpec document)"


def _task(node: NodeSpec, name: str, fallback: Strategy) -> TaskDefinition:
    found = tasktypes.for_flowspec_command(node.command or "")
    if found is not None:
        task_type, cmd = found.name, node.content if node.content is not None else found.empty_command
    else:
        label = (node.command or "<none>") + _inner_note(node)
        task_type, cmd = IMPORTS_AS.name, unrunnable_command(label)
    s, w = node.strategy, fallback
    rerun_times = s.rerun_times if s.rerun_times is not None else w.rerun_times
    interval_ms = s.rerun_interval_ms if s.rerun_interval_ms is not None else w.rerun_interval_ms
    timeout, unit = (s.timeout, s.timeout_unit) if s.timeout is not None else (w.timeout, w.timeout_unit)
    priority = s.priority if s.priority is not None else w.priority
    where = f"node {node.id}"
    task = TaskDefinition(
        name=name,
        type=task_type,
        cmd=cmd,
        timeout=seconds_of(timeout, unit),
        retry_limit=max(rerun_times or 0, 0),
        retry_interval=math.ceil(max(interval_ms or 0, 0) / 1000),
        priority_level=priority or 0,
        node_id=node.id,
        rerun_mode=_label(RerunMode, s.rerun_mode, f"{where} rerunMode"),
    )
    return apply_task_extension(task, ExtensionReader.of(node.extension, where))


def _paused(wf: WorkflowSpec) -> bool:
    labels = (wf.strategy.recurrence, wf.trigger.recurrence if wf.trigger else None)
    return any((label or "").lower() == "pause" for label in labels)


def _options(wf: WorkflowSpec) -> FlowOptions:
    t, s = wf.trigger or Trigger(), wf.strategy
    return FlowOptions(
        time_zone=t.timezone or "",
        schedule_start=parse_wall(t.start_time, "trigger startTime"),
        schedule_end=parse_wall(t.end_time, "trigger endTime"),
        rerun_mode=_label(RerunMode, s.rerun_mode, "strategy rerunMode") or RerunMode.ALLOWED,
        failure_strategy=_label(FailureStrategy, s.failure_strategy, "strategy failureStrategy")
        or FailureStrategy.BREAK,
        instance_mode=_label(InstanceMode, s.instance_mode, "strategy instanceMode"),
    )


def _relations(wf: WorkflowSpec, names: dict[str, str]) -> tuple[list[TaskRelation], list[str]]:
    exts = {node.id: ExtensionReader.of(node.extension, f"node {node.id}") for node in wf.nodes}
    relations: list[TaskRelation] = []
    warnings: list[str] = []
    seen: set[tuple[str, str]] = set()
    for edge in wf.edges:
        if edge.upstream == edge.downstream:
            warnings.append(
                f"{edge.type} dependency of node '{names[edge.downstream]}' on itself is kept in the "
                "document but not scheduled by Flowyard"
            )
            continue
        pair = (names[edge.upstream], names[edge.downstream])
        if pair in seen:
            continue
        seen.add(pair)
        flags = next(
            (
                item
                for item in exts[edge.downstream].get("relations", list, [])
                if isinstance(item, dict) and item.get("upstream") == edge.upstream
            ),
            {},
        )
        rerun, gap = flags.get("rerun", True), flags.get("cycleGap", "")
        if not isinstance(rerun, bool) or not isinstance(gap, str):
            raise InvalidParameterError(f"node {edge.downstream}.flowyard.relations: rerun/cycleGap types")
        relations.append(TaskRelation(source=pair[0], target=pair[1], rerun=rerun, cycle_gap=gap))
    return relations, warnings


def to_definition(wf: WorkflowSpec) -> Conversion:
    """The flow definition of ``wf``; ``InvalidParameterError`` says why it cannot be imported."""
    if not wf.name:
        raise InvalidParameterError(
            f"the {wf.kind} document has no named workflow (spec.workflows[0].name): only workflow "
            "documents with their inner nodes can be imported"
        )
    if not wf.nodes:
        raise InvalidParameterError(f"workflow '{wf.name}' has no nodes to import")
    names: dict[str, str] = {}
    for node in wf.nodes:
        if not node.name:
            raise InvalidParameterError(f"node {node.id} of workflow '{wf.name}' has no name")
        if node.name in names.values():
            raise InvalidParameterError(f"node name '{node.name}' is used twice in workflow '{wf.name}'")
        names[node.id] = node.name
    tasks = tuple(_task(node, names[node.id], wf.strategy) for node in wf.nodes)
    relations, warnings = _relations(wf, names)
    warnings += [
        f"external dependency of node '{names.get(dep.node_id, dep.node_id)}' on "
        f"{dep.output or dep.upstream_node_id} is kept in the document but not scheduled by Flowyard"
        for dep in wf.external
    ]
    warnings += [
        f"node '{names[node.id]}' ({node.command}) holds inner nodes "
        f"{', '.join(inner.name or inner.id for inner in node.inner_nodes)}: they are kept verbatim in "
        "the document and not run by Flowyard"
        for node in wf.nodes
        if node.inner_nodes
    ]
    ext = ExtensionReader.of(wf.extension, "workflow")
    if any(key in ext.raw for key in ("flowLinks", "taskLinks", "linkRelations")):
        warnings.append(
            "premises on other flows (flowyard.flowLinks/taskLinks) are kept in the document, not re-created"
        )
    trigger = wf.trigger
    periodic = trigger is not None and (trigger.type or "").lower() == "scheduler" and bool(trigger.cron)
    base = FlowDefinition(
        name=wf.name,
        desc=wf.description or "",
        parameters=tuple(Parameter(v.name, v.value or "") for v in wf.parameters),
        tasks=tasks,
        relations=tuple(relations),
        options=_options(wf),
    )
    if periodic and trigger is not None and trigger.cron:
        definition = replace(base, type=FlowType.PERIODIC, cron=trigger.cron, cycle=cycle_of(trigger.cron))
    else:
        flow_type = FlowType.TEMPORARY if ext.get("type", int, 0) == FlowType.TEMPORARY else FlowType.MANUAL
        cron = ext.get("cron", str, base.cron)
        definition = replace(base, type=flow_type, cron=cron, cycle=cycle_of(cron))
    definition = apply_flow_extension(definition, ext)
    return Conversion(definition=definition, active=periodic and not _paused(wf), warnings=tuple(warnings))
