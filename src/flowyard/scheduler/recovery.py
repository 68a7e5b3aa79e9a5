"""After a crash: find the processes of attempts that the dead server left behind, and kill them.

A task runs in its own session (process group), so it survives a kill -9 of
the server. Its environment carries ``FLOWYARD_ATTEMPT_ID``; reading it from
``/proc`` identifies the orphan without trusting a recorded pid that the
system may have given to another process since.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("flowyard.recovery")
PROC = Path("/proc")


def _attempt_of(pid: int) -> str | None:
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(b"FLOWYARD_ATTEMPT_ID="):
            return entry.split(b"=", 1)[1].decode("utf-8", "replace")
    return None


def kill_orphans(attempt_ids: Iterable[str]) -> int:
    """Kill the process groups of every live process that belongs to one of ``attempt_ids``."""
    wanted = set(attempt_ids)
    if not wanted or not PROC.is_dir():
        return 0
    groups: set[int] = set()
    for entry in PROC.iterdir():
        if entry.name.isdigit() and _attempt_of(int(entry.name)) in wanted:
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(int(entry.name)))
    for group in groups:
        if group == os.getpgrp():  # never ourselves
            continue
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
            log.warning("killed orphaned task process group %s", group)
    return len(groups)
