"""A flow frozen into JSON, stored with each instance: an instance runs what was triggered,
even if the flow is edited or deleted while it runs."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from functools import lru_cache
from typing import Any

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
    Placement,
    RerunMode,
    ResolvedLink,
    RunMode,
    TaskDefinition,
    TaskLink,
    TaskRelation,
)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot snapshot {type(value).__name__}")


def dump_flow(flow: Flow) -> str:
    return json.dumps(asdict(flow), default=_default, ensure_ascii=False, separators=(",", ":"))


def _options(raw: dict[str, Any] | None) -> FlowOptions:
    if raw is None:  # a snapshot written before FlowOptions existed
        return FlowOptions()
    start, end, mode = raw["schedule_start"], raw["schedule_end"], raw["instance_mode"]
    return FlowOptions(
        time_zone=raw["time_zone"],
        schedule_start=datetime.fromisoformat(start) if start else None,
        schedule_end=datetime.fromisoformat(end) if end else None,
        rerun_mode=RerunMode(raw["rerun_mode"]),
        failure_strategy=FailureStrategy(raw["failure_strategy"]),
        instance_mode=InstanceMode(mode) if mode else None,
    )


def _task(raw: dict[str, Any]) -> TaskDefinition:
    mode = raw.get("rerun_mode")
    return TaskDefinition(
        **{
            **raw,
            "run_mode": RunMode(**raw["run_mode"]),
            "node_id": raw.get("node_id", ""),
            "rerun_mode": RerunMode(mode) if mode else None,
        }
    )


@lru_cache(maxsize=512)
def load_flow(text: str) -> Flow:
    """The flow of a snapshot; cached, as every read of a running instance needs it (Flow is immutable)."""
    raw = json.loads(text)
    d = raw["definition"]
    definition = FlowDefinition(
        name=d["name"],
        cycle=Cycle(d["cycle"]),
        cron=d["cron"],
        type=FlowType(d["type"]),
        parameters=tuple(Parameter(**p) for p in d["parameters"]),
        alert_mode=d["alert_mode"],
        submitter=d["submitter"],
        owners=d["owners"],
        visitors=d["visitors"],
        sync_type=d["sync_type"],
        desc=d["desc"],
        start_date=date.fromisoformat(d["start_date"]) if d["start_date"] else None,
        tasks=tuple(_task(t) for t in d["tasks"]),
        relations=tuple(TaskRelation(**r) for r in d["relations"]),
        flow_links=tuple(FlowLink(**x) for x in d["flow_links"]),
        task_links=tuple(TaskLink(**x) for x in d["task_links"]),
        link_relations=tuple(LinkRelation(**x) for x in d["link_relations"]),
        alert_to=d["alert_to"],
        app_id=d["app_id"],
        options=_options(d.get("options")),
    )
    return Flow(
        id=raw["id"],
        org_id=raw["org_id"],
        dir_id=raw["dir_id"],
        definition=definition,
        task_ids=tuple(raw["task_ids"]),
        task_placements=tuple(Placement(**p) for p in raw["task_placements"]),
        links=tuple(ResolvedLink(**{**x, "placement": Placement(**x["placement"])}) for x in raw["links"]),
        active=raw["active"],
        locked=raw["locked"],
        entry=raw["entry"],
        queue=raw["queue"],
        creator=raw["creator"],
        update_user=raw["update_user"],
        created_at=datetime.fromisoformat(raw["created_at"]) if raw["created_at"] else None,
        updated_at=datetime.fromisoformat(raw["updated_at"]) if raw["updated_at"] else None,
    )
