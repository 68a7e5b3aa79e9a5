"""Flow definitions: the portable, typed form of a workflow.

A :class:`FlowDefinition` is what Import Flow takes and Export Flow gives
back: tasks, relations and premises are named, not numbered. A stored
:class:`Flow` adds what the server assigns (ids, directory, switches, audit
fields). Wire quirks (camelCase, JSON in strings, epoch milliseconds) never
reach this module; ``flowyard.api`` translates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import IntEnum, StrEnum

from flowyard.domain.cron.zones import resolve_zone


class Cycle(StrEnum):
    MONTH = "M"
    WEEK = "W"
    DAY = "D"
    HOUR = "H"
    MINUTE = "mi"


class FlowType(IntEnum):
    MANUAL = 0
    PERIODIC = 1
    TEMPORARY = 2


class RerunMode(StrEnum):
    """FlowSpec ``rerunMode``: whether a task may run again after it ran.

    For automatic retries ``Denied`` means none; ``Allowed`` and ``FailureAllowed`` retry as
    configured (``FailureAllowed`` restricts manual reruns of successful tasks in DataWorks,
    which Flowyard does not distinguish).
    """

    ALLOWED = "Allowed"
    FAILURE_ALLOWED = "FailureAllowed"
    DENIED = "Denied"


class FailureStrategy(StrEnum):
    """FlowSpec ``failureStrategy``: what a failed task does to its instance.

    ``Break`` (EnOS behaviour): the instance fails at once and unstarted tasks are skipped.
    ``Continue``: tasks not downstream of a failed task keep running; the instance ends FAIL
    once nothing more can run.
    """

    BREAK = "Break"
    CONTINUE = "Continue"


class InstanceMode(StrEnum):
    """FlowSpec ``instanceMode``: stored and round-tripped; Flowyard applies changes immediately."""

    T_PLUS_1 = "T+1"
    IMMEDIATELY = "Immediately"


CPU_RANGE = (0.1, 2.0)
MEMORY_RANGE = (0.3, 4.0)


@dataclass(frozen=True, slots=True)
class Parameter:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class RunMode:
    """How a task runs: one process (task_mode 1) or one per distribution key (2)."""

    task_mode: int = 1
    cpu: float = 0.5
    memory: float = 1.0
    max_parallel: int = 0
    key_type: int = 0
    datasource_id: int = 0
    path: str = ""
    content: str = ""


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    name: str
    type: str = "COMMAND"
    cmd: str = ""
    resource: str = "default"
    sync_type: int = 1
    submitter: str = ""
    file_package: str = ""
    cron: str = ""
    priority_level: int = 0
    timeout: int = 0
    retry_limit: int = 0
    retry_interval: int = 0
    success_code: str = "0"
    wait_code: str = ""
    as_link: bool = False
    run_mode: RunMode = field(default_factory=RunMode)
    # The FlowSpec node id (DataWorks mints 1-19 digit strings; kept as text, never an int);
    # "" for a task born in EnOS, whose node id is its task id.
    node_id: str = ""
    rerun_mode: RerunMode | None = None  # None: the flow's


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """Per-flow scheduling options that FlowSpec carries and EnOS has no field for.

    ``time_zone`` is an IANA name or ``GMT+8`` ("" = the server's zone). ``schedule_start`` and
    ``schedule_end`` are *wall-clock* times in that zone (naive datetimes, as FlowSpec writes
    ``startTime``/``endTime``), so they keep their meaning when the zone is the server's;
    :func:`schedule_window` turns them into instants. ``instance_mode`` is None when not stated.
    """

    time_zone: str = ""
    schedule_start: datetime | None = None
    schedule_end: datetime | None = None
    rerun_mode: RerunMode = RerunMode.ALLOWED
    failure_strategy: FailureStrategy = FailureStrategy.BREAK
    instance_mode: InstanceMode | None = None


WALL_FORMAT = "%Y-%m-%d %H:%M:%S"  # how schedule_start/schedule_end are written, on the wire and stored


@dataclass(frozen=True, slots=True)
class TaskRelation:
    """An edge between two tasks of one flow, by task name."""

    source: str
    target: str
    rerun: bool = True
    cycle_gap: str = ""


@dataclass(frozen=True, slots=True)
class FlowLink:
    """A premise on a whole other flow of the organisation."""

    link_id: str
    source_flow_name: str


@dataclass(frozen=True, slots=True)
class TaskLink:
    """A premise on one task of another flow of the organisation."""

    link_id: str
    source_flow_name: str
    source_task_name: str


@dataclass(frozen=True, slots=True)
class LinkRelation:
    """An edge from a premise (flow or task link, by ``link_id``) to a task of this flow."""

    link_id: str
    target_task_name: str
    rerun: bool = False
    cycle_gap: str = ""


@dataclass(frozen=True, slots=True)
class FlowDefinition:
    name: str
    cycle: Cycle = Cycle.DAY
    cron: str = "0 0 0 * * ? *"
    type: FlowType = FlowType.MANUAL
    parameters: tuple[Parameter, ...] = ()
    alert_mode: int = 0
    submitter: str = ""
    owners: str = ""
    visitors: str = ""
    sync_type: int = 1
    desc: str = ""
    start_date: date | None = None
    tasks: tuple[TaskDefinition, ...] = ()
    relations: tuple[TaskRelation, ...] = ()
    flow_links: tuple[FlowLink, ...] = ()
    task_links: tuple[TaskLink, ...] = ()
    link_relations: tuple[LinkRelation, ...] = ()
    alert_to: str = ""
    app_id: str = ""
    options: FlowOptions = FlowOptions()

    def task(self, name: str) -> TaskDefinition | None:
        return next((t for t in self.tasks if t.name == name), None)

    def rerun_mode_of(self, task: TaskDefinition) -> RerunMode:
        """The task's own rerun mode, else the flow's."""
        return task.rerun_mode or self.options.rerun_mode


def flow_zone(options: FlowOptions, server_zone: tzinfo) -> tzinfo:
    """The zone the flow's cron and schedule window are read in: its own, else the server's."""
    return resolve_zone(options.time_zone) if options.time_zone else server_zone


def _instant(wall: datetime | None, zone: tzinfo) -> datetime | None:
    if wall is None:
        return None
    try:
        return wall.replace(tzinfo=zone).astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31 23:00 west of UTC: as good as unbounded
        return None


def schedule_window(options: FlowOptions, server_zone: tzinfo) -> tuple[datetime | None, datetime | None]:
    """``(start, end)`` of the schedule as aware UTC instants; None = unbounded on that side.

    A tick is due only when ``start <= tick <= end``.
    """
    zone = flow_zone(options, server_zone)
    return _instant(options.schedule_start, zone), _instant(options.schedule_end, zone)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a node sits on the editor canvas (fractions of the panel)."""

    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True, slots=True)
