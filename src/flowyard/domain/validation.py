"""Checks a flow definition must pass before it is stored.

Only what can be decided from the definition alone lives here; checks that
need the database (directory exists, name unique in the organisation,
upstream flows exist) belong to ``flowyard.services.flows``. Every failure is
an :class:`InvalidParameterError` (62102) whose message names the problem.
"""

from __future__ import annotations

import re
from collections import Counter

from flowyard.domain import tasktypes
from flowyard.domain.cron import CronError, parse_cron
from flowyard.domain.cron.zones import resolve_zone
from flowyard.domain.dag import find_cycle
from flowyard.domain.flows import (
    CPU_RANGE,
    MEMORY_RANGE,
    FlowDefinition,
    FlowOptions,
    FlowType,
    RunMode,
    TaskDefinition,
)
from flowyard.errors import InvalidParameterError

MAX_NAME_LENGTH = 255
MAX_NODE_ID_LENGTH = 64  # DataWorks mints up to 19 digits; hand-written specs use short names
_CYCLE_GAP = re.compile(r"^(M|W|D|H|mi)-?\d{1,4}$")


def _fail(message: str) -> InvalidParameterError:
    return InvalidParameterError(f"Workflow validation failed: {message}")


def validate_name(kind: str, name: str) -> None:
    if not name or not name.strip():
        raise _fail(f"{kind} name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise _fail(f"{kind} name '{name[:40]}...' is longer than {MAX_NAME_LENGTH} characters")
    if any(ch in name for ch in "\r\n\t\0"):
        raise _fail(f"{kind} name {name!r} contains control characters")


def validate_cron(expression: str) -> None:
    try:
        parse_cron(expression)
    except CronError as exc:
        raise _fail(f"invalid cron: {exc}") from None


def validate_run_mode(task: str, mode: RunMode) -> None:
    where = f"task '{task}' runMode"
    if mode.task_mode not in (1, 2):
        raise _fail(f"{where}: taskMode must be 1 (single) or 2 (multiple), got {mode.task_mode}")
    if not CPU_RANGE[0] <= mode.cpu <= CPU_RANGE[1]:
        raise _fail(f"{where}: cpu must be between {CPU_RANGE[0]} and {CPU_RANGE[1]}, got {mode.cpu}")
    if not MEMORY_RANGE[0] <= mode.memory <= MEMORY_RANGE[1]:
        raise _fail(
            f"{where}: memory must be between {MEMORY_RANGE[0]} and {MEMORY_RANGE[1]} GB, got {mode.memory}"
        )
    if mode.key_type not in (0, 1, 2):
        raise _fail(f"{where}: keyType must be 0, 1 (file) or 2 (custom content), got {mode.key_type}")
    if mode.max_parallel < 0:
        raise _fail(f"{where}: maxParallel cannot be negative")
    if mode.task_mode == 2:
        if mode.max_parallel < 1:
            raise _fail(f"{where}: multiple-task mode needs maxParallel >= 1")
        if mode.key_type == 2 and not mode.content.strip():
            raise _fail(f"{where}: keyType 2 needs the distribution keys in content")
        if mode.key_type == 1 and not mode.path.strip():
            raise _fail(f"{where}: keyType 1 needs the path of the key file")
        if mode.key_type == 0:
            raise _fail(f"{where}: multiple-task mode needs keyType 1 or 2")


def validate_success_codes(task: str, codes: str) -> None:
    parts = [part.strip() for part in codes.split(",")] if codes.strip() else []
    for part in parts:
        if not re.fullmatch(r"-?\d{1,3}", part):
            raise _fail(
                f"task '{task}' successCode must be a comma-separated list of exit codes, got {codes!r}"
            )


def validate_task(task: TaskDefinition) -> None:
    validate_name("task", task.name)
    task_type = tasktypes.lookup(task.type)
    if task_type is None:
        known = ", ".join(tasktypes.known_names())
        raise _fail(f"task '{task.name}' has unknown type {task.type!r}; known types: {known}")
    task_type.validate(task, f"task '{task.name}'")
    for label, value in (
        ("timeout", task.timeout),
        ("retryLimit", task.retry_limit),
        ("retryInterval", task.retry_interval),
    ):
        if value < 0:
            raise _fail(f"task '{task.name}' {label} cannot be negative")
    validate_success_codes(task.name, task.success_code)
    if task.cron:
        validate_cron(task.cron)
    validate_run_mode(task.name, task.run_mode)
    if len(task.node_id) > MAX_NODE_ID_LENGTH or task.node_id != task.node_id.strip():
        raise _fail(f"task '{task.name}' nodeId must be at most {MAX_NODE_ID_LENGTH} characters, untrimmed")


def validate_options(options: FlowOptions) -> None:
    if options.time_zone:
        try:
            resolve_zone(options.time_zone)
        except ValueError:
            raise _fail(f"unknown time zone {options.time_zone!r}") from None
    start, end = options.schedule_start, options.schedule_end
    for label, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is not None:
            raise _fail(f"schedule {label} must be a wall-clock time without a zone")
    if start is not None and end is not None and end < start:
        raise _fail(f"schedule end {end:%Y-%m-%d %H:%M:%S} is before its start {start:%Y-%m-%d %H:%M:%S}")


def validate_cycle_gap(gap: str, where: str) -> None:
    if gap and not _CYCLE_GAP.match(gap):
        raise _fail(f"{where}: cycleGap must look like D0 or H-1, got {gap!r}")


def validate_definition(definition: FlowDefinition) -> None:
    """Raise InvalidParameterError unless ``definition`` is self-consistent."""
    validate_name("flow", definition.name)
    if definition.type == FlowType.PERIODIC and not definition.cron.strip():
        raise _fail("a periodic flow needs a cron expression")
    if definition.cron.strip():
        validate_cron(definition.cron)
    if definition.alert_mode not in (0, 1, 2, 3):
        raise _fail(f"alertMode must be 0, 1, 2 or 3, got {definition.alert_mode}")
    keys = Counter(p.key for p in definition.parameters)
    for key, count in keys.items():
        if not key:
            raise _fail("parameter keys cannot be empty")
        if count > 1:
            raise _fail(f"parameter '{key}' is given {count} times")

    names = [task.name for task in definition.tasks]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise _fail(f"duplicate task names: {', '.join(duplicates)}")
    for task in definition.tasks:
        validate_task(task)
    node_ids = Counter(task.node_id for task in definition.tasks if task.node_id)
    dup_nodes = sorted(node for node, count in node_ids.items() if count > 1)
    if dup_nodes:
        raise _fail(f"duplicate nodeIds: {', '.join(dup_nodes)}")
    validate_options(definition.options)

    known = set(names)
    edges: set[tuple[str, str]] = set()
    for rel in definition.relations:
        for end in (rel.source, rel.target):
            if end not in known:
                raise _fail(f"relation {rel.source} -> {rel.target} names unknown task '{end}'")
        if (rel.source, rel.target) in edges:
            raise _fail(f"relation {rel.source} -> {rel.target} is given twice")
        validate_cycle_gap(rel.cycle_gap, f"relation {rel.source} -> {rel.target}")
        edges.add((rel.source, rel.target))
    cycle = find_cycle(names, sorted(edges))
    if cycle:
        raise _fail(f"the task graph has a cycle: {' -> '.join(cycle)}")

    link_ids = [link.link_id for link in definition.flow_links] + [
        link.link_id for link in definition.task_links
    ]
    dup_links = sorted(link for link, count in Counter(link_ids).items() if count > 1)
    if dup_links:
        raise _fail(f"duplicate linkId across flowLinks and taskLinks: {', '.join(dup_links)}")
    for flow_link in definition.flow_links:
        validate_name("flowLink sourceFlow", flow_link.source_flow_name)
        if flow_link.source_flow_name == definition.name:
            raise _fail(f"flow '{definition.name}' cannot depend on itself")
    for task_link in definition.task_links:
        validate_name("taskLink sourceFlow", task_link.source_flow_name)
        validate_name("taskLink sourceTask", task_link.source_task_name)
        if task_link.source_flow_name == definition.name:
            raise _fail(
                f"taskLink {task_link.link_id} points into this flow; use a relation between its tasks"
            )
    seen_link_edges: set[tuple[str, str]] = set()
    for link_rel in definition.link_relations:
        if link_rel.link_id not in link_ids:
            raise _fail(f"linkRelation names unknown linkId '{link_rel.link_id}'")
        if link_rel.target_task_name not in known:
            raise _fail(
                f"linkRelation of link '{link_rel.link_id}' names unknown task '{link_rel.target_task_name}'"
            )
        edge = (link_rel.link_id, link_rel.target_task_name)
        if edge in seen_link_edges:
            raise _fail(f"linkRelation {edge[0]} -> {edge[1]} is given twice")
        validate_cycle_gap(link_rel.cycle_gap, f"linkRelation {edge[0]} -> {edge[1]}")
        seen_link_edges.add(edge)
