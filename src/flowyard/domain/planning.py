"""The pure scheduling core: states and ``now`` in, decisions out.

Nothing here reads the clock, the database or randomness, so a replay after a
crash reaches the same decisions, and tests pass literal datetimes. The
scheduler loop (``flowyard.scheduler``) reads, calls these functions, and
persists what they decide.

Decisions taken here (README, "Running flows"):
- A task is READY when every upstream task instance is SUCCESS or SKIP (SKIP
  = outside a Trigger-From-Task selection, so it does not block).
- Ready tasks start in order of ``priorityLevel`` (higher first), then the
  older instance, then the task's position in the flow.
- A failed attempt is retried while attempts started ≤ ``retryLimit``, after
  ``retryInterval`` seconds; the last failure ends the task FAIL (TIMEOUT if
  it timed out). A lost attempt (its process vanished with a crash) counts as
  a failed attempt.
- One task that ends FAIL/TIMEOUT marks the instance FAIL at once (EnOS
  semantics, failure strategy ``Break``); tasks already running finish, tasks
  not yet started are SKIP. With ``Continue`` (FlowSpec) tasks not downstream
  of a failed task keep running; the instance ends FAIL once nothing more can
  run, and the tasks cut off by the failure are then SKIP.
- Rerun mode ``Denied`` means no automatic retries (:func:`retry_limit_of`).
- One running instance per flow; later ones wait in trigger-time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flowyard.domain.flows import FailureStrategy, FlowDefinition, RerunMode, TaskDefinition
from flowyard.domain.instances import InstanceRun, TaskRun
from flowyard.domain.states import Status

SATISFIED = frozenset({Status.SUCCESS, Status.SKIP})
TASK_FAILED = frozenset({Status.FAIL, Status.TIMEOUT, Status.INTERNAL_ERROR})
ACTIVE_INSTANCE = frozenset({Status.RUNNING, Status.WAIT})
CUT_OFF = TASK_FAILED | {Status.CANCEL}


class AttemptOutcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class TaskDecision:
    status: Status
    next_attempt_at: datetime | None
    message: str


def decide_attempt_end(task: TaskRun, outcome: AttemptOutcome, detail: str, now: datetime) -> TaskDecision:
    """What a task instance becomes when its current attempt ends."""
    if outcome == AttemptOutcome.SUCCESS:
        return TaskDecision(Status.SUCCESS, None, f"attempt {task.run_num} succeeded")
    if outcome == AttemptOutcome.CANCELLED:
        return TaskDecision(Status.CANCEL, None, f"attempt {task.run_num} cancelled")
    if task.run_num <= task.retry_limit:
        at = now + timedelta(seconds=task.retry_interval)
        return TaskDecision(
            Status.READY,
            at,
            f"attempt {task.run_num} {outcome.value}: {detail}; retry {task.run_num} of {task.retry_limit} "
            f"after {task.retry_interval} s",
        )
    final = Status.TIMEOUT if outcome == AttemptOutcome.TIMEOUT else Status.FAIL
    retries = f" after {task.retry_limit} retries" if task.retry_limit else ""
    return TaskDecision(final, None, f"attempt {task.run_num} {outcome.value}{retries}: {detail}")


def retry_limit_of(definition: FlowDefinition, task: TaskDefinition) -> int:
    """The automatic retries a task instance gets: none under rerun mode ``Denied``."""
    return 0 if definition.rerun_mode_of(task) == RerunMode.DENIED else task.retry_limit


def cut_off(instance: InstanceRun) -> set[str]:
    """INIT task instances that can never run: downstream of a failed or cancelled task."""
    by_id = {t.id: t for t in instance.tasks}
    blocked: set[str] = set()
    changed = True
    while changed:  # a fixed point; flows are small DAGs
        changed = False
        for t in instance.tasks:
            if t.id in blocked or t.status != Status.INIT:
                continue
            if any(up in blocked or (up in by_id and by_id[up].status in CUT_OFF) for up in t.upstream):
                blocked.add(t.id)
                changed = True
    return blocked


def newly_ready(instance: InstanceRun) -> list[str]:
    """Task instances in INIT whose upstreams are all done; none once the instance has ended."""
    if instance.status != Status.RUNNING:
        return []
    status = {t.id: t.status for t in instance.tasks}
    return [
        t.id
        for t in instance.tasks
        if t.status == Status.INIT and all(status[up] in SATISFIED for up in t.upstream)
    ]


def to_skip(instance: InstanceRun) -> list[str]:
    """After the instance failed or was cancelled: task instances that will now never run."""
    if instance.status not in (Status.FAIL, Status.CANCEL):
        return []
    return [t.id for t in instance.tasks if t.status in (Status.INIT, Status.READY)]


def instance_outcome(
    instance: InstanceRun, failure_strategy: FailureStrategy = FailureStrategy.BREAK
) -> Status | None:
    """The final status a RUNNING instance reaches now, or None while it is still going."""
    if instance.status != Status.RUNNING:
        return None
    if any(t.status in TASK_FAILED for t in instance.tasks):
        if failure_strategy == FailureStrategy.BREAK:
            return Status.FAIL
        blocked = cut_off(instance)
        if all(t.status.final or t.id in blocked for t in instance.tasks):
            return Status.FAIL
        return None
    if all(t.status in SATISFIED for t in instance.tasks):
        return Status.SUCCESS
    if all(t.status.final for t in instance.tasks):  # some were cancelled
        return Status.CANCEL
    return None


def instance_finished(instance: InstanceRun) -> bool:
    """True when nothing of the instance runs or will run any more (its end time can be recorded).

    INIT tasks count as settled only once the instance has ended (FAIL or
    CANCEL): in a running instance they are still to come.
    """
    ended = instance.status in (Status.FAIL, Status.CANCEL)
    return all(t.status.final or (ended and t.status == Status.INIT) for t in instance.tasks)


def startable(
    candidates: Iterable[tuple[InstanceRun, TaskRun]], now: datetime, slots: int
) -> list[tuple[InstanceRun, TaskRun]]:
    """READY tasks of RUNNING instances that may start now, best first, at most ``slots``."""
    due = [
        (inst, task)
        for inst, task in candidates
        if inst.status == Status.RUNNING
        and task.status == Status.READY
        and (task.next_attempt_at is None or task.next_attempt_at <= now)
    ]
    due.sort(key=lambda pair: (-pair[1].priority, pair[0].trigger_at, pair[0].id, pair[1].position))
    return due[: max(slots, 0)]


@dataclass(frozen=True, slots=True)
class InstanceStart:
    instance_id: str
    status: Status  # RUNNING, or WAIT while premises are unmet


def instances_to_start(
    pending: Sequence[InstanceRun], active_flow_ids: set[int], now: datetime
) -> list[InstanceStart]:
    """Which INIT/WAIT instances move on now: one active instance per flow, oldest trigger first.

    An instance whose trigger time is in the future stays INIT; one whose
    premises are unmet goes to (or stays in) WAIT and holds its flow's slot,
    so a later instance of the same flow cannot overtake it.
    """
    ordered = sorted(pending, key=lambda i: (i.trigger_at, i.created_at, i.id))
    busy = set(active_flow_ids)
    starts: list[InstanceStart] = []
    for inst in ordered:
        if inst.status not in (Status.INIT, Status.WAIT) or inst.trigger_at > now:
            continue
        if inst.flow_id in busy and inst.status != Status.WAIT:
            continue
        busy.add(inst.flow_id)
        target = Status.WAIT if inst.waiting_for else Status.RUNNING
        if target != inst.status:
            starts.append(InstanceStart(inst.id, target))
    return starts
