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