class ResolvedLink:
    """A premise resolved to the ids of the flow (and task) it points at."""

    link_id: str
    node_flow_id: int
    upstream_flow_id: int
    upstream_flow_name: str
    upstream_task_id: int | None = None
    upstream_task_name: str | None = None
    placement: Placement = Placement()

    @property
    def is_virtual(self) -> bool:
        return self.upstream_task_id is not None

    @property
    def node_name(self) -> str:
        """The graph name: the flow name, or ``"<taskId>(<taskName>)"`` for a task premise."""
        if self.upstream_task_id is None:
            return self.upstream_flow_name
        return f"{self.upstream_task_id}({self.upstream_task_name})"


@dataclass(frozen=True, slots=True)
class Flow:
    """A stored flow: its definition plus everything the server assigns."""

    id: int
    org_id: str
    dir_id: str
    definition: FlowDefinition
    task_ids: tuple[int, ...]  # aligned with definition.tasks
    task_placements: tuple[Placement, ...]  # aligned with definition.tasks
    links: tuple[ResolvedLink, ...]  # aligned with flow_links + task_links, in that order
    active: int = 0
    locked: bool = False
    entry: int = 1
    queue: str = ""
    creator: str = ""
    update_user: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    def task_id(self, name: str) -> int:
        for task, task_id in zip(self.definition.tasks, self.task_ids, strict=True):
            if task.name == name:
                return task_id
        raise KeyError(name)

    def task_name(self, task_id: int) -> str:
        for task, tid in zip(self.definition.tasks, self.task_ids, strict=True):
            if tid == task_id:
                return task.name
        raise KeyError(task_id)
