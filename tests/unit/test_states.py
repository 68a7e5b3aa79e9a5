"""The state enum and its one transition table (flowyard.domain.states).

The allowed transitions are written out here as literals, independently of the
table in the module, so that a change to the table has to be a change to this
spec as well. Every pair not listed must raise.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest

from flowyard.domain.states import FINAL, Status, TransitionError, check_transition
from flowyard.errors import FlowyardError, InternalError

S = Status

FLOW_ALLOWED: frozenset[tuple[Status, Status]] = frozenset(
    {
        (S.INIT, S.WAIT),
        (S.INIT, S.RUNNING),
        (S.INIT, S.SUCCESS),
        (S.INIT, S.FAIL),
        (S.INIT, S.CANCEL),
        (S.INIT, S.INTERNAL_ERROR),
        (S.WAIT, S.RUNNING),
        (S.WAIT, S.SUCCESS),
        (S.WAIT, S.FAIL),
        (S.WAIT, S.CANCEL),
        (S.WAIT, S.INTERNAL_ERROR),
        (S.RUNNING, S.SUCCESS),
        (S.RUNNING, S.FAIL),
        (S.RUNNING, S.CANCEL),
        (S.RUNNING, S.INTERNAL_ERROR),
        # a failed instance may still have tasks finishing and can be cancelled meanwhile
        (S.FAIL, S.CANCEL),
    }
)

TASK_ALLOWED: frozenset[tuple[Status, Status]] = frozenset(
    {
        (S.INIT, S.READY),
        (S.INIT, S.SKIP),
        (S.INIT, S.CANCEL),
        (S.INIT, S.FAIL),
        (S.READY, S.RUNNING),
        (S.READY, S.SKIP),
        (S.READY, S.CANCEL),
        (S.READY, S.FAIL),
        (S.RUNNING, S.SUCCESS),
        (S.RUNNING, S.FAIL),
        (S.RUNNING, S.TIMEOUT),
        (S.RUNNING, S.CANCEL),
        (S.RUNNING, S.READY),  # a retry
        (S.RUNNING, S.INTERNAL_ERROR),
    }
)

ALL_PAIRS = list(itertools.product(Status, Status))


def _ids(pairs: Iterable[tuple[Status, Status]]) -> list[str]:
    return [f"{a.name}->{b.name}" for a, b in pairs]


def test_enos_codes() -> None:
    assert {s.name: int(s) for s in Status} == {
        "FAIL": -1,
        "INIT": 0,
        "SUCCESS": 1,
        "RUNNING": 2,
        "SUSPEND": 3,
        "INTERNAL_ERROR": 4,
        "WAIT": 5,
        "READY": 6,
        "TIMEOUT": 7,
        "CANCEL": 8,
        "RERUN": 9,
        "SKIP": 10,
    }
    assert Status(-1) is Status.FAIL
    assert Status(10) is Status.SKIP


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (S.SUCCESS, True),
        (S.FAIL, True),
        (S.CANCEL, True),
        (S.SKIP, True),
        (S.TIMEOUT, True),
        (S.INTERNAL_ERROR, True),
        (S.INIT, False),
        (S.WAIT, False),
        (S.READY, False),
        (S.RUNNING, False),
        (S.SUSPEND, False),
        (S.RERUN, False),
    ],
)
def test_final(status: Status, final: bool) -> None:
    assert status.final is final
    assert (status in FINAL) is final


@pytest.mark.parametrize(("old", "new"), sorted(FLOW_ALLOWED), ids=_ids(sorted(FLOW_ALLOWED)))
def test_allowed_flow_transition(old: Status, new: Status) -> None:
    check_transition("flow", old, new)


@pytest.mark.parametrize(("old", "new"), sorted(TASK_ALLOWED), ids=_ids(sorted(TASK_ALLOWED)))
def test_allowed_task_transition(old: Status, new: Status) -> None:
    check_transition("task", old, new)


@pytest.mark.parametrize(
    ("kind", "old", "new"),
    [
        ("flow", S.SUCCESS, S.RUNNING),
        ("flow", S.FAIL, S.RUNNING),
        ("flow", S.CANCEL, S.RUNNING),
        ("flow", S.RUNNING, S.WAIT),
        ("flow", S.RUNNING, S.INIT),
        ("flow", S.WAIT, S.INIT),
        ("flow", S.INIT, S.INIT),
        ("flow", S.RUNNING, S.RUNNING),
        ("flow", S.RUNNING, S.TIMEOUT),  # TIMEOUT and SKIP are task states
        ("flow", S.RUNNING, S.SKIP),
        ("flow", S.FAIL, S.SUCCESS),
        ("flow", S.SUCCESS, S.FAIL),
        ("flow", S.CANCEL, S.FAIL),
        ("task", S.SUCCESS, S.RUNNING),
        ("task", S.FAIL, S.RUNNING),
        ("task", S.FAIL, S.READY),
        ("task", S.TIMEOUT, S.READY),
        ("task", S.INIT, S.SUCCESS),
        ("task", S.INIT, S.RUNNING),  # must pass through READY
        ("task", S.READY, S.SUCCESS),
        ("task", S.SKIP, S.READY),
        ("task", S.CANCEL, S.READY),
        ("task", S.RUNNING, S.SKIP),  # a running task finishes, it is not skipped
        ("task", S.RUNNING, S.INIT),
        ("task", S.INIT, S.WAIT),  # WAIT is a flow state
    ],
)
def test_representative_forbidden_transitions(kind: str, old: Status, new: Status) -> None:
    with pytest.raises(TransitionError, match=f"illegal {kind} instance transition {old.name} -> {new.name}"):
        check_transition(kind, old, new)


FLOW_FORBIDDEN = [p for p in ALL_PAIRS if p not in FLOW_ALLOWED]
TASK_FORBIDDEN = [p for p in ALL_PAIRS if p not in TASK_ALLOWED]


@pytest.mark.parametrize(("old", "new"), FLOW_FORBIDDEN, ids=_ids(FLOW_FORBIDDEN))
def test_every_other_flow_transition_is_forbidden(old: Status, new: Status) -> None:
    with pytest.raises(TransitionError):
        check_transition("flow", old, new)


@pytest.mark.parametrize(("old", "new"), TASK_FORBIDDEN, ids=_ids(TASK_FORBIDDEN))
def test_every_other_task_transition_is_forbidden(old: Status, new: Status) -> None:
    with pytest.raises(TransitionError):
        check_transition("task", old, new)


def test_transition_error_is_an_internal_flowyard_error() -> None:
    # One rooted hierarchy: an illegal transition is a bug, reported like any internal error.
    assert issubclass(TransitionError, InternalError)
    assert issubclass(TransitionError, FlowyardError)
