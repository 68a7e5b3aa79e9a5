"""The pure scheduling core (flowyard.domain.planning): states and ``now`` in, decisions out.

Every test builds literal instances and passes a literal ``now``; nothing reads the clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from flowyard.domain.flows import FailureStrategy, FlowDefinition, FlowOptions, RerunMode, TaskDefinition
from flowyard.domain.instances import InstanceRun, TaskRun
from flowyard.domain.planning import (
    AttemptOutcome,
    InstanceStart,
    TaskDecision,
    cut_off,
    decide_attempt_end,
    instance_finished,
    instance_outcome,
    instances_to_start,
    newly_ready,
    retry_limit_of,
    startable,
    to_skip,
)
from flowyard.domain.states import Status, check_transition

S = Status
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def task(tid: str, status: Status = S.INIT, *upstream: str, **kw: Any) -> TaskRun:
    return TaskRun(id=tid, task_id=len(tid), status=status, upstream=upstream, **kw)


def instance(
    iid: str = "1-202405010800",
    status: Status = S.RUNNING,
    tasks: tuple[TaskRun, ...] = (),
    *,
    flow_id: int = 1,
    trigger_at: datetime = T0,
    created_at: datetime | None = None,
    waiting_for: tuple[str, ...] = (),
) -> InstanceRun:
    return InstanceRun(
        id=iid,
        flow_id=flow_id,
        status=status,
        trigger_at=trigger_at,
        created_at=created_at or trigger_at,
        tasks=tasks,
        waiting_for=waiting_for,
    )


def diamond(a: Status, b: Status, c: Status, d: Status, status: Status = S.RUNNING) -> InstanceRun:
    """a → b, a → c, b → d, c → d."""
    return instance(
        status=status,
        tasks=(task("a", a), task("b", b, "a"), task("c", c, "a"), task("d", d, "b", "c")),
    )


# --- readiness -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "c", "d", "ready"),
    [
        # step by step through the diamond
        (S.INIT, S.INIT, S.INIT, S.INIT, ["a"]),
        (S.READY, S.INIT, S.INIT, S.INIT, []),
        (S.RUNNING, S.INIT, S.INIT, S.INIT, []),
        (S.SUCCESS, S.INIT, S.INIT, S.INIT, ["b", "c"]),
        (S.SUCCESS, S.RUNNING, S.INIT, S.INIT, ["c"]),
        (S.SUCCESS, S.SUCCESS, S.RUNNING, S.INIT, []),  # d waits for both branches
        (S.SUCCESS, S.SUCCESS, S.READY, S.INIT, []),
        (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.INIT, ["d"]),
        (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.READY, []),  # already ready: not reported twice
        (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SUCCESS, []),
        # SKIP (outside a trigger-from-task selection) satisfies downstream tasks
        (S.SKIP, S.INIT, S.INIT, S.INIT, ["b", "c"]),
        (S.SUCCESS, S.SKIP, S.SUCCESS, S.INIT, ["d"]),
        (S.SKIP, S.SKIP, S.SKIP, S.INIT, ["d"]),
        # failed, timed-out or cancelled upstreams do not
        (S.FAIL, S.INIT, S.INIT, S.INIT, []),
        (S.SUCCESS, S.FAIL, S.SUCCESS, S.INIT, []),
        (S.SUCCESS, S.SUCCESS, S.TIMEOUT, S.INIT, []),
        (S.SUCCESS, S.CANCEL, S.SUCCESS, S.INIT, []),
        (S.SUCCESS, S.INTERNAL_ERROR, S.SUCCESS, S.INIT, []),
    ],
)
def test_newly_ready_in_a_diamond(a: Status, b: Status, c: Status, d: Status, ready: list[str]) -> None:
    assert newly_ready(diamond(a, b, c, d)) == ready


@pytest.mark.parametrize("status", [S.INIT, S.WAIT, S.FAIL, S.CANCEL, S.SUCCESS])
def test_nothing_becomes_ready_unless_the_instance_runs(status: Status) -> None:
    assert newly_ready(diamond(S.SUCCESS, S.INIT, S.INIT, S.INIT, status=status)) == []


def test_independent_roots_are_ready_at_once_in_task_order() -> None:
    inst = instance(tasks=(task("z"), task("y"), task("x", S.INIT, "z")))
    assert newly_ready(inst) == ["z", "y"]


# --- the end of an attempt ---------------------------------------------------------------------------


def failing(run_num: int, retry_limit: int = 2, retry_interval: int = 300) -> TaskRun:
    return task("t", S.RUNNING, run_num=run_num, retry_limit=retry_limit, retry_interval=retry_interval)


def test_first_failure_with_retries_left_is_retried_after_the_interval() -> None:
    decision = decide_attempt_end(failing(1), AttemptOutcome.FAILED, "exit code 3", NOW)
    assert decision == TaskDecision(
        S.READY,
        datetime(2024, 5, 1, 12, 5, tzinfo=UTC),
        "attempt 1 failed: exit code 3; retry 1 of 2 after 300 s",
    )
    check_transition("task", S.RUNNING, decision.status)


def test_second_failure_uses_the_last_retry() -> None:
    decision = decide_attempt_end(failing(2), AttemptOutcome.FAILED, "exit code 3", NOW)
    assert decision.status == S.READY
    assert decision.next_attempt_at == NOW + timedelta(seconds=300)
    assert decision.message == "attempt 2 failed: exit code 3; retry 2 of 2 after 300 s"


def test_failure_of_the_last_attempt_fails_the_task() -> None:
    decision = decide_attempt_end(failing(3), AttemptOutcome.FAILED, "exit code 3", NOW)
    assert decision == TaskDecision(S.FAIL, None, "attempt 3 failed after 2 retries: exit code 3")


def test_without_retries_the_first_failure_is_final() -> None:
    decision = decide_attempt_end(failing(1, retry_limit=0), AttemptOutcome.FAILED, "exit code 1", NOW)
    assert decision == TaskDecision(S.FAIL, None, "attempt 1 failed: exit code 1")


def test_retry_time_keeps_the_zone_of_now_and_zero_interval_means_at_once() -> None:
    now = datetime(2024, 5, 1, 20, 0, tzinfo=timezone(timedelta(hours=8)))
    decision = decide_attempt_end(failing(1, retry_interval=0), AttemptOutcome.FAILED, "x", now)
    assert decision.status == S.READY
    assert decision.next_attempt_at == now


@pytest.mark.parametrize(
    ("run_num", "status", "next_at", "message"),
    [
        (1, S.READY, NOW + timedelta(seconds=300), "attempt 1 timeout: ran 60 s; retry 1 of 2 after 300 s"),
        (3, S.TIMEOUT, None, "attempt 3 timeout after 2 retries: ran 60 s"),
    ],
)
def test_timeout_is_retried_and_ends_timeout_on_the_last_attempt(
    run_num: int, status: Status, next_at: datetime | None, message: str
) -> None:
    decision = decide_attempt_end(failing(run_num), AttemptOutcome.TIMEOUT, "ran 60 s", NOW)
    assert decision == TaskDecision(status, next_at, message)
    check_transition("task", S.RUNNING, decision.status)


@pytest.mark.parametrize(
    ("run_num", "status", "next_at", "message"),
    [
        (
            1,
            S.READY,
            NOW + timedelta(seconds=300),
            "attempt 1 lost: server stopped; retry 1 of 2 after 300 s",
        ),
        # a lost attempt counts as a failure, not a timeout
        (3, S.FAIL, None, "attempt 3 lost after 2 retries: server stopped"),
    ],
)
def test_lost_attempt_is_treated_like_a_failed_one(
    run_num: int, status: Status, next_at: datetime | None, message: str
) -> None:
    decision = decide_attempt_end(failing(run_num), AttemptOutcome.LOST, "server stopped", NOW)
    assert decision == TaskDecision(status, next_at, message)


@pytest.mark.parametrize("run_num", [1, 2, 3])
def test_cancelled_attempt_is_never_retried(run_num: int) -> None:
    decision = decide_attempt_end(failing(run_num), AttemptOutcome.CANCELLED, "by admin", NOW)
    assert decision == TaskDecision(S.CANCEL, None, f"attempt {run_num} cancelled")


@pytest.mark.parametrize("run_num", [1, 3])
def test_success_ends_the_task(run_num: int) -> None:
    decision = decide_attempt_end(failing(run_num), AttemptOutcome.SUCCESS, "", NOW)
    assert decision == TaskDecision(S.SUCCESS, None, f"attempt {run_num} succeeded")


def test_decisions_are_deterministic() -> None:
    # a replay after a crash reaches the same decision
    t = failing(1)
    assert decide_attempt_end(t, AttemptOutcome.LOST, "x", NOW) == decide_attempt_end(
        t, AttemptOutcome.LOST, "x", NOW
    )


# --- the end of an instance ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "c", "d", "outcome"),
    [
        (S.INIT, S.INIT, S.INIT, S.INIT, None),
        (S.RUNNING, S.INIT, S.INIT, S.INIT, None),
        (S.SUCCESS, S.RUNNING, S.READY, S.INIT, None),
        (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.READY, None),
        # one failure fails the instance at once, even while another task still runs
        (S.SUCCESS, S.FAIL, S.RUNNING, S.INIT, S.FAIL),
        (S.SUCCESS, S.RUNNING, S.TIMEOUT, S.INIT, S.FAIL),
        (S.SUCCESS, S.INTERNAL_ERROR, S.READY, S.INIT, S.FAIL),
        (S.FAIL, S.INIT, S.INIT, S.INIT, S.FAIL),
        (S.SUCCESS, S.FAIL, S.CANCEL, S.SKIP, S.FAIL),
        # everything succeeded or was skipped
        (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SUCCESS),
        (S.SKIP, S.SKIP, S.SUCCESS, S.SUCCESS, S.SUCCESS),
        (S.SKIP, S.SKIP, S.SKIP, S.SKIP, S.SUCCESS),
        # all ended, some cancelled
        (S.SUCCESS, S.CANCEL, S.SUCCESS, S.SKIP, S.CANCEL),
        (S.SUCCESS, S.CANCEL, S.RUNNING, S.INIT, None),
    ],
)
def test_instance_outcome(a: Status, b: Status, c: Status, d: Status, outcome: Status | None) -> None:
    inst = diamond(a, b, c, d)
    assert instance_outcome(inst) == outcome
    if outcome is not None:
        check_transition("flow", S.RUNNING, outcome)


@pytest.mark.parametrize("status", [S.INIT, S.WAIT, S.FAIL, S.CANCEL, S.SUCCESS])
def test_only_a_running_instance_has_an_outcome(status: Status) -> None:
    assert instance_outcome(diamond(S.FAIL, S.INIT, S.INIT, S.INIT, status=status)) is None
    assert instance_outcome(diamond(S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SUCCESS, status=status)) is None


@pytest.mark.parametrize("status", [S.FAIL, S.CANCEL])
def test_to_skip_after_the_instance_failed_or_was_cancelled(status: Status) -> None:
    inst = diamond(S.SUCCESS, S.RUNNING, S.READY, S.INIT, status=status)
    assert to_skip(inst) == ["c", "d"]  # b is running and finishes on its own
    inst = instance(
        status=status,
        tasks=(
            task("ok", S.SUCCESS),
            task("bad", S.FAIL),
            task("late", S.TIMEOUT),
            task("cut", S.CANCEL),
            task("skipped", S.SKIP),
            task("never", S.INIT),
        ),
    )
    assert to_skip(inst) == ["never"]
    # both moves the scheduler then makes are allowed by the transition table
    check_transition("task", S.INIT, S.SKIP)
    check_transition("task", S.READY, S.SKIP)


@pytest.mark.parametrize("status", [S.INIT, S.WAIT, S.RUNNING, S.SUCCESS])
def test_nothing_is_skipped_unless_the_instance_failed_or_was_cancelled(status: Status) -> None:
    assert to_skip(diamond(S.FAIL, S.INIT, S.INIT, S.INIT, status=status)) == []


@pytest.mark.parametrize(
    ("status", "tasks", "finished"),
    [
        (S.SUCCESS, (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SUCCESS), True),
        (S.FAIL, (S.SUCCESS, S.FAIL, S.SKIP, S.SKIP), True),
        (S.FAIL, (S.SUCCESS, S.FAIL, S.CANCEL, S.TIMEOUT), True),
        (S.FAIL, (S.SUCCESS, S.FAIL, S.RUNNING, S.SKIP), False),  # c still runs
        (S.FAIL, (S.SUCCESS, S.FAIL, S.READY, S.SKIP), False),  # not yet skipped
        (S.FAIL, (S.FAIL, S.INIT, S.INIT, S.INIT), True),  # its INIT tasks will never run
        (S.CANCEL, (S.SUCCESS, S.CANCEL, S.INIT, S.INIT), True),
        (S.CANCEL, (S.SUCCESS, S.RUNNING, S.INIT, S.INIT), False),  # b is being killed
        (S.RUNNING, (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SKIP), True),  # its outcome is due
        (S.RUNNING, (S.SUCCESS, S.SUCCESS, S.RUNNING, S.INIT), False),
        (S.RUNNING, (S.SUCCESS, S.SUCCESS, S.READY, S.INIT), False),
    ],
)
def test_instance_finished(
    status: Status, tasks: tuple[Status, Status, Status, Status], finished: bool
) -> None:
    assert instance_finished(diamond(*tasks, status=status)) is finished


def test_a_running_instance_with_tasks_still_to_start_is_not_finished() -> None:
    assert instance_finished(diamond(S.SUCCESS, S.INIT, S.INIT, S.INIT)) is False


# --- the pieces together -------------------------------------------------------------------------------


def moved(inst: InstanceRun, tid: str, new: Status, **changes: Any) -> InstanceRun:
    """The instance with one task moved to ``new``, through the transition table."""
    for t in inst.tasks:
        if t.id == tid:
            check_transition("task", t.status, new)
    tasks = tuple(replace(t, status=new, **changes) if t.id == tid else t for t in inst.tasks)
    return replace(inst, tasks=tasks)


def step(inst: InstanceRun, slots: int) -> tuple[InstanceRun, list[str]]:
    """One scheduler pass: ready what can be, start up to ``slots`` tasks."""
    for tid in newly_ready(inst):
        inst = moved(inst, tid, S.READY)
    started = [t.id for _, t in startable([(inst, t) for t in inst.tasks], NOW, slots)]
    for tid in started:
        run_num = next(t.run_num for t in inst.tasks if t.id == tid) + 1
        inst = moved(inst, tid, S.RUNNING, run_num=run_num)
    return inst, started


def end(inst: InstanceRun, tid: str, outcome: AttemptOutcome) -> InstanceRun:
    t = next(t for t in inst.tasks if t.id == tid)
    decision = decide_attempt_end(t, outcome, "", NOW)
    return moved(inst, tid, decision.status, next_attempt_at=decision.next_attempt_at)


def test_a_diamond_runs_to_success_one_slot_at_a_time() -> None:
    inst = diamond(S.INIT, S.INIT, S.INIT, S.INIT)
    order: list[str] = []
    while instance_outcome(inst) is None:
        inst, started = step(inst, slots=1)
        assert len(started) == 1
        order += started
        inst = end(inst, started[0], AttemptOutcome.SUCCESS)
    assert order == ["a", "b", "c", "d"]
    assert instance_outcome(inst) == S.SUCCESS
    assert instance_finished(inst)


def test_a_diamond_whose_branch_fails_skips_the_join_and_lets_the_other_branch_finish() -> None:
    inst = diamond(S.INIT, S.INIT, S.INIT, S.INIT)
    inst, started = step(inst, slots=2)
    assert started == ["a"]
    inst = end(inst, "a", AttemptOutcome.SUCCESS)
    inst, started = step(inst, slots=2)
    assert started == ["b", "c"]
    inst = end(inst, "b", AttemptOutcome.FAILED)  # no retries left
    assert instance_outcome(inst) == S.FAIL
    check_transition("flow", S.RUNNING, S.FAIL)
    inst = replace(inst, status=S.FAIL)
    assert newly_ready(inst) == []
    assert to_skip(inst) == ["d"]
    inst = moved(inst, "d", S.SKIP)
    assert not instance_finished(inst)  # c still runs
    inst = end(inst, "c", AttemptOutcome.SUCCESS)
    assert instance_finished(inst)
    assert [t.status for t in inst.tasks] == [S.SUCCESS, S.FAIL, S.SUCCESS, S.SKIP]


def test_a_retried_task_waits_for_its_retry_time() -> None:
    inst = instance(tasks=(task("a", retry_limit=1, retry_interval=60),))
    inst, started = step(inst, slots=1)
    assert started == ["a"]
    inst = end(inst, "a", AttemptOutcome.TIMEOUT)
    (a,) = inst.tasks
    assert (a.status, a.run_num, a.next_attempt_at) == (S.READY, 1, NOW + timedelta(seconds=60))
    assert instance_outcome(inst) is None
    assert startable([(inst, a)], NOW + timedelta(seconds=59), 1) == []
    assert startable([(inst, a)], NOW + timedelta(seconds=60), 1) == [(inst, a)]
    inst = moved(inst, "a", S.RUNNING, run_num=2)
    inst = end(inst, "a", AttemptOutcome.TIMEOUT)
    assert inst.tasks[0].status == S.TIMEOUT
    assert instance_outcome(inst) == S.FAIL


# --- FlowSpec rerun mode and failure strategy ---------------------------------------------------------

CONTINUE = FailureStrategy.CONTINUE


@pytest.mark.parametrize(
    ("flow_mode", "task_mode", "limit"),
    [
        (RerunMode.ALLOWED, None, 3),
        (RerunMode.FAILURE_ALLOWED, None, 3),
        (RerunMode.DENIED, None, 0),
        (RerunMode.DENIED, RerunMode.ALLOWED, 3),  # the task's own mode wins
        (RerunMode.ALLOWED, RerunMode.DENIED, 0),
    ],
)
def test_rerun_mode_denied_means_no_automatic_retries(
    flow_mode: RerunMode, task_mode: RerunMode | None, limit: int
) -> None:
    t = TaskDefinition(name="t", retry_limit=3, rerun_mode=task_mode)
    definition = FlowDefinition(name="f", tasks=(t,), options=FlowOptions(rerun_mode=flow_mode))
    assert retry_limit_of(definition, t) == limit


def test_the_default_rerun_mode_keeps_the_retry_limit() -> None:
    t = TaskDefinition(name="t", retry_limit=2)
    assert retry_limit_of(FlowDefinition(name="f", tasks=(t,)), t) == 2


@pytest.mark.parametrize(
    ("a", "b", "c", "d", "outcome"),
    [
        (S.FAIL, S.INIT, S.INIT, S.INIT, S.FAIL),  # everything hangs below the failure
        (S.SUCCESS, S.FAIL, S.RUNNING, S.INIT, None),  # c keeps running
        (S.SUCCESS, S.FAIL, S.READY, S.INIT, None),
        (S.SUCCESS, S.FAIL, S.SUCCESS, S.INIT, S.FAIL),  # d is cut off by b
        (S.SUCCESS, S.TIMEOUT, S.FAIL, S.INIT, S.FAIL),
        (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SUCCESS, S.SUCCESS),
        (S.SUCCESS, S.SUCCESS, S.SUCCESS, S.RUNNING, None),
    ],
)
def test_instance_outcome_with_continue(
    a: Status, b: Status, c: Status, d: Status, outcome: Status | None
) -> None:
    assert instance_outcome(diamond(a, b, c, d), CONTINUE) == outcome


def test_break_is_the_default_failure_strategy() -> None:
    inst = diamond(S.SUCCESS, S.FAIL, S.RUNNING, S.INIT)
    assert instance_outcome(inst) == instance_outcome(inst, FailureStrategy.BREAK) == S.FAIL


def test_cut_off_follows_the_graph_transitively() -> None:
    inst = instance(
        tasks=(
            task("a", S.FAIL),
            task("b", S.INIT, "a"),
            task("c", S.INIT, "b"),
            task("x", S.SUCCESS),
            task("y", S.INIT, "x"),
            task("z", S.INIT, "c", "y"),
            task("k", S.CANCEL),
            task("m", S.INIT, "k"),
        )
    )
    assert cut_off(inst) == {"b", "c", "z", "m"}


def test_continue_runs_the_independent_branch_then_fails() -> None:
    """a → b → d and a → c: b fails, c still runs, d is skipped once the instance ends FAIL."""
    inst = instance(tasks=(task("a"), task("b", S.INIT, "a"), task("c", S.INIT, "a"), task("d", S.INIT, "b")))
    inst, started = step(inst, slots=1)
    inst = end(inst, "a", AttemptOutcome.SUCCESS)
    inst, started = step(inst, slots=1)
    assert started == ["b"]
    inst = end(inst, "b", AttemptOutcome.FAILED)
    assert instance_outcome(inst, CONTINUE) is None
    inst, started = step(inst, slots=1)
    assert started == ["c"]  # an independent task still starts after the failure
    assert instance_outcome(inst, CONTINUE) is None
    inst = end(inst, "c", AttemptOutcome.SUCCESS)
    assert instance_outcome(inst, CONTINUE) == S.FAIL
    inst = replace(inst, status=S.FAIL)
    assert to_skip(inst) == ["d"]
    inst = moved(inst, "d", S.SKIP)
    assert instance_finished(inst)
    assert [t.status for t in inst.tasks] == [S.SUCCESS, S.FAIL, S.SUCCESS, S.SKIP]


# --- which ready tasks start --------------------------------------------------------------------------


def ready(tid: str, **kw: Any) -> TaskRun:
    return task(tid, S.READY, **kw)


def test_startable_orders_by_priority_then_trigger_time_then_position() -> None:
    old = instance("1-old", trigger_at=T0)
    new = instance("2-new", flow_id=2, trigger_at=T0 + timedelta(hours=1))
    candidates = [
        (new, ready("new-p0-pos0", priority=0, position=0)),
        (old, ready("old-p0-pos2", priority=0, position=2)),
        (new, ready("new-p5-pos3", priority=5, position=3)),
        (old, ready("old-p0-pos1", priority=0, position=1)),
        (old, ready("old-p5-pos9", priority=5, position=9)),
        (new, ready("new-p-1-pos0", priority=-1, position=0)),
    ]
    order = [t.id for _, t in startable(candidates, NOW, slots=10)]
    assert order == [
        "old-p5-pos9",  # highest priority, older instance
        "new-p5-pos3",
        "old-p0-pos1",  # same priority: older instance first, then position
        "old-p0-pos2",
        "new-p0-pos0",
        "new-p-1-pos0",
    ]


def test_startable_compares_trigger_times_as_instants() -> None:
    # 10:00+08:00 is 02:00 UTC, older than 03:00 UTC
    east = instance("1-east", trigger_at=datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=8))))
    utc = instance("2-utc", flow_id=2, trigger_at=datetime(2024, 5, 1, 3, 0, tzinfo=UTC))
    chosen = startable([(utc, ready("u")), (east, ready("e"))], NOW, slots=1)
    assert [t.id for _, t in chosen] == ["e"]


def test_startable_waits_for_the_retry_time() -> None:
    inst = instance()
    candidates = [
        (inst, ready("later", next_attempt_at=NOW + timedelta(seconds=1))),
        (inst, ready("due-now", next_attempt_at=NOW)),
        (inst, ready("due-before", next_attempt_at=NOW - timedelta(minutes=5))),
        (inst, ready("first-attempt")),
    ]
    assert sorted(t.id for _, t in startable(candidates, NOW, slots=10)) == [
        "due-before",
        "due-now",
        "first-attempt",
    ]
    # the same candidates one second later: the retry is due
    assert len(startable(candidates, NOW + timedelta(seconds=1), slots=10)) == 4


@pytest.mark.parametrize(("slots", "count"), [(-5, 0), (-1, 0), (0, 0), (1, 1), (2, 2), (3, 3), (99, 3)])
def test_startable_respects_the_slots(slots: int, count: int) -> None:
    inst = instance()
    candidates = [(inst, ready(f"t{i}", position=i)) for i in range(3)]
    chosen = startable(candidates, NOW, slots)
    assert [t.id for _, t in chosen] == ["t0", "t1", "t2"][:count]


@pytest.mark.parametrize("status", [S.INIT, S.WAIT, S.FAIL, S.CANCEL, S.SUCCESS])
def test_startable_ignores_tasks_of_instances_that_do_not_run(status: Status) -> None:
    running = instance("1-a")
    other = instance("2-b", status, flow_id=2, trigger_at=T0 - timedelta(days=1))
    chosen = startable([(other, ready("x", priority=9)), (running, ready("y"))], NOW, slots=5)
    assert [t.id for _, t in chosen] == ["y"]


@pytest.mark.parametrize("status", [S.INIT, S.RUNNING, S.SUCCESS, S.FAIL, S.SKIP, S.CANCEL])
def test_startable_ignores_tasks_that_are_not_ready(status: Status) -> None:
    inst = instance()
    assert startable([(inst, task("x", status))], NOW, slots=5) == []


def test_startable_accepts_any_iterable_once() -> None:
    inst = instance()
    chosen = startable(((inst, ready(f"t{i}", position=-i)) for i in range(3)), NOW, 2)
    assert [t.id for _, t in chosen] == ["t2", "t1"]


# --- which instances start -----------------------------------------------------------------------------


def pending(
    iid: str,
    status: Status = S.INIT,
    *,
    flow_id: int = 1,
    at: datetime = T0,
    created_at: datetime | None = None,
    waiting_for: tuple[str, ...] = (),
) -> InstanceRun:
    return instance(
        iid, status, flow_id=flow_id, trigger_at=at, created_at=created_at, waiting_for=waiting_for
    )


def test_only_the_oldest_instance_of_a_flow_starts() -> None:
    newer = pending("1-0900", at=T0 + timedelta(hours=1))
    older = pending("1-0800", at=T0)
    assert instances_to_start([newer, older], set(), NOW) == [InstanceStart("1-0800", S.RUNNING)]


def test_the_same_trigger_time_is_broken_by_creation_time_then_id() -> None:
    b = pending("1-b", created_at=T0 + timedelta(seconds=1))
    a = pending("1-a", created_at=T0 + timedelta(seconds=2))
    assert instances_to_start([a, b], set(), NOW) == [InstanceStart("1-b", S.RUNNING)]
    c = pending("1-c")
    d = pending("1-d")
    assert instances_to_start([d, c], set(), NOW) == [InstanceStart("1-c", S.RUNNING)]


def test_an_active_flow_blocks_its_init_instances() -> None:
    queued = [pending("1-0800"), pending("1-0900", at=T0 + timedelta(hours=1))]
    assert instances_to_start(queued, {1}, NOW) == []


def test_a_future_trigger_stays_init_and_does_not_hold_the_slot() -> None:
    future = pending("1-1300", at=NOW + timedelta(hours=1))
    assert instances_to_start([future], set(), NOW) == []
    # due exactly at its trigger time
    assert instances_to_start([future], set(), NOW + timedelta(hours=1)) == [
        InstanceStart("1-1300", S.RUNNING)
    ]
    other_flow_future = pending("2-1300", flow_id=2, at=NOW + timedelta(minutes=1))
    assert instances_to_start([other_flow_future, pending("2-0800", flow_id=2)], set(), NOW) == [
        InstanceStart("2-0800", S.RUNNING)
    ]


def test_unmet_premises_put_the_instance_in_wait_and_it_keeps_the_slot() -> None:
    waiting = pending("1-0800", waiting_for=("flow 7 @ 20240501",))
    later = pending("1-0900", at=T0 + timedelta(hours=1))
    assert instances_to_start([later, waiting], set(), NOW) == [InstanceStart("1-0800", S.WAIT)]
    check_transition("flow", S.INIT, S.WAIT)
    # next pass: still waiting, the flow is active (a WAIT instance counts): nothing moves
    still = replace(waiting, status=S.WAIT)
    assert instances_to_start([later, still], {1}, NOW) == []
    # even if the caller does not count the WAIT instance as active, the later instance does not overtake
    assert instances_to_start([later, still], set(), NOW) == []


def test_a_wait_instance_whose_premises_are_met_starts() -> None:
    met = pending("1-0800", S.WAIT)
    later = pending("1-0900", at=T0 + timedelta(hours=1))
    assert instances_to_start([later, met], {1}, NOW) == [InstanceStart("1-0800", S.RUNNING)]
    check_transition("flow", S.WAIT, S.RUNNING)


def test_different_flows_start_independently() -> None:
    queued = [
        pending("1-0800", flow_id=1),
        pending("1-0900", flow_id=1, at=T0 + timedelta(hours=1)),
        pending("2-0900", flow_id=2, at=T0 + timedelta(hours=1)),
        pending("3-1000", flow_id=3, at=T0 + timedelta(hours=2), waiting_for=("x",)),
        pending("4-0700", flow_id=4, at=T0 - timedelta(hours=1)),  # flow 4 is busy
        pending("5-1300", flow_id=5, at=NOW + timedelta(hours=1)),  # not yet due
    ]
    assert instances_to_start(queued, {4, 9}, NOW) == [
        InstanceStart("1-0800", S.RUNNING),
        InstanceStart("2-0900", S.RUNNING),
        InstanceStart("3-1000", S.WAIT),
    ]


@pytest.mark.parametrize("status", [S.RUNNING, S.SUCCESS, S.FAIL, S.CANCEL])
def test_instances_that_already_started_are_ignored(status: Status) -> None:
    assert instances_to_start([pending("1-0800", status)], set(), NOW) == []


def test_instances_to_start_does_not_mutate_the_active_set() -> None:
    active = {2}
    instances_to_start([pending("1-0800")], active, NOW)
    assert active == {2}
