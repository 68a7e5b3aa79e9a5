"""FlowSpec workflows ⇄ Flowyard flow definitions (the conversion behind the DataWorks face).

Pure functions, no database. Import direction, :func:`to_definition`:

* workflow ``name`` → flow name (required: a document without a named workflow, such as the
  registry layout of single-node exports, is not importable);
* trigger ``Scheduler`` → periodic flow (``FlowType.PERIODIC``, active unless the workflow's
  recurrence/trigger is ``Pause``) with the 6-field Quartz cron as is; anything else → manual;
  the cycle is derived from the cron (:func:`cycle_of`);
* nodes → tasks named like the node (names must be present and unique): ``DIDE_SHELL`` and other
  shell commands → ``SHELL`` running ``script.content``; ``PYTHON`` → ``PYTHON``; ``VIRTUAL`` →
  ``SHELL`` running ``true``; every other command → a ``SHELL`` task that fails with
  ``Flowyard cannot run DataWorks command <X>`` (the original node stays in the stored document);
* ``rerunTimes`` → retryLimit, ``rerunInterval`` (ms) → retryInterval in seconds rounded up,
  ``timeout`` (hours unless ``timeoutUnit`` says otherwise) → timeout in seconds; node values win
  over the workflow strategy;
* edges → relations by task name; external dependencies are not modelled and are reported.

Export direction, :func:`to_workflow_spec`: the stored document's workflow with the flow's current
name and runnable scripts written back, or a fresh workflow for a flow born in EnOS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from flowyard.domain.flows import Cycle, Flow, FlowDefinition, FlowType, TaskDefinition, TaskRelation
from flowyard.errors import InvalidParameterError
from flowyard.flowspec import Edge, NodeSpec, Strategy, Trigger, WorkflowSpec

SHELL_COMMANDS = frozenset({"DIDE_SHELL", "SHELL", "EMR_SHELL", "CDH_SHELL", "SSH"})
PYTHON_COMMANDS = frozenset({"PYTHON", "PYODPS3"})
VIRTUAL_COMMANDS = frozenset({"VIRTUAL"})
_SECONDS_PER_UNIT = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}


@dataclass(frozen=True, slots=True)
class Conversion:
    """A flow definition and what the import could not carry over (reported, not fatal)."""

    definition: FlowDefinition
    active: bool
    warnings: tuple[str, ...]


def cycle_of(cron: str) -> Cycle:
    """The Flowyard cycle of a 6-field Quartz cron: minute, hour, week, month or (default) day."""
    fields = cron.split()
    if len(fields) < 6:
        return Cycle.DAY
    _, minute, hour, day, _, weekday = fields[:6]

    def varies(value: str) -> bool:
        return any(ch in value for ch in "*/,-")

    if varies(minute):
        return Cycle.MINUTE
    if varies(hour):
        return Cycle.HOUR
    if weekday not in ("?", "*"):
        return Cycle.WEEK
    if day not in ("?", "*"):
        return Cycle.MONTH
    return Cycle.DAY


def _seconds(value: int | None, unit: str | None) -> int:
    if not value or value < 0:
        return 0
    return value * _SECONDS_PER_UNIT.get((unit or "HOURS").upper(), 3600)


def _task(node: NodeSpec, name: str, fallback: Strategy) -> TaskDefinition:
    command = (node.command or "").upper()
    content = node.content or ""
    if command in SHELL_COMMANDS:
        task_type, cmd = "SHELL", content or "true"
    elif command in PYTHON_COMMANDS:
        task_type, cmd = "PYTHON", content or "pass"
    elif command in VIRTUAL_COMMANDS:
        task_type, cmd = "SHELL", "true"
    else:
        label = node.command or "<none>"
        task_type, cmd = "SHELL", f'echo "Flowyard cannot run DataWorks command {label}" >&2; exit 1'
    s, w = node.strategy, fallback
    rerun_times = s.rerun_times if s.rerun_times is not None else w.rerun_times
    interval_ms = s.rerun_interval_ms if s.rerun_interval_ms is not None else w.rerun_interval_ms
    timeout, unit = (s.timeout, s.timeout_unit) if s.timeout is not None else (w.timeout, w.timeout_unit)
    return TaskDefinition(
        name=name,
        type=task_type,
        cmd=cmd,
        timeout=_seconds(timeout, unit),
        retry_limit=max(rerun_times or 0, 0),
        retry_interval=math.ceil(max(interval_ms or 0, 0) / 1000),
    )


def _runnable(command: str | None) -> bool:
    return (command or "").upper() in SHELL_COMMANDS | PYTHON_COMMANDS


def _paused(wf: WorkflowSpec) -> bool:
    labels = (wf.strategy.recurrence, wf.trigger.recurrence if wf.trigger else None)
    return any((label or "").lower() == "pause" for label in labels)


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
    relations: list[TaskRelation] = []
    seen: set[tuple[str, str]] = set()
    for edge in wf.edges:
        pair = (names[edge.upstream], names[edge.downstream])
        if pair not in seen:
            seen.add(pair)
            relations.append(TaskRelation(source=pair[0], target=pair[1]))
    warnings = tuple(
        f"external dependency of node '{names.get(dep.node_id, dep.node_id)}' on "
        f"{dep.output or dep.upstream_node_id} is kept in the document but not scheduled by Flowyard"
        for dep in wf.external
    )
    trigger = wf.trigger
    periodic = trigger is not None and (trigger.type or "").lower() == "scheduler" and bool(trigger.cron)
    base = FlowDefinition(name=wf.name, desc=wf.description or "", tasks=tasks, relations=tuple(relations))
    if periodic and trigger is not None and trigger.cron:
        definition = replace(base, type=FlowType.PERIODIC, cron=trigger.cron, cycle=cycle_of(trigger.cron))
    else:
        definition = replace(base, type=FlowType.MANUAL)
    return Conversion(definition=definition, active=periodic and not _paused(wf), warnings=warnings)


def to_workflow_spec(flow: Flow, workflow_id: str, stored: WorkflowSpec | None) -> WorkflowSpec:
    """The workflow to export for ``flow``.

    With ``stored`` (the imported document's workflow): its flow name and, for nodes whose task
    still exists and whose command Flowyard runs, the task's current script. Without: a new
    workflow of shell/python nodes with ids ``str(task_id)``, edges from the relations.
    """
    d = flow.definition
    if stored is not None:
        nodes: list[NodeSpec] = []
        for node in stored.nodes:
            task = d.task(node.name) if node.name else None
            imported = _task(node, node.name or "", Strategy()).cmd if _runnable(node.command) else None
            changed = task is not None and imported is not None and task.cmd != imported
            nodes.append(replace(node, content=task.cmd) if changed and task is not None else node)
        return replace(stored, name=d.name, nodes=tuple(nodes))
    ids = {task.name: str(task_id) for task, task_id in zip(d.tasks, flow.task_ids, strict=True)}
    nodes = [
        NodeSpec(
            id=ids[task.name],
            name=task.name,
            command="PYTHON" if task.type.upper() == "PYTHON" else "DIDE_SHELL",
            content=task.cmd,
            outputs=(ids[task.name],),
        )
        for task in d.tasks
    ]
    edges = tuple(Edge(upstream=ids[r.source], downstream=ids[r.target]) for r in d.relations)
    periodic = d.type == FlowType.PERIODIC
    return WorkflowSpec(
        kind="CycleWorkflow" if periodic else "ManualWorkflow",
        id=workflow_id,
        name=d.name,
        description=d.desc or None,
        trigger=Trigger(type="Scheduler", cron=d.cron) if periodic else Trigger(type="Manual"),
        nodes=tuple(nodes),
        edges=edges,
    )
