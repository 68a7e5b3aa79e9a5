"""The EnOS JSON names of ``runMode`` and of the FlowSpec options: the one codec for both.

The domain and the store speak Python names (``max_parallel``, ``time_zone``);
EnOS's camelCase (``maxParallel``, ``timeZone``) lives here only, shared by the
EnOS API codec (:mod:`flowyard.api.flow_codec`) and the ``flowyard`` extension
of FlowSpec documents (:mod:`flowyard.services.workflow_specs`). Readers are
given as a function ``read(key, kind, default)`` so that each edge keeps its own
error messages (a 62102 naming ``flowJson.tasks[0].runMode.cpu``, a DataWorks
``InvalidParameter`` naming the node).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowyard.domain.flows import (
    WALL_FORMAT,
    FailureStrategy,
    FlowOptions,
    RerunMode,
    RunMode,
)

# (RunMode attribute, EnOS key, type): every field of runMode, in the order EnOS writes them.
RUN_MODE_FIELDS: tuple[tuple[str, str, type], ...] = (
    ("task_mode", "taskMode", int),
    ("cpu", "cpu", float),
    ("memory", "memory", float),
    ("max_parallel", "maxParallel", int),
    ("key_type", "keyType", int),
    ("datasource_id", "datasourceId", int),
    ("path", "path", str),
    ("content", "content", str),
)

# FlowOptions attribute → EnOS key (a Flowyard extension of the flow JSON).
OPTION_KEYS: dict[str, str] = {
    "time_zone": "timeZone",
    "schedule_start": "scheduleStartTime",
    "schedule_end": "scheduleEndTime",
    "rerun_mode": "rerunMode",
    "failure_strategy": "failureStrategy",
    "instance_mode": "instanceMode",
}


def run_mode_json(mode: RunMode, number: Callable[[float], Any] = float) -> dict[str, Any]:
    """Every runMode field under its EnOS key; ``number`` renders cpu and memory (1.0 → 1, say)."""
    out: dict[str, Any] = {}
    for attr, key, kind in RUN_MODE_FIELDS:
        value = getattr(mode, attr)
        out[key] = number(value) if kind is float else value
    return out


def run_mode_from(read: Callable[[str, type, Any], Any]) -> RunMode:
    """A RunMode from EnOS keys; absent ones take RunMode's defaults."""
    default = RunMode()
    values = {attr: read(key, kind, getattr(default, attr)) for attr, key, kind in RUN_MODE_FIELDS}
    values["cpu"], values["memory"] = float(values["cpu"]), float(values["memory"])
    return RunMode(**values)


def options_json(options: FlowOptions) -> dict[str, str]:
    """The options that differ from the EnOS defaults, under their EnOS keys ({} = all default)."""
    o = options
    out: dict[str, str] = {}
    if o.time_zone:
        out["timeZone"] = o.time_zone
    if o.schedule_start is not None:
        out["scheduleStartTime"] = o.schedule_start.strftime(WALL_FORMAT)
    if o.schedule_end is not None:
        out["scheduleEndTime"] = o.schedule_end.strftime(WALL_FORMAT)
    if o.rerun_mode != RerunMode.ALLOWED:
        out["rerunMode"] = str(o.rerun_mode)
    if o.failure_strategy != FailureStrategy.BREAK:
        out["failureStrategy"] = str(o.failure_strategy)
    if o.instance_mode is not None:
        out["instanceMode"] = str(o.instance_mode)
    return out


__all__ = ["OPTION_KEYS", "RUN_MODE_FIELDS", "options_json", "run_mode_from", "run_mode_json"]
