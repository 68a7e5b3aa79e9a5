"""Worker mode: the launcher kills an executor's task groups at once when the executor dies.

It took over from the guard process: each task runs in its own session, so it
outlives a worker killed with -9, and its attempt is retried elsewhere once the
worker is declared lost; the orphan would then run beside its retry. Recovery
at a restart kills the orphans it finds by attempt id and owner.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

from flowyard.executor import Outcome
from flowyard.executor.launcher import Orphans
from flowyard.executor.recovery import kill_orphans
from tests.integration.test_launcher import alive, lines, no_strays, records, start_owner, wait_for

__all__ = ["no_strays"]  # the fixture, used here too


def test_tasks_of_a_killed_worker_executor_are_killed_at_once(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    commands = [f"sleep 100 & echo $! >> {pids}; echo $$ >> {pids}; wait" for _ in range(3)]
    owner, launcher_pid = start_owner(tmp_path, Orphans.KILL, commands)
    try:
        wait_for("the tasks to start", lambda: len(lines(pids)) == 6)
        task_pids = [int(pid) for pid in lines(pids)]
        assert all(alive(pid) for pid in task_pids)
        owner.kill()
        owner.wait(10)
        wait_for("every task process to be killed", lambda: not any(alive(pid) for pid in task_pids), 5)
    finally:
        owner.kill()
        owner.wait()
    found = wait_for("every exit record", lambda: all(r := records(tmp_path, 3)) and r)
    assert {(r.outcome, r.message) for r in found} == {
        (Outcome.LOST, "lost: its executor exited while it ran")
    }
    wait_for("the launcher to exit", lambda: not alive(launcher_pid))


def test_only_the_dead_executors_tasks_are_killed(tmp_path: Path) -> None:
    survivor = tmp_path / "other"
    other, _ = start_owner(survivor, Orphans.KILL, [f"echo $$ >> {survivor}/pid; sleep 100"])
    doomed, _ = start_owner(
        tmp_path / "doomed", Orphans.KILL, [f"echo $$ >> {tmp_path}/doomed-pid; sleep 100"]
    )
    try:
        survivor_pid = int(wait_for("the survivor", lambda: lines(survivor / "pid"))[0])
        doomed_pid = int(wait_for("the doomed task", lambda: lines(tmp_path / "doomed-pid"))[0])
        doomed.kill()
        wait_for("the doomed task to be killed", lambda: not alive(doomed_pid), 5)
        assert alive(survivor_pid)
    finally:
        for owner in (other, doomed):
            owner.kill()
            owner.wait()
    wait_for("the survivor to be killed with its executor", lambda: not alive(survivor_pid), 5)


def test_recovery_kills_only_the_orphans_of_its_own_owner() -> None:
    attempt = f"{uuid.uuid4().hex}#1"

    def orphan(owner: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, FLOWYARD_ATTEMPT_ID=attempt, FLOWYARD_OWNER=owner)
        return subprocess.Popen(["sleep", "30"], start_new_session=True, env=env)

    mine, theirs = orphan("me"), orphan("another-flowyard")
    try:
        assert kill_orphans([attempt, "other#1"], "me") == {attempt}
        assert mine.wait(10) == -signal.SIGKILL
        assert theirs.poll() is None  # same attempt id, another installation: left alone
    finally:
        for p in (mine, theirs):
            p.kill()
            p.wait()
