"""LocalExecutor against real processes: outcomes, logs, environment, limits, cancel, capacity.

Nothing here sleeps to wait for a result: tests block on ``results(timeout=...)``
(or on a FIFO the command writes to once it is ready). Timeouts use 1 s and a
1 s kill grace, so the slowest test takes about 2 s.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import flowyard.executor.launcher as launcher_module
import flowyard.executor.process as process_module
from flowyard.clock import FakeClock, SystemClock
from flowyard.executor import (
    AttemptResult,
    AttemptSpec,
    Executor,
    ExecutorClosedError,
    ExecutorError,
    ExecutorFullError,
    LocalExecutor,
    Outcome,
    TaskKind,
)

pytestmark = pytest.mark.timeout(60)

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
GRACE = 1.0
SLACK = 4.0  # scheduling noise allowed on a loaded CI machine
PY = shlex.quote(sys.executable)


def header(run_num: int, instance: str, cmdline: str) -> str:
    """A log header in the layout of the EnOS sample (spec 3.12)."""
    rule = "=" * 40
    return (
        f"{rule}\nrun  num:\t{run_num}\ninstance:\t{instance}\ncmdline:\t{cmdline}\n"
        f"submitter:\ttester\ncurrent time:\tSun Nov 22 08:00:00 2026 UTC (UTC+00:00)\n{rule}\n"
    )


class Specs:
    """Builds AttemptSpecs whose workdirs and logs live under one tmp_path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(
        self,
        command: str,
        attempt_id: str = "a1",
        kind: TaskKind = TaskKind.SHELL,
        run_num: int = 1,
        task_instance_id: str = "104890-20261122080000",
        **fields: Any,
    ) -> AttemptSpec:
        fields.setdefault("env", {})
        fields.setdefault("workdir", self.root / "work" / attempt_id)
        fields.setdefault("log_path", self.root / "logs" / f"{task_instance_id}.log")
        fields.setdefault("log_header", header(run_num, task_instance_id, command))
        return AttemptSpec(
            attempt_id=attempt_id,
            task_instance_id=task_instance_id,
            run_num=run_num,
            kind=kind,
            command=command,
            **fields,
        )


