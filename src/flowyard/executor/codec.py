"""AttemptSpec as JSON: what a remote worker reads back from the attempt row."""

from __future__ import annotations

import json
from pathlib import Path

from flowyard.executor.base import AttemptSpec, TaskKind


def encode_spec(spec: AttemptSpec) -> str:
    return json.dumps(
        {
            "attempt_id": spec.attempt_id,
            "task_instance_id": spec.task_instance_id,
            "run_num": spec.run_num,
            "kind": spec.kind.value,
            "command": spec.command,
            "env": dict(spec.env),
            "workdir": str(spec.workdir),
            "log_path": str(spec.log_path),
            "log_header": spec.log_header,
            "timeout_seconds": spec.timeout_seconds,
            "memory_limit_mb": spec.memory_limit_mb,
            "cpu": spec.cpu,
            "success_codes": sorted(spec.success_codes),
            "queue": spec.queue,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_spec(text: str, *, work_root: Path, log_root: Path) -> AttemptSpec:
    """The spec, with its work directory and log file moved under this machine's own roots.

    Paths keep their last two parts (``<flow instance>/<task>-<run>`` and
    ``<flow instance>/<task>.log``), which is how every Flowyard process lays them out.
    """
    data = json.loads(text)
    workdir, log_path = Path(data["workdir"]), Path(data["log_path"])
    return AttemptSpec(
        attempt_id=str(data["attempt_id"]),
        task_instance_id=str(data["task_instance_id"]),
        run_num=int(data["run_num"]),
        kind=TaskKind(data["kind"]),
        command=str(data["command"]),
        env={str(k): str(v) for k, v in data["env"].items()},
        workdir=work_root / workdir.parent.name / workdir.name,
        log_path=log_root / log_path.parent.name / log_path.name,
        log_header=str(data["log_header"]),
        timeout_seconds=int(data["timeout_seconds"]),
        memory_limit_mb=int(data["memory_limit_mb"]),
        cpu=float(data["cpu"]),
        success_codes=frozenset(int(c) for c in data["success_codes"]),
        queue=str(data["queue"]),
    )
