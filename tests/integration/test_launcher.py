"""The launcher against real processes: exit records, and what happens to tasks when their executor dies.

An executor killed with -9 is a child Python process owning a LocalExecutor
(its script is below); nothing sleeps to wait: tests poll files with short
timeouts.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import flowyard.executor.process as process_module
from flowyard.clock import FakeClock
from flowyard.executor import AttemptSpec, LocalExecutor, Outcome, TaskKind
from flowyard.executor.exits import ExitRecord, exit_record_path, read_exit_record
from flowyard.executor.launcher import Decoder, Launcher, Orphans, encode

pytestmark = pytest.mark.timeout(60)

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
GRACE = 1.0


def wait_for(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return value


def attempt(root: Path, name: str, command: str, **fields: Any) -> AttemptSpec:
    fields.setdefault("kind", TaskKind.SHELL)
    fields.setdefault("env", {})
    fields.setdefault("workdir", root / "work" / name)
    return AttemptSpec(
        attempt_id=f"{name}#1",
        task_instance_id=name,
        run_num=1,
        command=command,
        log_path=root / "logs" / f"{name}.log",
        log_header=f"== {name}\n",
        **fields,
    )


def record_of(spec: AttemptSpec) -> ExitRecord | None:
    return read_exit_record(exit_record_path(spec.log_path, spec.run_num), spec.attempt_id)


@pytest.fixture(autouse=True)
def no_strays(tmp_path: Path) -> Iterator[None]:
    """Whatever a failed test left running under its tmp_path is killed."""
    yield
    for pid in task_processes(tmp_path):
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


def task_processes(root: Path) -> list[int]:
    """Leaders (pid = pgid) of task groups whose cwd is under ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                pid = int(entry.name)
                if str((entry / "cwd").resolve()).startswith(str(root)) and os.getpgid(pid) == pid:
                    found.append(pid)
    return found


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    with LocalExecutor(FakeClock(START), total_cpu=8.0, kill_grace_seconds=GRACE) as executor:
        yield executor


def run_all(executor: LocalExecutor, specs: list[AttemptSpec]) -> dict[str, Any]:
    for spec in specs:
        executor.submit(spec)
    results: dict[str, Any] = {}
    deadline = time.monotonic() + 30
    while len(results) < len(specs) and time.monotonic() < deadline:
        results.update((r.attempt_id, r) for r in executor.results(timeout=1.0))
    assert len(results) == len(specs)
    return results


# -- exit records ------------------------------------------------------------------------------------


def test_every_ending_leaves_an_exit_record_beside_the_log(executor: LocalExecutor, tmp_path: Path) -> None:
    specs = [
        attempt(tmp_path, "ok", "echo fine"),
        attempt(tmp_path, "bad", "exit 3"),
        attempt(tmp_path, "signal", "kill -TERM $$"),
        attempt(tmp_path, "slow", "sleep 100", timeout_seconds=1),
        attempt(tmp_path, "noop", "ignored", kind=TaskKind.NOOP),
    ]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    specs.append(attempt(tmp_path, "unstartable", "true", workdir=blocker / "work"))
    before = datetime.now(UTC)
    results = run_all(executor, specs)
    records = {spec.attempt_id: record_of(spec) for spec in specs}
    expected = {
        "ok#1": (Outcome.SUCCESS, 0, None, "exit code 0"),
        "bad#1": (Outcome.FAILED, 3, None, "exit code 3 not in success codes [0]"),
        "signal#1": (Outcome.FAILED, 143, signal.SIGTERM, "killed by signal SIGTERM"),
        "slow#1": (Outcome.TIMEOUT, 143, signal.SIGTERM, "killed after timeout of 1 s"),
        "noop#1": (Outcome.SUCCESS, None, None, "noop: nothing to run"),
    }
    for attempt_id, (outcome, exit_code, number, message) in expected.items():
        record = records[attempt_id]
        assert record is not None, attempt_id
        assert (record.outcome, record.exit_code, record.signal, record.message) == (
            outcome,
            exit_code,
            number,
            message,
        )
        result = results[attempt_id]
        assert (result.outcome, result.exit_code, result.message) == (outcome, exit_code, message)
        assert record.pid == result.pid
        assert before <= record.ended_at <= datetime.now(UTC)
    unstartable = records["unstartable#1"]
    assert unstartable is not None and unstartable.outcome is Outcome.FAILED
    assert unstartable.message == results["unstartable#1"].message
    assert unstartable.message.startswith("could not start: ")
    assert specs[0].log_path.with_name("ok.log.1.exit").is_file()  # <log>.<run num>.exit
    assert not list(tmp_path.glob("logs/.*.tmp"))


