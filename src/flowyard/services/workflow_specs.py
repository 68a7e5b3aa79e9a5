"""The vocabulary shared by both directions of the FlowSpec ⇄ Flowyard conversion.

:mod:`flowyard.services.workflow_import` turns a FlowSpec workflow into a flow definition,
:mod:`flowyard.services.workflow_export` turns a flow back into a FlowSpec workflow. Both use what
is here, pure functions without a database:

* the node commands Flowyard runs (shell, Python, virtual) and the cycle a Quartz cron implies;
* wall-clock times (``yyyy-MM-dd HH:mm:ss``) and timeouts in FlowSpec units;
* the ``flowyard`` object of the workflow and of each node: the EnOS fields FlowSpec has no key
  for, written by :func:`flow_extension` and :func:`task_extension` and read back, checked, by
  :class:`ExtensionReader`, :func:`apply_task_extension` and :func:`apply_flow_extension`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from flowyard.domain import tasktypes
from flowyard.domain.flows import (
    WALL_FORMAT,
    Cycle,
    FlowDefinition,
    FlowType,
    RunMode,
    TaskDefinition,
    TaskRelation,
)
from flowyard.errors import InvalidParameterError
from flowyard.flowspec.access import load_extension
from flowyard.services.enos_fields import run_mode_from, run_mode_json

SECONDS_PER_UNIT = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
_DEFAULT_FLOW = FlowDefinition(name="")
_DEFAULT_TASK = TaskDefinition(name="")


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


def parse_wall(value: str | None, where: str) -> datetime | None:
    """``"yyyy-MM-dd HH:mm:ss"`` (or the ISO ``T`` form) as a naive wall-clock datetime."""
    if value is None or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=None)
    except ValueError:
        raise InvalidParameterError(f"{where}: {value!r} is not a time yyyy-MM-dd HH:mm:ss") from None


def format_wall(value: datetime | None) -> str | None:
    """The inverse of :func:`parse_wall`: ``"yyyy-MM-dd HH:mm:ss"``, or None for no time."""
    return None if value is None else value.strftime(WALL_FORMAT)


def seconds_of(value: int | None, unit: str | None) -> int:
    """A FlowSpec (timeout, timeoutUnit) in seconds; the unit defaults to hours, no timeout is 0."""
    if not value or value < 0:
        return 0
    return value * SECONDS_PER_UNIT.get((unit or "HOURS").upper(), 3600)


def timeout_fields(seconds: int, unit: str | None) -> tuple[int, str | None]:
    """``seconds`` as a FlowSpec (timeout, timeoutUnit), in ``unit`` when it divides evenly."""
    per = SECONDS_PER_UNIT.get((unit or "HOURS").upper(), 3600)
    if seconds % per == 0:
        return seconds // per, unit
    for label in ("HOURS", "MINUTES"):
        if seconds % SECONDS_PER_UNIT[label] == 0:
            return seconds // SECONDS_PER_UNIT[label], label
    return seconds, "SECONDS"


def node_command(task_type: str, current: str | None = None) -> str:
    """The FlowSpec node command that runs a task of ``task_type``: ``current`` when it already
    imports as that type, else the type's own command (a shell node for types without one)."""
    wanted = tasktypes.of_name(task_type)
    if current is not None and tasktypes.for_flowspec_command(current) is wanted:
        return current
    return wanted.flowspec_command or tasktypes.of_name("SHELL").flowspec_command or "DIDE_SHELL"


def _implied_type(task_type: str) -> str:
    """The type a task of ``task_type`` comes back as after a FlowSpec round trip."""
    imported = tasktypes.for_flowspec_command(node_command(task_type))
    assert imported is not None
    return imported.name


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
    return run_mode_json(mode)


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


class ExtensionReader:
    """Checked reads from a ``flowyard`` object (it is caller input like the rest of the document)."""

    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    @classmethod
    def of(cls, text: str | None, where: str) -> ExtensionReader:
        return cls(load_extension(text), where)

    def get(self, key: str, kind: type[Any], default: Any) -> Any:
        value = self.raw.get(key, default)
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise InvalidParameterError(f"{self.where}.flowyard.{key}: must be a {kind.__name__}")
        return value


def apply_task_extension(task: TaskDefinition, ext: ExtensionReader) -> TaskDefinition:
    """``task`` with the fields a node's ``flowyard`` object sets (see :func:`task_extension`)."""
    run_mode = task.run_mode
    if "runMode" in ext.raw:
        mode = ExtensionReader(ext.get("runMode", dict, {}), f"{ext.where}.flowyard.runMode")
        run_mode = run_mode_from(mode.get)
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


def apply_flow_extension(definition: FlowDefinition, ext: ExtensionReader) -> FlowDefinition:
    """``definition`` with the fields the workflow's ``flowyard`` object sets (see :func:`flow_extension`)."""
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
