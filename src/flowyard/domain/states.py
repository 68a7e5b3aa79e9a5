"""Instance and task-instance states, and the one table of allowed transitions.

The numeric codes are EnOS's ``FlowInstanceStatus`` (spec section 5); task
instances use the same table. Every state change in Flowyard goes through
:func:`check_transition`, so an impossible change (SUCCESS back to RUNNING,
say) is a bug caught where it happens, not a mystery found later.

Flow instance: INIT (created; queued behind another instance of the flow or
waiting for its trigger time) → WAIT (waiting for upstream flows or tasks) →
RUNNING → SUCCESS | FAIL | CANCEL. Task instance: INIT → READY (upstreams
done, waiting for an executor slot or a retry time) → RUNNING → SUCCESS |
FAIL | TIMEOUT | CANCEL, back to READY for a retry, or SKIP when it will not
run (outside a trigger-from-task selection, or after the instance failed).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from flowyard.errors import InternalError


class Status(IntEnum):
    FAIL = -1
    INIT = 0
    SUCCESS = 1
    RUNNING = 2
    SUSPEND = 3
    INTERNAL_ERROR = 4
    WAIT = 5
    READY = 6
    TIMEOUT = 7
    CANCEL = 8
    RERUN = 9
    SKIP = 10

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset(
    {Status.SUCCESS, Status.FAIL, Status.CANCEL, Status.SKIP, Status.TIMEOUT, Status.INTERNAL_ERROR}
)

_ENDINGS = frozenset({Status.SUCCESS, Status.FAIL, Status.CANCEL, Status.INTERNAL_ERROR})

FLOW_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.INIT: frozenset({Status.WAIT, Status.RUNNING, *_ENDINGS}),
    Status.WAIT: frozenset({Status.RUNNING, *_ENDINGS}),
    Status.RUNNING: _ENDINGS,
    # A failed instance may still have running tasks finishing; it can be cancelled meanwhile.
    Status.FAIL: frozenset({Status.CANCEL}),
}

TASK_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.INIT: frozenset({Status.READY, Status.SKIP, Status.CANCEL, Status.FAIL}),
    Status.READY: frozenset({Status.RUNNING, Status.SKIP, Status.CANCEL, Status.FAIL}),
    Status.RUNNING: frozenset(
        {Status.SUCCESS, Status.FAIL, Status.TIMEOUT, Status.CANCEL, Status.READY, Status.INTERNAL_ERROR}
    ),
}


class TransitionError(InternalError):
    """A state change the transition table forbids: always a bug in Flowyard."""


def check_transition(kind: str, old: Status, new: Status) -> None:
    """Raise TransitionError unless ``kind`` ("flow" or "task") may go from ``old`` to ``new``."""
    table = FLOW_TRANSITIONS if kind == "flow" else TASK_TRANSITIONS
    if new not in table.get(old, frozenset()):
        raise TransitionError(f"illegal {kind} instance transition {old.name} -> {new.name}")


class AttemptState(StrEnum):
    """Where one attempt of a task instance is (the ``task_attempts.state`` column).

    ``queued`` (committed for a worker to claim) → ``running`` (claimed: a process runs it) →
    ``ended`` (a worker wrote how it ended) → ``done`` (the scheduler recorded the result on the
    task instance). A local attempt goes ``running`` → ``done`` directly; a queued attempt that is
    cancelled before any worker claims it goes ``queued`` → ``ended``.
    """

    QUEUED = "queued"
    RUNNING = "running"
    ENDED = "ended"
    DONE = "done"


ATTEMPT_TRANSITIONS: dict[AttemptState, frozenset[AttemptState]] = {
    AttemptState.QUEUED: frozenset({AttemptState.RUNNING, AttemptState.ENDED}),
    AttemptState.RUNNING: frozenset({AttemptState.ENDED, AttemptState.DONE}),
    AttemptState.ENDED: frozenset({AttemptState.DONE}),
}


def attempt_sources(new: AttemptState) -> tuple[AttemptState, ...]:
    """The states an attempt may move to ``new`` from: the guard of its conditional UPDATE."""
    return tuple(old for old, targets in ATTEMPT_TRANSITIONS.items() if new in targets)
