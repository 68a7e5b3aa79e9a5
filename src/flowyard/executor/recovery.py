"""After a crash: find the processes of attempts that the dead server left behind, and kill them.

A task runs in its own session (process group), so it survives a kill -9 of
the server. Its environment carries ``FLOWYARD_ATTEMPT_ID`` and ``FLOWYARD_OWNER``;
reading them from ``/proc`` identifies the orphan without trusting a recorded pid
that the system may have given to another process since.
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


OWNER_VARIABLE = "FLOWYARD_OWNER"  # set in every task's environment: the executor that started it


def _environ(pid: int) -> dict[bytes, bytes]:
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {key: value for key, value in pairs}


def kill_orphans(attempt_ids: Iterable[str], owner: str) -> int:
    """Kill the process groups of every live process of one of ``attempt_ids`` started by ``owner``.

    Attempt ids are unique within one installation only; the owner (a server's or a worker's name,
    in ``FLOWYARD_OWNER``) keeps a restart from killing the tasks of another Flowyard on the machine.
    """
    wanted = {attempt_id.encode() for attempt_id in attempt_ids}
    if not wanted or not PROC.is_dir():
        return 0
    groups: set[int] = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        environ = _environ(int(entry.name))
        if (
            environ.get(b"FLOWYARD_ATTEMPT_ID") in wanted
            and environ.get(OWNER_VARIABLE.encode()) == owner.encode()
        ):
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(int(entry.name)))
    for group in groups:
        if group == os.getpgrp():  # never ourselves
            continue
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
            log.warning("killed orphaned task process group %s", group)
    return len(groups)
