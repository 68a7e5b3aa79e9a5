"""The EnOS export/import format (``FlowDefinition``, spec 4.17-4.20) to and from the domain.

Parsing is tolerant (ids as strings, JSON in strings, snake_case aliases,
task types as numbers); rendering follows the samples exactly: JSON-in-string
for ``parameters`` and ``runMode``, camelCase, V2.0-only fields only on V2.0.

Flowyard extensions (the FlowSpec options, :class:`FlowOptions`): ``timeZone``,
``scheduleStartTime``/``scheduleEndTime`` (``yyyy-MM-dd HH:mm:ss`` wall time in
``timeZone``), ``rerunMode``, ``failureStrategy``, ``instanceMode`` on the flow and
``nodeId``, ``rerunMode`` on tasks. They are read when given and rendered only when
they differ from the EnOS defaults, so EnOS exports look exactly as before.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from flowyard.api.envelope import V20
from flowyard.api.limits import (
    MAX_RETRY_INTERVAL_SECONDS,
    MAX_RETRY_LIMIT,
    MAX_TIMEOUT_SECONDS,
    check_range,
    load_json,
)
from flowyard.api.wire import Reader, bad, to_date, to_str
from flowyard.domain import tasktypes
from flowyard.domain.flows import (
    Cycle,
    FailureStrategy,
    Flow,
    FlowDefinition,
    FlowLink,
    FlowOptions,
    FlowType,
    InstanceMode,
    LinkRelation,
    Parameter,
    RerunMode,
    RunMode,
    TaskDefinition,
    TaskLink,
    TaskRelation,
)
from flowyard.errors import InvalidParameterError
from flowyard.services.enos_fields import OPTION_KEYS, options_json, run_mode_from, run_mode_json

_E = TypeVar("_E", bound=StrEnum)


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def number(value: float) -> int | float:
    """1.0 renders as 1, as the EnOS samples do."""
    return int(value) if float(value).is_integer() else value


def parse_cycle(value: str, path: str) -> Cycle:
    for cycle in Cycle:
        if value == cycle.value or (value.upper() == cycle.value.upper()):
            return cycle
    raise InvalidParameterError(
        f"Workflow validation failed: unknown cycle {value!r} at {path}; use M, W, D, H or mi"
    )


def parse_flow_type(value: int, path: str) -> FlowType:
    try:
        return FlowType(value)
    except ValueError:
        raise bad(path, "must be 0 (manual), 1 (periodic) or 2 (temporary)") from None


def parse_parameters(value: Any, path: str) -> tuple[Parameter, ...]:
    """A parameter list: ``[{"key","value"}]`` or ``["key=value"]`` (or a string holding either), or a
    ``{key: value}`` object."""
    if value is None:
        return ()
    if isinstance(value, str):
        if not value.strip():
            return ()
        try:
            value = load_json(value, path)
        except InvalidParameterError:
            raise
        except ValueError:
            raise bad(path, "must be a list of {key, value} or key=value, or a string holding one") from None
    if isinstance(value, dict):
        return tuple(Parameter(str(k), to_str(v, f"{path}.{k}")) for k, v in value.items())
    if not isinstance(value, list):
        raise bad(path, "must be a list of {key, value}")
    params = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            # The seed pages say parameters are "expressed as key=value" and the vendor Python
            # sample sends exactly such strings; the value may itself contain "=".
            key, sep, text = item.partition("=")
            if not sep:
                raise bad(f"{path}[{i}]", "must be a key=value string or a {key, value} object")
            params.append(Parameter(key=key.strip(), value=text))
            continue
        r = Reader(item, f"{path}[{i}]")
        params.append(Parameter(key=r.str("key"), value=r.str("value", "")))
    return tuple(params)


def parse_run_mode(value: Any, path: str) -> RunMode:
    r = Reader({} if value in (None, "") else _embedded(value, path), path)

    def read(key: str, kind: type, default: Any) -> Any:
        if kind is int:
            return r.int(key, default)
        if kind is float:
            return r.float(key, default)
        return r.str(key, default)

    return run_mode_from(read)


def _embedded(value: Any, path: str) -> Any:
    if isinstance(value, str):
        try:
            return load_json(value, path)
        except InvalidParameterError:
            raise
        except ValueError:
            raise bad(path, "must be a JSON object or a string holding one") from None
    return value


def parse_task_type(value: Any, path: str) -> str:
    """A task ``type``: a name of the registry, or a number of the EnOS export table (0-6)."""
    if isinstance(value, int) and not isinstance(value, bool):
        found = tasktypes.by_export_number(value)
        if found is None:
            raise bad(path, f"must be one of the type numbers 0-6, got {value}")
        return found.name
    text = to_str(value, path).strip()
    if text.isdigit() and (numbered := tasktypes.by_export_number(int(text))) is not None:
        return numbered.name
    return text


def parse_label(kind: type[_E], r: Reader, name: str) -> _E | None:
    """An enum label (case-insensitive) or None when absent."""
    value = r.opt_str(name)
    if value is None or not value.strip():
        return None
    for member in kind:
        if member.value.lower() == value.strip().lower():
            return member
    raise bad(r.at(name), f"must be one of {', '.join(m.value for m in kind)}")


def parse_wall(r: Reader, name: str) -> datetime | None:
    value = r.opt_str(name)
    if value is None or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=None)
    except ValueError:
        raise bad(r.at(name), "must be a time yyyy-MM-dd HH:mm:ss") from None


def parse_options(r: Reader) -> FlowOptions:
    return FlowOptions(
        time_zone=r.str("timeZone", ""),
        schedule_start=parse_wall(r, "scheduleStartTime"),
        schedule_end=parse_wall(r, "scheduleEndTime"),
        rerun_mode=parse_label(RerunMode, r, "rerunMode") or RerunMode.ALLOWED,
        failure_strategy=parse_label(FailureStrategy, r, "failureStrategy") or FailureStrategy.BREAK,
        instance_mode=parse_label(InstanceMode, r, "instanceMode"),
    )


def parse_options_if_given(r: Reader) -> FlowOptions | None:
    """For Save Flow: the options when the body names any of them (absent ones take defaults), else None."""
    return parse_options(r) if any(r.has(key) for key in OPTION_KEYS.values()) else None


def parse_exit_codes(value: str, path: str) -> str:
    """A comma-separated list of process exit codes, each 0-255 (what a process can return)."""
    for part in value.split(","):
        text = part.strip()
        if not text and not value.strip():
            continue
        if not (text.isascii() and text.isdigit() and len(text) <= 3 and int(text) <= 255):
            raise bad(path, f"must be comma-separated exit codes between 0 and 255, got {value!r}")
    return value


def parse_task(r: Reader) -> TaskDefinition:
    return TaskDefinition(
        name=r.str("name"),
        type=parse_task_type(r.raw("type") if r.has("type") else "COMMAND", r.at("type")),
        cmd=r.str("cmd", ""),
        resource=r.str("resource", "default"),
        sync_type=r.int("syncType", 1),
        submitter=r.str("submitter", ""),
        file_package=r.str("filePackage", ""),
        cron=r.str("cron", ""),
        priority_level=r.int("priorityLevel", 0),
        timeout=check_range(r.int("timeout", 0), r.at("timeout"), 0, MAX_TIMEOUT_SECONDS),
        retry_limit=check_range(r.int("retryLimit", 0), r.at("retryLimit"), 0, MAX_RETRY_LIMIT),
        retry_interval=check_range(
            r.int("retryInterval", 0), r.at("retryInterval"), 0, MAX_RETRY_INTERVAL_SECONDS
        ),
        success_code=parse_exit_codes(r.str("successCode", "0"), r.at("successCode")),
        wait_code=r.str("waitCode", ""),
        as_link=r.bool("asLink", False),
        run_mode=parse_run_mode(r.raw("runMode"), r.at("runMode")),
        node_id=r.str("nodeId", ""),
        rerun_mode=parse_label(RerunMode, r, "rerunMode"),
    )


def parse_definition(r: Reader, *, name: str | None = None) -> FlowDefinition:
    """A FlowDefinition from ``flowJson``; ``name`` (Import's ``flowName``) wins over ``flowJson.name``."""
    flow_name = name if name is not None else r.str("name")
    flow_links, task_links, placeholders = _premises(r)
    return FlowDefinition(
        name=flow_name,
        cycle=parse_cycle(r.str("cycle", "D"), r.at("cycle")),
        cron=r.str("cron", "", "freq"),
        type=parse_flow_type(r.int("type", 0), r.at("type")),
        parameters=parse_parameters(r.raw("parameters"), r.at("parameters")),
        alert_mode=r.int("alertMode", 0),
        submitter=r.str("submitter", "", "doAs", "do_as"),
        owners=r.str("owners", ""),
        visitors=r.str("visitors", ""),
        sync_type=r.int("syncType", 1),
        desc=r.str("desc", ""),
        start_date=_start_date(r),
        tasks=tuple(parse_task(t) for t in r.items("tasks")),
        relations=tuple(
            TaskRelation(
                source=rel.str("sourceTaskName"),
                target=rel.str("targetTaskName"),
                rerun=rel.bool("rerun", True),
                cycle_gap=rel.str("cycleGap", ""),
            )
            for rel in r.items("relations")
        ),
        flow_links=flow_links,
        task_links=task_links,
        link_relations=tuple(
            LinkRelation(
                link_id=lr.str("linkId"),
                target_task_name=lr.str("targetTaskName"),
                rerun=lr.bool("rerun", False),
                cycle_gap=lr.str("cycleGap", ""),
            )
            for lr in r.items("linkRelations")
            if lr.str("linkId", "") not in placeholders
        ),
        alert_to=r.str("alertTo", ""),
        app_id=r.str("appId", ""),
        options=parse_options(r),
    )


def _is_blank(r: Reader, name: str) -> bool:
    return not (r.opt_str(name) or "").strip()


def _premises(r: Reader) -> tuple[tuple[FlowLink, ...], tuple[TaskLink, ...], frozenset[str]]:
    """``flowLinks`` and ``taskLinks`` without placeholders, and the link ids only placeholders use.

    The vendor's V2.0 Java import sample sends ``{"linkId":"0","sourceFlowName":null}`` for "no
    premise": an entry without a source (a flowLink without ``sourceFlowName``, a taskLink
    without both source names) is ignored, as are link relations naming only such entries, so
    it never reaches the store nor the export. A taskLink with only one of its names is a mistake,
    not a placeholder, and stays a 62102.
    """
    flow_links: list[FlowLink] = []
    task_links: list[TaskLink] = []
    skipped: set[str] = set()
    for link in r.items("flowLinks"):
        if _is_blank(link, "sourceFlowName"):
            skipped.add(link.str("linkId", ""))
            continue
        flow_links.append(FlowLink(link_id=link.str("linkId"), source_flow_name=link.str("sourceFlowName")))
    for link in r.items("taskLinks"):
        if _is_blank(link, "sourceFlowName") and _is_blank(link, "sourceTaskName"):
            skipped.add(link.str("linkId", ""))
            continue
        task_links.append(
            TaskLink(
                link_id=link.str("linkId"),
                source_flow_name=link.str("sourceFlowName"),
                source_task_name=link.str("sourceTaskName"),
            )
        )
    real = {link.link_id for link in flow_links} | {link.link_id for link in task_links}
    return tuple(flow_links), tuple(task_links), frozenset(skipped - real)


def _start_date(r: Reader) -> date | None:
    value = r.raw("startTime")
    return None if value is None else to_date(value, r.at("startTime"))


def render_parameters(params: tuple[Parameter, ...]) -> str:
    return compact_json([{"key": p.key, "value": p.value} for p in params])


def render_run_mode(mode: RunMode) -> str:
    return compact_json(run_mode_json(mode, number))


def render_task(task: TaskDefinition, version: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": task.name,
        "resource": task.resource,
        "type": task.type,
        "syncType": task.sync_type,
        "cmd": task.cmd,
        "submitter": task.submitter,
        "filePackage": task.file_package,
        "cron": task.cron,
        "priorityLevel": task.priority_level,
        "timeout": task.timeout,
        "retryLimit": task.retry_limit,
        "retryInterval": task.retry_interval,
        "successCode": task.success_code,
        "asLink": task.as_link,
        "runMode": render_run_mode(task.run_mode),
    }
    if version == V20:
        out["waitCode"] = task.wait_code
    if task.node_id:
        out["nodeId"] = task.node_id
    if task.rerun_mode is not None:
        out["rerunMode"] = str(task.rerun_mode)
    return out


def render_options(options: FlowOptions) -> dict[str, Any]:
    """The non-default FlowOptions as EnOS-style keys ({} for a plain EnOS flow)."""
    return dict(options_json(options))


def render_definition(flow: Flow, version: str) -> dict[str, Any]:
    """Export Flow's ``data``: the portable definition."""
    d = flow.definition
    out: dict[str, Any] = {
        "name": d.name,
        "cycle": str(d.cycle),
        "cron": d.cron,
        "parameters": render_parameters(d.parameters),
        "alertMode": d.alert_mode,
        "submitter": d.submitter,
        "owners": d.owners,
        "visitors": d.visitors,
        "type": int(d.type),
        "syncType": d.sync_type,
        "desc": d.desc,
        "startTime": d.start_date.isoformat() if d.start_date else "",
        "tasks": [render_task(t, version) for t in d.tasks],
        "flowLinks": [{"linkId": x.link_id, "sourceFlowName": x.source_flow_name} for x in d.flow_links],
        "taskLinks": [
            {"linkId": x.link_id, "sourceFlowName": x.source_flow_name, "sourceTaskName": x.source_task_name}
            for x in d.task_links
        ],
        "relations": [_relation(x) for x in d.relations],
        "linkRelations": [_link_relation(x) for x in d.link_relations],
    }
    if version == V20:
        out["alertTo"] = d.alert_to
        out["appId"] = d.app_id
    out.update(render_options(d.options))
    return out


def _relation(rel: TaskRelation) -> dict[str, Any]:
    out: dict[str, Any] = {"sourceTaskName": rel.source, "targetTaskName": rel.target, "rerun": rel.rerun}
    if rel.cycle_gap:
        out["cycleGap"] = rel.cycle_gap
    return out


def _link_relation(rel: LinkRelation) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": rel.link_id, "targetTaskName": rel.target_task_name, "rerun": rel.rerun}
    if rel.cycle_gap:
        out["cycleGap"] = rel.cycle_gap
    return out
