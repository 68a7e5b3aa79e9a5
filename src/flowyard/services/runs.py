"""Run use cases: trigger a flow (three ways), cancel, and read instances, task instances and logs.

Creating an instance only writes rows (INIT); the scheduler loop starts it
(:mod:`flowyard.services.instances` and :mod:`flowyard.services.attempts` hold
the scheduler's side). Every state change goes through the gateway of
:mod:`flowyard.services.transitions`, which records a run event with it.
Decisions (README, "Running flows"):
- Triggering needs the rights to change the flow (owner or creator), and
  neither user nor flow may be locked (spec 1.7).
- The 1-minute repeat rule applies to all three trigger APIs: a manual
  instance id is minute-resolution, and a flow triggered by hand less than
  60 s ago is refused (62102, the spec's message).
- Update And Trigger: supplied keys replace the flow's values for this
  instance only; other keys keep the stored values; new keys are added.
- Instance ``type``: 1 for cron ticks, 2 for manual runs of a temporary flow,
  0 for other manual runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.flows import Flow, FlowType, Parameter, flow_zone
from flowyard.domain.instances import (
    InstanceRecord,
    TaskInstanceRecord,
    TriggerKind,
    business_date,
    flow_instance_id,
    manual_suffix,
    task_instance_id,
)
from flowyard.domain.permissions import Caller, flow_rights, require_edit, require_unlocked, split_names
from flowyard.domain.planning import retry_limit_of
from flowyard.domain.snapshots import dump_flow
from flowyard.domain.states import Status
from flowyard.errors import InvalidParameterError, NoPrivilegeError, StateError
from flowyard.services.flows import load_visible, rights_of
from flowyard.services.task_logs import FileLogs, TaskLogs, log_file
from flowyard.services.transitions import EventBus, ref_of, run_changes
from flowyard.store import instances as store
from flowyard.store.db import transaction
from flowyard.store.notify import WORK, notify

REPEAT_MESSAGE = (
    "Cannot create workflow instance. Please check if the workflow or task exist, "
    "and do not trigger the same workflow repeatedly in 1 minute."
)
NO_TASK = "This workflow has no task. You cannot trigger it."
NO_TASK_V20 = "This workflow has no task, you cannot trigger it!"
INSTANCE_NOT_FOUND = "Instance not found"
REPEAT_WINDOW = timedelta(minutes=1)
DEFAULT_LOG_LENGTH = 2**20


def merge_parameters(
    stored: Sequence[Parameter], overrides: Sequence[Parameter] | None
) -> tuple[Parameter, ...]:
    if not overrides:
        return tuple(stored)
    given = {p.key: p.value for p in overrides}
    merged = [Parameter(p.key, given.pop(p.key, p.value)) for p in stored]
    merged += [Parameter(k, v) for k, v in given.items()]
    return tuple(merged)


def selected_tasks(flow: Flow, from_task_id: int | None) -> set[str]:
    """Task names that run: all, or the start task plus everything downstream over rerun=true edges."""
    names = {t.name for t in flow.definition.tasks}
    if from_task_id is None:
        return names
    start = flow.task_name(from_task_id)
    children: dict[str, list[str]] = {}
    for rel in flow.definition.relations:
        if rel.rerun:
            children.setdefault(rel.source, []).append(rel.target)
    chosen = {start}
    todo = [start]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in chosen:
                chosen.add(child)
                todo.append(child)
    return chosen


def build_instance(
    flow: Flow,
    *,
    instance_id: str,
    suffix: str,
    kind: TriggerKind,
    trigger_at: datetime,
    scheduled_at: datetime | None,
    zone: tzinfo,
    now: datetime,
    creator: str,
    parameters: tuple[Parameter, ...],
    from_task_id: int | None = None,
) -> InstanceRecord:
    d = flow.definition
    zone = flow_zone(d.options, zone)  # a FlowSpec workflow's own time zone sets its business dates
    chosen = selected_tasks(flow, from_task_id)
    ti_id = {
        name: task_instance_id(tid, suffix)
        for name, tid in zip((t.name for t in d.tasks), flow.task_ids, strict=True)
    }
    upstream: dict[str, list[str]] = {t.name: [] for t in d.tasks}
    for rel in d.relations:
        upstream[rel.target].append(ti_id[rel.source])
    tasks = tuple(
        TaskInstanceRecord(
            id=ti_id[task.name],
            flow_instance_id=instance_id,
            task_id=task_id,
            name=task.name,
            position=position,
            status=Status.INIT if task.name in chosen else Status.SKIP,
            run_num=0,
            retry_limit=retry_limit_of(d, task),
            retry_interval=task.retry_interval,
            priority=task.priority_level,
            next_attempt_at=None,
            upstream=tuple(upstream[task.name]),
            started_at=None,
            ended_at=None,
            updated_at=now,
            exit_code=None,
            is_timeout=False,
            message="" if task.name in chosen else "not selected by Trigger Flow From Task",
            command="",
        )
        for position, (task, task_id) in enumerate(zip(d.tasks, flow.task_ids, strict=True))
    )
    manual_type = 2 if d.type == FlowType.TEMPORARY else 0
    instance_type = 1 if kind == TriggerKind.SCHEDULE else manual_type
    return InstanceRecord(
        id=instance_id,
        flow_id=flow.id,
        org_id=flow.org_id,
        flow_name=d.name,
        type=instance_type,
        trigger_kind=kind.value,
        status=Status.INIT,
        trigger_at=trigger_at,
        scheduled_at=scheduled_at,
        cal_dt=business_date(trigger_at, zone),
        created_at=now,
        started_at=None,
        ended_at=None,
        updated_at=now,
        parameters=parameters,
        snapshot=dump_flow(flow),
        owners=d.owners,
        creator=creator,
        from_task_id=from_task_id,
        cancelled=False,
        message="",
        tasks=tasks,
    )


@dataclass(frozen=True, slots=True)
class InstancePage:
    items: list[InstanceRecord]
    total: int


class RunService:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        zone: tzinfo,
        log_dir: Path,
        wake: Callable[[], None] = lambda: None,
        logs: TaskLogs | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self._sessions = session_factory
        self.bus = bus or EventBus()  # told of every run event this process commits
        self._zone = zone
        self.log_dir = log_dir
        self.logs: TaskLogs = logs or FileLogs(log_dir)
        self._wake = wake  # tells an in-process scheduler that there is new work

    def set_wake(self, wake: Callable[[], None]) -> None:
        self._wake = wake

    def trigger(
        self,
        caller: Caller,
        flow_id: int,
        trigger_at: datetime,
        now: datetime,
        *,
        from_task_id: int | None = None,
        overrides: Sequence[Parameter] | None = None,
    ) -> str:
        """Trigger Flow, Trigger Flow From Task and Update And Trigger Flow; returns the instance id."""
        require_unlocked(caller)
        kind = TriggerKind.FROM_TASK if from_task_id is not None else TriggerKind.MANUAL
        with run_changes(self._sessions, self.bus, now) as changes:
            session = changes.session
            if from_task_id is not None:
                flow = store_flow_or_repeat_error(session, caller, flow_id)
            else:
                flow = load_visible(session, caller, flow_id)
            require_edit(rights_of(caller, flow))
            require_unlocked(caller, flow_locked=flow.locked)
            if not flow.definition.tasks:
                raise StateError(NO_TASK, v20_message=NO_TASK_V20)
            if from_task_id is not None and from_task_id not in flow.task_ids:
                raise InvalidParameterError(REPEAT_MESSAGE)
            last = store.last_manual_created_at(session, flow_id)
            if last is not None and now - last < REPEAT_WINDOW:
                raise InvalidParameterError(REPEAT_MESSAGE)
            suffix = manual_suffix(trigger_at)
            instance_id = flow_instance_id(flow.id, suffix)
            if store.exists(session, instance_id):
                raise InvalidParameterError(REPEAT_MESSAGE)
            record = build_instance(
                flow,
                instance_id=instance_id,
                suffix=suffix,
                kind=kind,
                trigger_at=trigger_at,
                scheduled_at=None,
                zone=self._zone,
                now=now,
                creator=caller.username,
                parameters=merge_parameters(flow.definition.parameters, overrides),
                from_task_id=from_task_id,
            )
            try:
                with changes.savepoint():
                    changes.created(record)
            except IntegrityError:  # the same id created concurrently
                raise InvalidParameterError(REPEAT_MESSAGE) from None
            notify(session, WORK)  # schedulers in other processes look at once
        self._wake()
        return instance_id

    def cancel(self, caller: Caller, instance_id: str, now: datetime) -> None:
        """Cancel Flow Instance: nothing new starts; the scheduler kills what is running."""
        require_unlocked(caller)
        with run_changes(self._sessions, self.bus, now) as changes:
            session = changes.session
            record = self._visible(session, caller, instance_id, with_tasks=True)
            if caller.username not in split_names(record.owners) and caller.username != record.creator:
                raise NoPrivilegeError()
            open_tasks = [t for t in record.tasks if t.status in store.OPEN_TASK]
            if record.status.final and not open_tasks and record.status != Status.FAIL:
                raise StateError(f"Flow instance {instance_id} has already ended ({record.status.name})")
            ref = ref_of(record)
            if record.status != Status.CANCEL:
                ended = None if any(t.status == Status.RUNNING for t in record.tasks) else now
                changes.instance(
                    ref,
                    record.status,
                    Status.CANCEL,
                    cancelled=True,
                    ended_at=ended,
                    message=f"cancelled by {caller.username}",
                )
            for task in open_tasks:
                if task.status != Status.RUNNING:
                    changes.task(ref, task, Status.CANCEL, ended_at=now, message="cancelled")
            notify(session, WORK)
        self._wake()

    def get(self, caller: Caller, instance_id: str) -> InstanceRecord:
        with transaction(self._sessions, read_only=True) as session:
            return self._visible(session, caller, instance_id, with_tasks=True)

    def rights(self, caller: Caller, record: InstanceRecord) -> tuple[bool, bool]:
        """(hasEditPri, hasReadPri) of the caller on the instance's flow."""
        r = flow_rights(
            caller, owners=record.owners, visitors=record.flow().definition.visitors, creator=record.creator
        )
        return r.edit, r.read

    def search(
        self,
        caller: Caller,
        *,
        type_: int,
        expression: str,
        owner: str,
        from_at: datetime | None,
        to_at: datetime | None,
        statuses: Sequence[int],
        sorters: Sequence[tuple[str, bool]],
        page: int,
        size: int,
    ) -> InstancePage:
        with transaction(self._sessions, read_only=True) as session:
            items, total = store.search(
                session,
                org_id=caller.org_id,
                type_=type_,
                expression=expression,
                owner=owner,
                from_at=from_at,
                to_at=to_at,
                statuses=statuses,
                sorters=sorters,
                offset=page * size,
                limit=size,
            )
        return InstancePage(items, total)

    def get_task(self, caller: Caller, task_instance_id: str) -> tuple[TaskInstanceRecord, InstanceRecord]:
        with transaction(self._sessions, read_only=True) as session:
            task = store.get_task(session, task_instance_id)
            if task is None:
                raise InvalidParameterError(INSTANCE_NOT_FOUND)
            record = self._visible(session, caller, task.flow_instance_id, with_tasks=False)
        return task, record

    def log_path(self, flow_instance_id: str, task_instance_id: str) -> Path:
        return log_file(self.log_dir, flow_instance_id, task_instance_id)

    def read_log(self, caller: Caller, task_instance_id: str, max_length: int | None) -> str:
        """The first ``max_length`` characters (default 2^20) of the task instance's log."""
        task, record = self.get_task(caller, task_instance_id)
        limit = DEFAULT_LOG_LENGTH if max_length is None else max_length
        if limit < 0:
            raise InvalidParameterError("Invalid parameter: maxLength must be >= 0")
        return self.logs.read(record.id, task.id, limit)

    def _visible(
        self, session: Session, caller: Caller, instance_id: str, *, with_tasks: bool
    ) -> InstanceRecord:
        record = store.get(session, instance_id, with_tasks=with_tasks)
        if record is None or record.org_id != caller.org_id:
            raise InvalidParameterError(INSTANCE_NOT_FOUND)
        return record


def store_flow_or_repeat_error(session: Session, caller: Caller, flow_id: int) -> Flow:
    """Trigger Flow From Task reports an unknown flow with its documented message."""
    try:
        return load_visible(session, caller, flow_id)
    except InvalidParameterError:
        raise InvalidParameterError(REPEAT_MESSAGE) from None
