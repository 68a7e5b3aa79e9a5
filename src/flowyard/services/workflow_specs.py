"""FlowSpec workflows ⇄ Flowyard flow definitions (the conversion behind the DataWorks face).

Pure functions, no database. Import direction, :func:`to_definition`:

* workflow ``name`` → flow name (required: a document without a named workflow, such as the
  registry layout of single-node exports, is not importable); ``description`` → desc; workflow
  parameters → flow parameters (name, value);
* trigger ``Scheduler`` → periodic flow (``FlowType.PERIODIC``, active unless the workflow's
  recurrence/trigger is ``Pause``) with the 6-field Quartz cron as is; anything else → manual;
  the cycle is derived from the cron (:func:`cycle_of`); trigger ``timezone``/``startTime``/
  ``endTime`` and strategy ``rerunMode``/``failureStrategy``/``instanceMode`` → :class:`FlowOptions`;
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
* the ``flowyard`` object of the workflow and of each node (:func:`flow_extension`,
  :func:`task_extension`) restores the EnOS fields FlowSpec has no key for.

Export direction, :func:`to_workflow_spec`: for a flow born in EnOS, a fresh workflow with every
field FlowSpec carries plus the ``flowyard`` objects. For an imported flow, the stored workflow
with exactly the fields that differ between the flow and what the stored document imports as
written back, so edits made through the EnOS API show up and everything else stays as it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from flowyard.domain.flows import (
    Cycle,
    FailureStrategy,
    Flow,
    FlowDefinition,
    FlowOptions,
    FlowType,
    InstanceMode,
    Parameter,
    RerunMode,
    RunMode,
    TaskDefinition,
    TaskRelation,
)
from flowyard.errors import InvalidParameterError
from flowyard.flowspec import Edge, NodeSpec, Strategy, Trigger, Variable, WorkflowSpec
from flowyard.flowspec.access import dump_extension, load_extension

SHELL_COMMANDS = frozenset({"DIDE_SHELL", "SHELL", "EMR_SHELL", "CDH_SHELL", "SSH"})
PYTHON_COMMANDS = frozenset({"PYTHON", "PYODPS3"})
VIRTUAL_COMMANDS = frozenset({"VIRTUAL"})
_SECONDS_PER_UNIT = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
WALL_FORMAT = "%Y-%m-%d %H:%M:%S"
_DEFAULT_FLOW = FlowDefinition(name="")
_DEFAULT_TASK = TaskDefinition(name="")
_E = TypeVar("_E", bound=StrEnum)


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


# --- small value conversions ------------------------------------------------------------------------


def _label(kind: type[_E], value: str | None, where: str) -> _E | None:
    """A FlowSpec enum label (case-insensitive, as the reference parser matches) or None."""
    if value is None:
        return None
    for member in kind:
        if member.value.lower() == value.lower():
            return member
    known = ", ".join(m.value for m in kind)
    raise InvalidParameterError(f"{where}: unknown value {value!r} (expected one of {known})")


def parse_wall(value: str | None, where: str) -> datetime | None:
    """``"yyyy-MM-dd HH:mm:ss"`` (or the ISO ``T`` form) as a naive wall-clock datetime."""
    if value is None or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=None)
    except ValueError:
        raise InvalidParameterError(f"{where}: {value!r} is not a time yyyy-MM-dd HH:mm:ss") from None


def format_wall(value: datetime | None) -> str | None:
    return None if value is None else value.strftime(WALL_FORMAT)


def _seconds(value: int | None, unit: str | None) -> int:
    if not value or value < 0:
        return 0
    return value * _SECONDS_PER_UNIT.get((unit or "HOURS").upper(), 3600)


def _timeout_fields(seconds: int, unit: str | None) -> tuple[int, str | None]:
    """``seconds`` as a FlowSpec (timeout, timeoutUnit), in ``unit`` when it divides evenly."""
    per = _SECONDS_PER_UNIT.get((unit or "HOURS").upper(), 3600)
    if seconds % per == 0:
        return seconds // per, unit
    for label in ("HOURS", "MINUTES"):
        if seconds % _SECONDS_PER_UNIT[label] == 0:
            return seconds // _SECONDS_PER_UNIT[label], label
    return seconds, "SECONDS"


def _variable_type(value: str) -> str:
    # MigrationX's rule: a value that refers to a scheduling parameter is System, else Constant.
    return "System" if "$" in value else "Constant"


def _command_for(task: TaskDefinition, current: str | None) -> str:
    """The node command that runs ``task``: the current one when it already does, else the default."""
    wanted = PYTHON_COMMANDS if task.type.upper() == "PYTHON" else SHELL_COMMANDS
    if (current or "").upper() in wanted:
        return current or ""
    return "PYTHON" if task.type.upper() == "PYTHON" else "DIDE_SHELL"


def _implied_type(task_type: str) -> str:
    return "PYTHON" if task_type.upper() == "PYTHON" else "SHELL"


# --- the flowyard extension: EnOS fields FlowSpec has no key for --------------------------------------


def flow_extension(d: FlowDefinition) -> dict[str, Any]:
    """The workflow's ``flowyard`` object: every non-default EnOS-only field of ``d``.

    Not carried at all: ``owners`` (the importing server assigns them). Premises on other flows
    (``flowLinks``/``taskLinks``/``linkRelations``) are written for the reader but not re-created
    on import.
    """
    ext: dict[str, Any] = {}
    if d.type == FlowType.TEMPORARY:
        ext["type"] = int(d.type)
    if d.cycle != cycle_of(d.cron):
        ext["cycle"] = str(d.cycle)
    if d.type != FlowType.PERIODIC and d.cron != _DEFAULT_FLOW.cron:
        ext["cron"] = d.cron
    pairs = (
        ("alertMode", d.alert_mode, _DEFAULT_FLOW.alert_mode),
        ("alertTo", d.alert_to, _DEFAULT_FLOW.alert_to),
        ("appId", d.app_id, _DEFAULT_FLOW.app_id),
        ("submitter", d.submitter, _DEFAULT_FLOW.submitter),
        ("visitors", d.visitors, _DEFAULT_FLOW.visitors),
        ("syncType", d.sync_type, _DEFAULT_FLOW.sync_type),
    )
    ext.update({key: value for key, value, default in pairs if value != default})
    if d.start_date is not None:
        ext["startTime"] = d.start_date.isoformat()
    if d.flow_links:
        ext["flowLinks"] = [{"linkId": x.link_id, "sourceFlowName": x.source_flow_name} for x in d.flow_links]
    if d.task_links:
        ext["taskLinks"] = [
            {"linkId": x.link_id, "sourceFlowName": x.source_flow_name, "sourceTaskName": x.source_task_name}
            for x in d.task_links
        ]
    if d.link_relations:
        ext["linkRelations"] = [
            {
                "linkId": x.link_id,
                "targetTaskName": x.target_task_name,
                "rerun": x.rerun,
                "cycleGap": x.cycle_gap,
            }
            for x in d.link_relations
        ]
    return ext


def _run_mode_dict(mode: RunMode) -> dict[str, Any]:
    return {
        "taskMode": mode.task_mode,
        "cpu": mode.cpu,
        "memory": mode.memory,
        "maxParallel": mode.max_parallel,
        "keyType": mode.key_type,
        "datasourceId": mode.datasource_id,
        "path": mode.path,
        "content": mode.content,
    }


def task_extension(task: TaskDefinition, incoming: Iterable[tuple[str, TaskRelation]]) -> dict[str, Any]:
    """A node's ``flowyard`` object: the task's non-default EnOS-only fields.

    ``incoming`` are (upstream node id, relation) pairs of the relations ending at ``task``; the
    non-default relation flags (``rerun`` false, a ``cycleGap``) are kept under ``relations``.
    """
    ext: dict[str, Any] = {}
    if task.type != _implied_type(task.type):
        ext["type"] = task.type
    pairs = (
        ("resource", task.resource, _DEFAULT_TASK.resource),
        ("syncType", task.sync_type, _DEFAULT_TASK.sync_type),
        ("submitter", task.submitter, _DEFAULT_TASK.submitter),
        ("filePackage", task.file_package, _DEFAULT_TASK.file_package),
        ("cron", task.cron, _DEFAULT_TASK.cron),
        ("successCode", task.success_code, _DEFAULT_TASK.success_code),
        ("waitCode", task.wait_code, _DEFAULT_TASK.wait_code),
        ("asLink", task.as_link, _DEFAULT_TASK.as_link),
    )
    ext.update({key: value for key, value, default in pairs if value != default})
    if task.run_mode != RunMode():
        ext["runMode"] = _run_mode_dict(task.run_mode)
    relations = [
        {"upstream": upstream, "rerun": rel.rerun, "cycleGap": rel.cycle_gap}
        for upstream, rel in incoming
        if (rel.rerun, rel.cycle_gap) != (True, "")
    ]
    if relations:
        ext["relations"] = relations
    return ext


class _Ext:
    """Checked reads from a ``flowyard`` object (it is caller input like the rest of the document)."""

    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    @classmethod
    def of(cls, text: str | None, where: str) -> _Ext:
        return cls(load_extension(text), where)

    def get(self, key: str, kind: type[Any], default: Any) -> Any:
        value = self.raw.get(key, default)
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise InvalidParameterError(f"{self.where}.flowyard.{key}: must be a {kind.__name__}")
        return value


def _apply_task_extension(task: TaskDefinition, ext: _Ext) -> TaskDefinition:
    run_mode = task.run_mode
    if "runMode" in ext.raw:
        mode = _Ext(ext.get("runMode", dict, {}), f"{ext.where}.flowyard.runMode")
        d = RunMode()
        run_mode = RunMode(
            task_mode=mode.get("taskMode", int, d.task_mode),
            cpu=float(mode.get("cpu", float, d.cpu)),
            memory=float(mode.get("memory", float, d.memory)),
            max_parallel=mode.get("maxParallel", int, d.max_parallel),
            key_type=mode.get("keyType", int, d.key_type),
            datasource_id=mode.get("datasourceId", int, d.datasource_id),
            path=mode.get("path", str, d.path),
            content=mode.get("content", str, d.content),
        )
    return replace(
        task,
        type=ext.get("type", str, task.type),
        resource=ext.get("resource", str, task.resource),
        sync_type=ext.get("syncType", int, task.sync_type),
        submitter=ext.get("submitter", str, task.submitter),
        file_package=ext.get("filePackage", str, task.file_package),
        cron=ext.get("cron", str, task.cron),
        success_code=ext.get("successCode", str, task.success_code),
        wait_code=ext.get("waitCode", str, task.wait_code),
        as_link=ext.get("asLink", bool, task.as_link),
        run_mode=run_mode,
    )


# --- import -------------------------------------------------------------------------------------


def _inner_note(node: NodeSpec) -> str:
    if not node.inner_nodes:
        return ""
    return f" (its {len(node.inner_nodes)} inner nodes are kept in the FlowSpec document)"


def _task(node: NodeSpec, name: str, fallback: Strategy) -> TaskDefinition:
    command = (node.command or "").upper()
    content = node.content
    if command in SHELL_COMMANDS:
        task_type, cmd = "SHELL", content if content is not None else "true"
    elif command in PYTHON_COMMANDS:
        task_type, cmd = "PYTHON", content if content is not None else "pass"
    elif command in VIRTUAL_COMMANDS:
        task_type, cmd = "SHELL", "true"
    else:
        label = (node.command or "<none>") + _inner_note(node)
        task_type, cmd = "SHELL", f'echo "Flowyard cannot run DataWorks command {label}" >&2; exit 1'
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
        timeout=_seconds(timeout, unit),
        retry_limit=max(rerun_times or 0, 0),
        retry_interval=math.ceil(max(interval_ms or 0, 0) / 1000),
        priority_level=priority or 0,
        node_id=node.id,
        rerun_mode=_label(RerunMode, s.rerun_mode, f"{where} rerunMode"),
    )
    return _apply_task_extension(task, _Ext.of(node.extension, where))


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
    exts = {node.id: _Ext.of(node.extension, f"node {node.id}") for node in wf.nodes}
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


def _flow_fields(definition: FlowDefinition, ext: _Ext) -> FlowDefinition:
    start = ext.get("startTime", str, "")
    try:
        start_date = date.fromisoformat(start) if start else None
    except ValueError:
        raise InvalidParameterError(f"{ext.where}.flowyard.startTime: must be yyyy-MM-dd") from None
    cycle = ext.get("cycle", str, str(definition.cycle))
    if cycle not in {c.value for c in Cycle}:
        raise InvalidParameterError(f"{ext.where}.flowyard.cycle: must be M, W, D, H or mi")
    return replace(
        definition,
        cycle=Cycle(cycle),
        alert_mode=ext.get("alertMode", int, definition.alert_mode),
        alert_to=ext.get("alertTo", str, definition.alert_to),
        app_id=ext.get("appId", str, definition.app_id),
        submitter=ext.get("submitter", str, definition.submitter),
        visitors=ext.get("visitors", str, definition.visitors),
        sync_type=ext.get("syncType", int, definition.sync_type),
        start_date=start_date,
    )


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
    ext = _Ext.of(wf.extension, "workflow")
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
    definition = _flow_fields(definition, ext)
    return Conversion(definition=definition, active=periodic and not _paused(wf), warnings=tuple(warnings))


# --- export -------------------------------------------------------------------------------------


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
    timeout, unit = _timeout_fields(task.timeout, "HOURS") if task.timeout else (None, None)
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
        task.timeout, base.timeout, lambda: _timeout_fields(task.timeout, unit), (s.timeout, s.timeout_unit)
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
