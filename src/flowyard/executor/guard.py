"""A guard process that kills an executor's task process groups if the executor dies.

Each task runs in its own session, so it outlives a worker killed with -9, and
its attempt is retried elsewhere once the worker is declared lost: the orphan
would then run beside its retry. The guard prevents that. It is a tiny child
process that reads ``+PGID`` / ``-PGID`` lines on its stdin (the executor
reports each task group it starts and reaps); when stdin reaches end of file
(the executor exited, however it died) it SIGKILLs every group still listed.
Run as ``python -m flowyard.executor.guard``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger("flowyard.guard")


class Guard:
    """The executor's side: starts the guard process and tells it about task groups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "flowyard.executor.guard"],
            stdin=subprocess.PIPE,
            start_new_session=True,  # a signal to the executor's group must not reach the guard
        )

    def add(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def remove(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def close(self) -> None:
        """A clean stop: the guard exits without killing anything (the executor settled its tasks)."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or proc.stdin is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.write(b"clear\n")
            proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None or self._proc.stdin is None:
                return
            try:
                self._proc.stdin.write(line.encode())
                self._proc.stdin.flush()
            except OSError as error:
                log.warning("the task guard is gone (%s); orphaned tasks will be killed at restart", error)


def main() -> None:
    groups: set[int] = set()
    for raw in sys.stdin.buffer:
        line = raw.strip().decode()
        if line == "clear":
            groups.clear()
        elif line.startswith("+"):
            groups.add(int(line[1:]))
        elif line.startswith("-"):
            groups.discard(int(line[1:]))
    for pgid in groups:  # end of file: the executor is gone
        if pgid > 1 and pgid != os.getpgrp():
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)


if __name__ == "__main__":
    main()
