"""Prometheus metrics in the text exposition format (0.0.4), without a client library.

Gauges are read from the database at scrape time, so every process reports the
same queue depth and running count whichever one is scraped; counters and the
task duration histogram belong to the scheduler process that recorded them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flowyard.scheduler.metrics import DURATION_BUCKETS, SchedulerMetrics
from flowyard.store.stats import Stats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    """A label value as the exposition format quotes it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


class Exposition:
    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]
    ) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self._lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def raw(self, line: str) -> None:
        self._lines.append(line)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def database_metrics(out: Exposition, stats: Stats, now: datetime) -> None:
    """Queue depth, running attempts, open instances, scheduling lag and live workers."""
    depth: dict[str, int] = {}
    running: dict[str, int] = {}
    for (state, queue), count in stats.attempts.items():
        target = depth if state == "queued" else running if state == "running" else None
        if target is not None:
            target[queue or "local"] = target.get(queue or "local", 0) + count
    queues = sorted({"default", *stats.served_queues, *depth, *running})
    out.family(
        "flowyard_queue_depth",
        "gauge",
        "Task attempts waiting for a worker, per queue.",
        [({"queue": q}, depth.get(q, 0)) for q in queues],
    )
    out.family(
        "flowyard_running_tasks",
        "gauge",
        "Task attempts running now, per queue ('local' = the in-process executor).",
        [({"queue": q}, running.get(q, 0)) for q in queues],
    )
    out.family(
        "flowyard_open_flow_instances",
        "gauge",
        "Flow instances not yet ended, per status.",
        [({"status": status.name}, count) for status, count in stats.open_instances.items()],
    )
    since = [t for t in (stats.oldest_overdue_tick, stats.oldest_due_ready) if t is not None]
    out.family(
        "flowyard_scheduling_lag_seconds",
        "gauge",
        "How far the scheduler is behind: the oldest overdue cron tick or due READY task.",
        [({}, max([0.0, *((now - t).total_seconds() for t in since)]))],
    )
    out.family(
        "flowyard_workers_alive",
        "gauge",
        "Celery workers with a recent heartbeat.",
        [({}, stats.workers_alive)],
    )


def scheduler_metrics(
    out: Exposition, metrics: SchedulerMetrics, *, leader: bool, last_step_age: float
) -> None:
    out.family(
        "flowyard_scheduler_leader", "gauge", "1 while this scheduler holds the lease.", [({}, int(leader))]
    )
    out.family(
        "flowyard_scheduler_last_step_age_seconds",
        "gauge",
        "Seconds since the loop last ran.",
        [({}, last_step_age)],
    )
    out.family(
        "flowyard_attempts_lost_total",
        "counter",
        "Attempts declared lost by this scheduler.",
        [({}, metrics.lost)],
    )
    out.family(
        "flowyard_attempts_republished_total",
        "counter",
        "Queued attempts published to the broker again.",
        [({}, metrics.republished)],
    )
    out.family(
        "flowyard_attempt_outcomes_total",
        "counter",
        "Attempts recorded by this scheduler, per outcome.",
        [({"outcome": k}, v) for k, v in sorted(metrics.outcomes.items())],
    )
    name = "flowyard_task_duration_seconds"
    out.raw(f"# HELP {name} Run time of task attempts recorded by this scheduler.")
    out.raw(f"# TYPE {name} histogram")
    for bound, count in zip(DURATION_BUCKETS, metrics.bucket_counts, strict=True):
        out.raw(f'{name}_bucket{{le="{_number(bound)}"}} {count}')
    out.raw(f'{name}_bucket{{le="+Inf"}} {metrics.duration_count}')
    out.raw(f"{name}_sum {_number(metrics.duration_sum)}")
    out.raw(f"{name}_count {metrics.duration_count}")
