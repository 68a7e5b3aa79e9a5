"""The guard process kills the task groups it was told about when its executor goes away."""

from __future__ import annotations

import signal
import subprocess

from flowyard.executor.guard import Guard


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "30"], start_new_session=True)


def test_end_of_input_kills_the_listed_groups_only() -> None:
    guard = Guard()
    listed, reaped, unlisted = sleeper(), sleeper(), sleeper()
    try:
        guard.add(listed.pid)
        guard.add(reaped.pid)
        guard.remove(reaped.pid)
        proc = guard._proc  # what the death of the executor looks like to the guard: its stdin closes
        assert proc is not None and proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(10) == 0
        assert listed.wait(10) == -signal.SIGKILL
        assert reaped.poll() is None and unlisted.poll() is None
    finally:
        for p in (listed, reaped, unlisted):
            p.kill()
            p.wait()


def test_a_clean_close_kills_nothing() -> None:
    guard = Guard()
    task = sleeper()
    try:
        guard.add(task.pid)
        guard.close()
        guard.add(task.pid)  # after close: ignored, no error
        assert task.poll() is None
    finally:
        task.kill()
        task.wait()


def test_recovery_kills_only_the_orphans_of_its_own_owner() -> None:
    import os
    import uuid

    from flowyard.executor.recovery import kill_orphans

    attempt = f"{uuid.uuid4().hex}#1"

    def orphan(owner: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ, FLOWYARD_ATTEMPT_ID=attempt, FLOWYARD_OWNER=owner)
        return subprocess.Popen(["sleep", "30"], start_new_session=True, env=env)

    mine, theirs = orphan("me"), orphan("another-flowyard")
    try:
        assert kill_orphans([attempt], "me") == 1
        assert mine.wait(10) == -signal.SIGKILL
        assert theirs.poll() is None  # same attempt id, another installation: left alone
    finally:
        for p in (mine, theirs):
            p.kill()
            p.wait()