def test_a_stale_record_is_removed_when_the_attempt_starts(executor: LocalExecutor, tmp_path: Path) -> None:
    fifo = tmp_path / "ready"
    os.mkfifo(fifo)
    spec = attempt(tmp_path, "again", f"echo ready > {fifo}; sleep 100")
    path = exit_record_path(spec.log_path, 1)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"attempt_id": spec.attempt_id, "outcome": "success"}))
    executor.submit(spec)
    with fifo.open() as pipe:
        pipe.read()
    assert not path.exists()
    executor.cancel(spec.attempt_id)
    assert executor.results(timeout=10)[0].outcome is Outcome.CANCELLED
    record = record_of(spec)
    assert record is not None and record.outcome is Outcome.CANCELLED


def test_an_exit_status_reaped_elsewhere_is_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def reap_then_lose(pid: int) -> None:
        os.waitpid(pid, 0)  # what a stray waitpid(-1) elsewhere would do

    monkeypatch.setattr(process_module, "peek_status", reap_then_lose)
    ours, theirs = socket.socketpair()
    launcher = Launcher(theirs, Orphans.KILL, GRACE)  # in this process, so the patch applies
    thread = threading.Thread(target=launcher.run, daemon=True)
    thread.start()
    spec = attempt(tmp_path, "reaped", "true")
    record = exit_record_path(spec.log_path, 1)
    request = {
        "op": "spawn",
        "id": spec.attempt_id,
        "argv": ["true"],
        "env": {"PATH": os.environ["PATH"]},
        "cwd": str(spec.workdir),
        "log": str(spec.log_path),
        "header": "",
        "file": None,
        "codes": [0],
        "record": str(record),
        "timeout": 0,
        "memory_mb": 0,
    }
    ours.sendall(encode(request) + encode({"op": "close"}))
    decoder = Decoder()
    messages: list[dict[str, Any]] = []
    while not messages:
        messages += decoder.feed(ours.recv(4096))
    thread.join(10)
    ours.close()
    assert messages[0]["outcome"] == "lost" and messages[0]["exit_code"] is None
    saved = read_exit_record(record, spec.attempt_id)
    assert saved is not None and saved.outcome is Outcome.LOST


# -- the executor dies ---------------------------------------------------------------------------------

OWNER_SCRIPT = """
import sys, time
from pathlib import Path
from flowyard.clock import SystemClock
from flowyard.executor import AttemptSpec, LocalExecutor, TaskKind
from flowyard.executor.launcher import Orphans

root, orphans, commands = Path(sys.argv[1]), Orphans(sys.argv[2]), sys.argv[3:]
executor = LocalExecutor(SystemClock(), total_cpu=16.0, kill_grace_seconds=1.0, orphans=orphans)
for number, command in enumerate(commands):
    name = f"task{number}"
    executor.submit(AttemptSpec(
        attempt_id=f"{name}#1", task_instance_id=name, run_num=1, kind=TaskKind.SHELL, command=command,
        env={}, workdir=root / "work" / name, log_path=root / "logs" / f"{name}.log", log_header="",
        timeout_seconds=int(command.endswith("sleep 100")),
    ))
print(executor._launcher.process.pid, flush=True)
time.sleep(600)
"""


def start_owner(tmp_path: Path, orphans: Orphans, commands: list[str]) -> tuple[subprocess.Popen[str], int]:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(tmp_path), orphans.value, *commands],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    return owner, int(owner.stdout.readline())


def lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone (ENOENT, or ESRCH while it is being torn down)
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def records(tmp_path: Path, count: int) -> list[ExitRecord | None]:
    return [read_exit_record(tmp_path / "logs" / f"task{n}.log.1.exit", f"task{n}#1") for n in range(count)]


def test_tasks_of_a_killed_embedded_executor_run_to_their_end_and_leave_records(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    commands = [
        f"echo started >> {marks}; sleep 1; echo done >> {marks}",
        f"echo started >> {marks}; sleep 1; exit 4",
        f"echo started >> {marks}; sleep 100",  # its 1 s timeout still holds without the executor
    ]
    owner, launcher_pid = start_owner(tmp_path, Orphans.FINISH, commands)
    try:
        wait_for("the tasks to start", lambda: lines(marks).count("started") == 3)
        owner.kill()
        owner.wait(10)
        found = wait_for("every exit record", lambda: all(r := records(tmp_path, 3)) and r, timeout=20)
    finally:
        owner.kill()
        owner.wait()
    assert lines(marks).count("done") == 1
    assert [(r.outcome, r.exit_code) for r in found] == [
        (Outcome.SUCCESS, 0),
        (Outcome.FAILED, 4),
        (Outcome.TIMEOUT, 143),
    ]
    wait_for("the launcher to exit once its tasks ended", lambda: not alive(launcher_pid))


def test_a_clean_shutdown_stops_the_launcher(tmp_path: Path) -> None:
    executor = LocalExecutor(FakeClock(START), total_cpu=1.0, orphans=Orphans.KILL)
    executor.submit(attempt(tmp_path, "one", "true"))
    assert executor._launcher is not None
    process = executor._launcher.process
    assert executor.results(timeout=10)[0].outcome is Outcome.SUCCESS
    executor.shutdown()
    assert process.poll() == 0