@pytest.fixture
def spec(tmp_path: Path) -> Specs:
    return Specs(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def make_executor(clock: FakeClock) -> Iterator[Callable[..., LocalExecutor]]:
    made: list[LocalExecutor] = []

    def make(**options: Any) -> LocalExecutor:
        options.setdefault("total_cpu", 4.0)
        options.setdefault("kill_grace_seconds", GRACE)
        executor = LocalExecutor(clock, **options)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        executor.shutdown(kill=True)


@pytest.fixture
def executor(make_executor: Callable[..., LocalExecutor]) -> LocalExecutor:
    return make_executor()


def collect(executor: Executor, count: int, timeout: float = 30.0) -> list[AttemptResult]:
    """Exactly ``count`` results, blocking on results() until they are in."""
    got: list[AttemptResult] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and (left := deadline - time.monotonic()) > 0:
        got += executor.results(timeout=left)
    assert len(got) == count, f"expected {count} results, got {got}"
    return got


def one(executor: Executor) -> AttemptResult:
    return collect(executor, 1)[0]


def alive_in_group(pid: int, pgid: int) -> bool:
    """True while ``pid`` exists, is not a zombie, and is still in group ``pgid`` (not a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0] not in ("Z", "X") and int(fields[2]) == pgid


def recorded_pids(workdir: Path) -> list[int]:
    return [int(line) for line in (workdir / "pids.txt").read_text().split()]


def wait_ready(fifo: Path) -> None:
    """Block until the command has written to (and closed) the FIFO: it is then fully started."""
    with fifo.open() as pipe:
        pipe.read()


# -- outcomes --------------------------------------------------------------------------------------


def test_success_reports_exit_code_pid_and_clock_times(executor: LocalExecutor, spec: Specs) -> None:
    executor.submit(spec("echo hello"))
    result = one(executor)
    assert (result.outcome, result.exit_code, result.message) == (Outcome.SUCCESS, 0, "exit code 0")
    assert (result.attempt_id, result.task_instance_id, result.run_num) == ("a1", "104890-20261122080000", 1)
    assert result.pid is not None and result.pid > 0
    assert result.started_at == result.ended_at == START
    assert executor.running() == []


def test_non_zero_exit_fails_with_the_reason(executor: LocalExecutor, spec: Specs) -> None:
    executor.submit(spec("exit 3"))
    result = one(executor)
    assert (result.outcome, result.exit_code) == (Outcome.FAILED, 3)
    assert result.message == "exit code 3 not in success codes [0]"


def test_extra_success_codes_make_exit_3_a_success(executor: LocalExecutor, spec: Specs) -> None:
    executor.submit(spec("exit 3", success_codes=frozenset({0, 3})))
    result = one(executor)
    assert (result.outcome, result.exit_code, result.message) == (Outcome.SUCCESS, 3, "exit code 3")


def test_death_by_signal_is_a_failure_with_128_plus_n(executor: LocalExecutor, spec: Specs) -> None:
    executor.submit(spec("kill -KILL $$", success_codes=frozenset({0, 137})))
    result = one(executor)
    assert (result.outcome, result.exit_code, result.message) == (
        Outcome.FAILED,
        137,
        "killed by signal SIGKILL",
    )


def test_an_attempt_that_cannot_start_fails_without_a_pid(executor: LocalExecutor, spec: Specs) -> None:
    blocker = spec.root / "not-a-dir"
    blocker.write_text("")
    attempt = spec("true", workdir=blocker / "work")
    executor.submit(attempt)
    result = one(executor)
    assert (result.outcome, result.pid, result.exit_code) == (Outcome.FAILED, None, None)
    assert result.message.startswith("could not start: ")
    reason = result.message.removeprefix("could not start: ")
    assert (
        attempt.log_path.read_text() == f"{attempt.log_header}Flowyard could not start this task: {reason}\n"
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"command": "echo a\0b"}, "the command holds a NUL byte"),
        ({"env": {"GREETING": "hel\0lo"}}, "environment variable GREETING holds a NUL byte"),
        ({"env": {"A=B": "x"}}, "invalid environment variable name 'A=B'"),
        ({"kind": TaskKind.PYTHON, "env": {"X": "\0"}}, "environment variable X holds a NUL byte"),
    ],
)
def test_what_exec_refuses_fails_that_attempt_alone(
    executor: LocalExecutor, spec: Specs, fields: dict[str, Any], reason: str
) -> None:
    before = spec("echo before", attempt_id="before", task_instance_id="ti-before")
    fields = {"command": "echo hi", **fields}
    bad = spec(fields.pop("command"), attempt_id="bad", task_instance_id="ti-bad", **fields)
    after = spec("echo after", attempt_id="after", task_instance_id="ti-after")
    for attempt in (before, bad, after):
        executor.submit(attempt)
    results = {r.attempt_id: r for r in collect(executor, 3)}
    assert (results["bad"].outcome, results["bad"].pid) == (Outcome.FAILED, None)
    assert results["bad"].message == f"could not start: {reason}"
    assert bad.log_path.read_text() == f"{bad.log_header}Flowyard could not start this task: {reason}\n"
    assert results["before"].outcome is results["after"].outcome is Outcome.SUCCESS
    assert after.log_path.read_text() == after.log_header + "after\n"


def test_any_error_while_launching_fails_that_attempt_alone(
    executor: LocalExecutor, spec: Specs, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = process_module.attempt_environment

    def broken(base: dict[str, str], attempt: AttemptSpec) -> dict[str, str]:
        if attempt.attempt_id == "bad":
            raise RuntimeError("no environment today")
        return real(base, attempt)

    monkeypatch.setattr(process_module, "attempt_environment", broken)
    bad = spec("true", attempt_id="bad", task_instance_id="ti-bad")
    executor.submit(bad)
    executor.submit(spec("true", attempt_id="good", task_instance_id="ti-good"))
    results = {r.attempt_id: r for r in collect(executor, 2)}
    assert results["bad"].message == "could not start: no environment today"
    assert "Flowyard could not start this task: no environment today\n" in bad.log_path.read_text()
    assert results["good"].outcome is Outcome.SUCCESS


# -- log, environment, workdir ---------------------------------------------------------------------


def test_header_then_stdout_and_stderr_in_order_and_attempts_append(
    executor: LocalExecutor, spec: Specs
) -> None:
    command = "echo out1; echo err1 >&2; echo out2"
    first = spec(command, attempt_id="a1", run_num=1)
    executor.submit(first)
    assert one(executor).outcome is Outcome.SUCCESS
    second = spec(command, attempt_id="a2", run_num=2)
    executor.submit(second)
    assert one(executor).outcome is Outcome.SUCCESS
    assert first.log_path == second.log_path
    output = "out1\nerr1\nout2\n"
    assert first.log_path.read_text() == first.log_header + output + second.log_header + output


def test_env_is_minimal_plus_the_attempt_variables(
    make_executor: Callable[..., LocalExecutor], spec: Specs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYARD_TEST_SERVER_SECRET", "must not leak")
    executor = make_executor()
    command = 'printf "%s|%s|%s\\n" "$GREETING" "${FLOWYARD_TEST_SERVER_SECRET-unset}" "$PATH"'
    attempt = spec(command, env={"GREETING": "hello world"}, log_header="")
    executor.submit(attempt)
    assert one(executor).outcome is Outcome.SUCCESS
    assert attempt.log_path.read_text() == f"hello world|unset|{os.environ['PATH']}\n"


def test_workdir_is_created_with_parents_and_is_the_cwd(executor: LocalExecutor, spec: Specs) -> None:
    workdir = spec.root / "deep" / "er" / "attempt"
    attempt = spec("pwd; ls -A | wc -l", workdir=workdir, log_header="")
    executor.submit(attempt)
    assert one(executor).outcome is Outcome.SUCCESS
    assert attempt.log_path.read_text().split() == [str(workdir.resolve()), "0"]
    assert workdir.is_dir()


# -- python and noop -------------------------------------------------------------------------------


def test_python_runs_with_this_interpreter_and_logs_a_traceback(executor: LocalExecutor, spec: Specs) -> None:
    code = "import sys\nprint(sys.executable)\nraise ValueError('boom')\n"
    attempt = spec(code, kind=TaskKind.PYTHON)
    executor.submit(attempt)
    result = one(executor)
    assert (result.outcome, result.exit_code) == (Outcome.FAILED, 1)
    log = attempt.log_path.read_text()
    assert log.startswith(attempt.log_header + sys.executable + "\nTraceback (most recent call last):\n")
    assert 'task.py", line 3, in <module>' in log
    assert log.endswith("ValueError: boom\n")
    assert (attempt.workdir / "task.py").read_text() == code


def test_noop_succeeds_without_spawning(executor: LocalExecutor, spec: Specs) -> None:
    attempt = spec("ignored", kind=TaskKind.NOOP, cpu=100.0)
    executor.submit(attempt)
    result = one(executor)
    assert (result.outcome, result.pid, result.exit_code) == (Outcome.SUCCESS, None, None)
    assert result.message == "noop: nothing to run"
    assert attempt.log_path.read_text() == attempt.log_header
    assert executor.free_cpu() == 4.0
    assert executor.cancel(attempt.attempt_id) is False


# -- timeout, memory, cancel -----------------------------------------------------------------------


def test_timeout_kills_the_whole_tree_including_grandchildren(executor: LocalExecutor, spec: Specs) -> None:
    # A background sleep, a nested bash whose own child ignores SIGTERM, and a foreground sleep.
    command = (
        "sleep 100 & echo $! >> pids.txt; "
        "bash -c 'trap \"\" TERM; sleep 100 & echo $! >> pids.txt; wait' & echo $! >> pids.txt; "
        "sleep 100"
    )
    attempt = spec(command, timeout_seconds=1)
    started = time.monotonic()
    executor.submit(attempt)
    result = one(executor)
    elapsed = time.monotonic() - started
    assert (result.outcome, result.message) == (Outcome.TIMEOUT, "killed after timeout of 1 s")
    assert 1.0 <= elapsed < 1 + GRACE + SLACK
    assert result.pid is not None
    pids = [result.pid, *recorded_pids(attempt.workdir)]
    assert len(pids) == 4
    assert [pid for pid in pids if alive_in_group(pid, result.pid)] == []


def test_timeout_escalates_to_sigkill_after_the_grace(executor: LocalExecutor, spec: Specs) -> None:
    attempt = spec("trap '' TERM; sleep 100 & echo $! >> pids.txt; sleep 100", timeout_seconds=1)
    started = time.monotonic()
    executor.submit(attempt)
    result = one(executor)
    elapsed = time.monotonic() - started
    assert (result.outcome, result.exit_code) == (Outcome.TIMEOUT, 137)
    assert 1 + GRACE <= elapsed < 1 + GRACE + SLACK
    assert result.pid is not None
    assert not alive_in_group(recorded_pids(attempt.workdir)[0], result.pid)


def test_memory_limit_kills_a_process_over_it(executor: LocalExecutor, spec: Specs) -> None:
    code = "x = bytearray(300 * 1024 * 1024); import time; time.sleep(5)"
    executor.submit(spec(code, kind=TaskKind.PYTHON, memory_limit_mb=100))
    result = one(executor)
    assert (result.outcome, result.exit_code) == (Outcome.FAILED, 137)
    assert result.message.startswith("memory limit 100 MB exceeded (")


def test_memory_limit_applies_to_the_sum_of_the_tree(executor: LocalExecutor, spec: Specs) -> None:
    # Each child stays under 100 MB; together they do not.
    child = f"{PY} -c 'x = bytearray(60 * 1024 * 1024); import time; time.sleep(30)'"
    executor.submit(spec(f"{child} & {child} & wait", memory_limit_mb=100))
    result = one(executor)
    assert result.outcome is Outcome.FAILED
    assert result.message.startswith("memory limit 100 MB exceeded (")


def test_a_process_under_its_memory_limit_succeeds(executor: LocalExecutor, spec: Specs) -> None:
    code = "x = bytearray(10 * 1024 * 1024); import time; time.sleep(0.3)"
    executor.submit(spec(code, kind=TaskKind.PYTHON, memory_limit_mb=100))
    assert one(executor).outcome is Outcome.SUCCESS


def test_cancel_kills_the_tree_and_reports_cancelled(
    executor: LocalExecutor, spec: Specs, clock: FakeClock
) -> None:
    fifo = spec.root / "ready"
    os.mkfifo(fifo)
    attempt = spec(f"sleep 100 & echo $! >> pids.txt; echo ready > {fifo}; wait")
    executor.submit(attempt)
    wait_ready(fifo)
    clock.advance(timedelta(seconds=5))
    assert executor.running() == ["a1"]
    assert executor.cancel("a1") is True
    result = one(executor)
    assert (result.outcome, result.message) == (Outcome.CANCELLED, "cancelled")
    assert (result.started_at, result.ended_at) == (START, START + timedelta(seconds=5))
    assert result.pid is not None
    assert not alive_in_group(recorded_pids(attempt.workdir)[0], result.pid)
    assert executor.cancel("a1") is False
    assert executor.cancel("never-submitted") is False


def test_cancel_right_after_submit_still_reports_cancelled(executor: LocalExecutor, spec: Specs) -> None:
    executor.submit(spec("sleep 100"))
    assert executor.cancel("a1") is True
    assert one(executor).outcome is Outcome.CANCELLED


def test_processes_left_behind_are_killed_when_the_attempt_ends(executor: LocalExecutor, spec: Specs) -> None:
    attempt = spec("sleep 100 & echo $! >> pids.txt")
    executor.submit(attempt)
    result = one(executor)
    assert result.outcome is Outcome.SUCCESS
    assert result.pid is not None
    assert not alive_in_group(recorded_pids(attempt.workdir)[0], result.pid)


# -- capacity, concurrency, delivery, shutdown -----------------------------------------------------


def test_200_concurrent_attempts_all_succeed(executor: LocalExecutor, spec: Specs) -> None:
    for number in range(200):
        executor.submit(spec("true", attempt_id=f"t{number}", task_instance_id=f"ti{number}", cpu=0.01))
    results = collect(executor, 200)
    assert {r.outcome for r in results} == {Outcome.SUCCESS}
    assert len({r.attempt_id for r in results}) == 200
    assert executor.running() == []
    assert executor.free_cpu() == 4.0


def test_admission_refuses_beyond_capacity(make_executor: Callable[..., LocalExecutor], spec: Specs) -> None:
    executor = make_executor(total_cpu=1.0)
    executor.submit(spec("sleep 100", attempt_id="big", cpu=0.6))
    assert executor.free_cpu() == pytest.approx(0.4)
    with pytest.raises(ExecutorFullError):
        executor.submit(spec("sleep 100", attempt_id="too-big", cpu=0.5))
    executor.submit(spec("sleep 100", attempt_id="fits", cpu=0.4))
    with pytest.raises(ExecutorFullError):
        executor.submit(spec("true", attempt_id="no-room", cpu=0.1))
    with pytest.raises(ExecutorError, match="already running"):
        executor.submit(spec("true", attempt_id="big", cpu=0.0))
    assert sorted(executor.running()) == ["big", "fits"]
    assert {executor.cancel("big"), executor.cancel("fits")} == {True}
    assert {r.outcome for r in collect(executor, 2)} == {Outcome.CANCELLED}
    assert executor.free_cpu() == 1.0


def test_an_attempt_larger_than_the_executor_runs_alone(
    make_executor: Callable[..., LocalExecutor], spec: Specs
) -> None:
    executor = make_executor(total_cpu=1.0)
    executor.submit(spec("sleep 100", attempt_id="huge", cpu=3.0))
    assert executor.free_cpu() == -2.0
    with pytest.raises(ExecutorFullError):
        executor.submit(spec("true", attempt_id="small", cpu=0.1))


def test_on_result_is_called_from_the_reaper_thread(
    make_executor: Callable[..., LocalExecutor], spec: Specs
) -> None:
    seen: list[tuple[AttemptResult, str]] = []
    delivered = threading.Event()

    def on_result(result: AttemptResult) -> None:
        seen.append((result, threading.current_thread().name))
        delivered.set()

    executor = make_executor(on_result=on_result)
    executor.submit(spec("true"))
    result = one(executor)
    assert delivered.wait(10)
    assert seen == [(result, "flowyard-reaper")]


def test_on_result_may_submit_the_next_attempt(
    make_executor: Callable[..., LocalExecutor], spec: Specs
) -> None:
    executors: list[LocalExecutor] = []

    def on_result(result: AttemptResult) -> None:
        if result.attempt_id == "first":
            executors[0].submit(spec("true", attempt_id="second"))

    executors.append(make_executor(on_result=on_result))
    executors[0].submit(spec("true", attempt_id="first"))
    assert [r.attempt_id for r in collect(executors[0], 2)] == ["first", "second"]


def test_shutdown_kills_running_attempts_and_refuses_new_ones(
    make_executor: Callable[..., LocalExecutor], spec: Specs
) -> None:
    executor = make_executor()
    executor.submit(spec("sleep 100"))
    executor.shutdown(kill=True)
    result = one(executor)
    assert (result.outcome, result.message) == (Outcome.CANCELLED, "cancelled: executor shut down")
    with pytest.raises(ExecutorClosedError):
        executor.submit(spec("true", attempt_id="late"))
    executor.shutdown()


def test_shutdown_without_kill_waits_for_running_attempts(
    make_executor: Callable[..., LocalExecutor], spec: Specs
) -> None:
    executor = make_executor()
    executor.submit(spec("sleep 0.2"))
    executor.shutdown(kill=False)
    assert [r.outcome for r in executor.results()] == [Outcome.SUCCESS]


def test_without_pidfds_exits_and_timeouts_are_found_by_polling(
    spec: Specs, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = launcher_module.launcher_command
    monkeypatch.setattr(launcher_module, "launcher_command", lambda *args: [*command(*args), "--poll"])
    with LocalExecutor(SystemClock(), total_cpu=4.0, kill_grace_seconds=GRACE) as executor:
        executor.submit(spec("exit 0", attempt_id="ok"))
        assert executor._launcher is not None
        assert "--poll" in executor._launcher.process.args  # type: ignore[operator]
        executor.submit(spec("exit 3", attempt_id="bad"))
        executor.submit(
            spec("sleep 100 & echo $! >> pids.txt; sleep 100", attempt_id="slow", timeout_seconds=1)
        )
        outcomes = {r.attempt_id: r.outcome for r in collect(executor, 3)}
    assert outcomes == {"ok": Outcome.SUCCESS, "bad": Outcome.FAILED, "slow": Outcome.TIMEOUT}


def test_a_dead_launcher_loses_its_attempts_and_the_next_submit_gets_a_new_one(
    executor: LocalExecutor, spec: Specs
) -> None:
    fifo = spec.root / "ready"
    os.mkfifo(fifo)
    attempt_id = f"{uuid.uuid4().hex}#1"
    env = {"FLOWYARD_ATTEMPT_ID": attempt_id, "FLOWYARD_OWNER": "me"}  # how its processes are found
    command = f"sleep 100 & echo $! >> pids.txt; echo $$ >> pids.txt; echo ready > {fifo}; wait"
    attempt = spec(command, attempt_id=attempt_id, env=env)
    executor.submit(attempt)
    wait_ready(fifo)
    assert executor._launcher is not None
    first = executor._launcher.process
    first.kill()
    result = one(executor)
    assert (result.outcome, result.message) == (Outcome.LOST, "lost: the task launcher exited while it ran")
    background, leader = recorded_pids(attempt.workdir)
    deadline = time.monotonic() + 5  # SIGKILL was sent; dying takes a moment on a loaded machine
    while (
        alive_in_group(background, leader) or alive_in_group(leader, leader)
    ) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive_in_group(background, leader) and not alive_in_group(leader, leader)
    executor.submit(spec("echo again", attempt_id="a2"))
    assert one(executor).outcome is Outcome.SUCCESS
    assert executor._launcher is not None and executor._launcher.process is not first


def test_the_launcher_starts_with_the_first_attempt_and_retires_when_idle(
    spec: Specs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launcher_module, "IDLE_SECONDS", 0.3)
    with LocalExecutor(SystemClock(), total_cpu=4.0, kill_grace_seconds=GRACE) as executor:
        assert executor._launcher is None  # an executor that runs nothing holds no process
        executor.submit(spec("true"))
        assert one(executor).outcome is Outcome.SUCCESS
        first = executor._launcher
        assert first is not None
        assert first.process.wait(10) == 0  # idle for 0.3 s: it offered to go and was let go
        executor.submit(spec("echo again", attempt_id="a2"))
        assert one(executor).outcome is Outcome.SUCCESS
        assert executor._launcher is not first
