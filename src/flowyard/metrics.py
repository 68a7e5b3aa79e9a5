"""Prometheus metrics in the text exposition format (0.0.4), without a client library.

Gauges are read from the database at scrape time, so every process reports the
same queue depth and running count whichever one is scraped; counters and the
task duration histogram belong to the scheduler process that recorded them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowyard.domain.states import Status
from flowyard.scheduler.metrics import DURATION_BUCKETS, SchedulerMetrics
from flowyard.store import attempts as attempt_store
from flowyard.store import models as m

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPEN_STATUSES = (Status.INIT, Status.WAIT, Status.READY, Status.RUNNING)


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(
        f'{key}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in labels.items()
    )
    return "{" + body + "}"


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


def database_metrics(out: Exposition, session: Session, now: datetime, worker_alive: timedelta) -> None:
    """Queue depth, running attempts, open instances, scheduling lag and live workers."""
    counts = attempt_store.counts_by_state(session)
    served = {q for (text,) in session.execute(select(m.Worker.queues)).all() for q in text.split(",") if q}
    queues = sorted({"default", *served, *(queue or "local" for (_, queue) in counts)})
    out.family(
        "flowyard_queue_depth",
        "gauge",
        "Task attempts waiting for a worker, per queue.",
        [
            ({"queue": q}, sum(n for (s, qq), n in counts.items() if s == "queued" and (qq or "local") == q))
            for q in queues
        ],
    )
    out.family(
        "flowyard_running_tasks",
        "gauge",
        "Task attempts running now, per queue ('local' = the in-process executor).",
        [
            ({"queue": q}, sum(n for (s, qq), n in counts.items() if s == "running" and (qq or "local") == q))
            for q in queues
        ],
    )
    by_status = dict(
        session.execute(
            select(m.FlowInstance.status, func.count())
            .where(m.FlowInstance.status.in_([int(s) for s in OPEN_STATUSES]))
            .group_by(m.FlowInstance.status)
        ).all()
    )
    out.family(
        "flowyard_open_flow_instances",
        "gauge",
        "Flow instances not yet ended, per status.",
        [({"status": Status(s).name}, by_status.get(int(s), 0)) for s in OPEN_STATUSES],
    )
    overdue_tick = session.execute(
        select(func.min(m.FlowSchedule.next_tick_at)).where(m.FlowSchedule.next_tick_at <= now)
    ).scalar()
    ready_since = session.execute(
        select(func.min(m.TaskInstance.updated_at)).where(
            m.TaskInstance.status == int(Status.READY),
            (m.TaskInstance.next_attempt_at.is_(None)) | (m.TaskInstance.next_attempt_at <= now),
        )
    ).scalar()
    lags = [(now - t).total_seconds() for t in (overdue_tick, ready_since) if t is not None]
    out.family(
        "flowyard_scheduling_lag_seconds",
        "gauge",
        "How far the scheduler is behind: the oldest overdue cron tick or due READY task.",
        [({}, max([0.0, *lags]))],
    )
    alive = session.execute(
        select(func.count()).select_from(m.Worker).where(m.Worker.heartbeat_at >= now - worker_alive)
    ).scalar_one()
    out.family("flowyard_workers_alive", "gauge", "Celery workers with a recent heartbeat.", [({}, alive)])


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
