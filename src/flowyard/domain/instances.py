"""Flow instances and task instances as the scheduling core sees them, and their identifiers.

Identifiers follow spec section 1.3: ``<flowId>-<suffix>`` for a flow
instance and ``<taskId>-<same suffix>`` for its task instances. The suffix is
the trigger time in UTC (every sample in the spec is UTC):

- manual triggers (Trigger, Trigger From Task, Update And Trigger):
  ``yyyyMMddHHmm00``, so a second manual trigger of a flow in the same minute
  collides, which is the documented 1-minute repeat rule;
- scheduled ticks: ``yyyyMMddHHmm`` for cycle ``mi``, ``yyyyMMddHH`` for
  ``H``, ``yyyyMMdd`` for ``D``/``W``/``M``; when a cron fires more often than
  its cycle says, the tick falls back to ``yyyyMMddHHmmss`` (see
  :func:`scheduled_suffix`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum

from flowyard.domain.flows import Cycle, Flow, Parameter
from flowyard.domain.snapshots import load_flow
from flowyard.domain.states import Status


class TriggerKind(StrEnum):
    MANUAL = "manual"  # Trigger Flow / Update And Trigger Flow
    FROM_TASK = "from_task"  # Trigger Flow From Task
    SCHEDULE = "schedule"  # a cron tick


def manual_suffix(trigger_at: datetime) -> str:
    return trigger_at.astimezone(UTC).strftime("%Y%m%d%H%M") + "00"


_CYCLE_FORMAT = {
    Cycle.MINUTE: "%Y%m%d%H%M",
    Cycle.HOUR: "%Y%m%d%H",
    Cycle.DAY: "%Y%m%d",
    Cycle.WEEK: "%Y%m%d",
    Cycle.MONTH: "%Y%m%d",
}


def scheduled_suffix(tick_at: datetime, cycle: Cycle, *, full: bool = False) -> str:
    """The suffix of a scheduled instance; ``full`` gives the collision-free 14-digit form."""
    fmt = "%Y%m%d%H%M%S" if full else _CYCLE_FORMAT[cycle]
    return tick_at.astimezone(UTC).strftime(fmt)


def flow_instance_id(flow_id: int, suffix: str) -> str:
    return f"{flow_id}-{suffix}"


def task_instance_id(task_id: int, suffix: str) -> str:
    return f"{task_id}-{suffix}"


def suffix_of(instance_id: str) -> str:
    return instance_id.rsplit("-", 1)[1]


def business_date(trigger_at: datetime, zone: tzinfo) -> date:
    """``calDt``: the trigger date in the server zone minus one day (spec 1.2)."""
    return trigger_at.astimezone(zone).date() - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One task instance, with what the planner needs to decide about it."""

    id: str
    task_id: int
    status: Status
    run_num: int = 0  # attempts started so far
    retry_limit: int = 0
    retry_interval: int = 0  # seconds
    priority: int = 0
    position: int = 0
    next_attempt_at: datetime | None = None
    upstream: tuple[str, ...] = ()  # task instance ids of this instance that must finish first


@dataclass(frozen=True, slots=True)
class InstanceRun:
    """One flow instance with its task instances."""

    id: str
    flow_id: int
    status: Status
    trigger_at: datetime
    created_at: datetime
    tasks: tuple[TaskRun, ...] = field(default=())
    # Upstream requirements (cross-flow premises) not yet met; empty once satisfied.
    waiting_for: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskInstanceRecord:
    id: str
    flow_instance_id: str
    task_id: int
    name: str
    position: int
    status: Status
    run_num: int
    retry_limit: int
    retry_interval: int
    priority: int
    next_attempt_at: datetime | None
    upstream: tuple[str, ...]
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    exit_code: int | None
    is_timeout: bool
    message: str
    command: str
    # What the planner sees of it, made once per record: a step plans over every task of an open
    # instance, and the records change only one task at a time.
    _run: TaskRun = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        planned = TaskRun(
            id=self.id,
            task_id=self.task_id,
            status=self.status,
            run_num=self.run_num,
            retry_limit=self.retry_limit,
            retry_interval=self.retry_interval,
            priority=self.priority,
            position=self.position,
            next_attempt_at=self.next_attempt_at,
            upstream=self.upstream,
        )
        object.__setattr__(self, "_run", planned)

    def run(self) -> TaskRun:
        return self._run


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    id: str
    flow_id: int
    org_id: str
    flow_name: str
    type: int
    trigger_kind: str
    status: Status
    trigger_at: datetime
    scheduled_at: datetime | None
    cal_dt: date
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    parameters: tuple[Parameter, ...]
    snapshot: str
    owners: str
    creator: str
    from_task_id: int | None
    cancelled: bool
    message: str
    tasks: tuple[TaskInstanceRecord, ...] = ()

    def flow(self) -> Flow:
        return load_flow(self.snapshot)

    def run(self, waiting_for: tuple[str, ...] = (), *, with_tasks: bool = True) -> InstanceRun:
        return InstanceRun(
            id=self.id,
            flow_id=self.flow_id,
            status=self.status,
            trigger_at=self.trigger_at,
            created_at=self.created_at,
            tasks=tuple(t.run() for t in self.tasks) if with_tasks else (),
            waiting_for=waiting_for,
        )
