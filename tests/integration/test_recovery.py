"""recover_attempts against real processes: real results from exit records, orphans killed, races closed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowyard.executor import Outcome
from flowyard.executor.exits import ExitRecord, exit_record_path, write_exit_record
from flowyard.executor.recovery import recover_attempts

pytestmark = pytest.mark.timeout(60)
OWNER = "test-owner"


def record(attempt_id: str, **fields: object) -> ExitRecord:
    values: dict[str, object] = {
        "attempt_id": attempt_id,
        "outcome": Outcome.SUCCESS,
        "exit_code": 0,
        "signal": None,
        "message": "exit code 0",
        "pid": 4242,
        "ended_at": datetime(2026, 11, 22, 8, 0, 3, tzinfo=UTC),
    }
    values.update(fields)
    return ExitRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def attempt_ids() -> Iterator[list[str]]:
    """Fresh attempt ids (tests running side by side must not see each other's processes)."""
    ids = [f"{uuid.uuid4().hex}#1" for _ in range(4)]
    yield ids


def orphan(attempt_id: str, owner: str = OWNER) -> subprocess.Popen[bytes]:
    env = dict(os.environ, FLOWYARD_ATTEMPT_ID=attempt_id, FLOWYARD_OWNER=owner)
    return subprocess.Popen(["sleep", "30"], start_new_session=True, env=env)


def test_each_attempt_gets_its_record_or_counts_as_interrupted(
    tmp_path: Path, attempt_ids: list[str]
) -> None:
    ended, running, vanished, unknown = attempt_ids
    paths = {
        attempt_id: exit_record_path(tmp_path / f"t{n}.log", 1) for n, attempt_id in enumerate(attempt_ids)
    }
    write_exit_record(paths[ended], record(ended, outcome=Outcome.FAILED, exit_code=3, message="exit code 3"))
    write_exit_record(paths[unknown], record("someone-else#1"))  # a record of another attempt is not ours
    live = orphan(running)
    try:
        endings = recover_attempts(paths, OWNER)
        assert live.wait(10) == -signal.SIGKILL
    finally:
        live.kill()
        live.wait()
    assert endings[ended] == record(ended, outcome=Outcome.FAILED, exit_code=3, message="exit code 3")
    assert endings[running] is None and endings[vanished] is None and endings[unknown] is None


def test_a_record_left_by_recoverys_own_kill_is_not_a_result(tmp_path: Path, attempt_ids: list[str]) -> None:
    killed, died_of_sigkill_alone = attempt_ids[:2]
    paths = {
        a: exit_record_path(tmp_path / f"{n}.log", 1) for n, a in enumerate((killed, died_of_sigkill_alone))
    }
    sigkill = {
        "outcome": Outcome.FAILED,
        "exit_code": 137,
        "signal": 9,
        "message": "killed by signal SIGKILL",
    }
    # As if its launcher recorded the kill before recovery read the record: the attempt was interrupted.
    write_exit_record(paths[killed], record(killed, **sigkill))
    write_exit_record(paths[died_of_sigkill_alone], record(died_of_sigkill_alone, **sigkill))
    live = orphan(killed)
    try:
        endings = recover_attempts(paths, OWNER)
    finally:
        live.kill()
        live.wait()
    assert endings[killed] is None
    assert endings[died_of_sigkill_alone] == record(died_of_sigkill_alone, **sigkill)  # the OOM killer, say


def test_another_owners_processes_are_left_alone(tmp_path: Path, attempt_ids: list[str]) -> None:
    theirs = orphan(attempt_ids[0], owner="another-flowyard")
    try:
        assert recover_attempts({attempt_ids[0]: None}, OWNER) == {attempt_ids[0]: None}
        assert theirs.poll() is None
    finally:
        theirs.kill()
        theirs.wait()


# A launcher slow to reap: its child has exited (a zombie: no environ, no record yet) when recovery
# scans, and the record comes 0.5 s later. Its command line names the launcher module, as the real one's does.
SLOW_LAUNCHER = textwrap.dedent(
    """
    # flowyard.executor.launcher (a stand-in)
    import os, subprocess, sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from flowyard.executor import Outcome
    from flowyard.executor.exits import ExitRecord, write_exit_record
    attempt_id, path = sys.argv[1], Path(sys.argv[2])
    env = dict(os.environ, FLOWYARD_ATTEMPT_ID=attempt_id, FLOWYARD_OWNER=sys.argv[3])
    child = subprocess.Popen(["true"], env=env, start_new_session=True)
    print(child.pid, flush=True)
    sys.stdin.readline()  # recovery has scanned
    time.sleep(0.5)
    os.waitpid(child.pid, 0)
    child.returncode = 0
    write_exit_record(path, ExitRecord(attempt_id, Outcome.SUCCESS, 0, None, "exit code 0", child.pid,
                                       datetime.now(UTC)))
    """
)


def test_recovery_waits_for_a_launcher_to_reap_what_just_exited(
    tmp_path: Path, attempt_ids: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowyard.executor import recovery

    path = exit_record_path(tmp_path / "t.log", 1)
    slow = subprocess.Popen(
        [sys.executable, "-c", SLOW_LAUNCHER, attempt_ids[0], str(path), OWNER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert slow.stdin is not None and slow.stdout is not None
    child = int(slow.stdout.readline())
    while Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        pass  # `true` exits in about a millisecond
    real_scan = recovery._scan

    def scan_then_release(*args: object) -> recovery._Scan:
        found = real_scan(*args)  # type: ignore[arg-type]
        assert child in found.zombies
        slow.stdin.write("go\n")  # type: ignore[union-attr]
        slow.stdin.flush()  # type: ignore[union-attr]
        return found

    monkeypatch.setattr(recovery, "_scan", scan_then_release)
    try:
        endings = recover_attempts({attempt_ids[0]: path}, OWNER, settle_seconds=15.0)  # a loaded CI machine
    finally:
        slow.kill()
        slow.wait()
    ending = endings[attempt_ids[0]]
    assert ending is not None and ending.outcome is Outcome.SUCCESS and ending.pid == child
