"""After a crash: how did the attempts a dead executor left ``running`` end, and is any still running?

An owner (the embedded server, a worker) that starts again finds in the
database the attempts it left ``running``. :func:`recover_attempts` answers
for each one, given where its exit record would be
(:mod:`flowyard.executor.exits`):

* **it ended while the owner was down**: the launcher that ran it wrote its
  exit record; the caller settles the attempt with that real result;
* **it still runs** (its launcher kept it running, see ``Orphans.FINISH``):
  its process groups are SIGKILLed and it counts as interrupted, to be retried
  as the task's retries allow, as before;
* **neither**: interrupted too (its launcher died with the owner: a reboot, a
  kill of the whole cgroup, or a worker's launcher killing it on purpose).

Task processes are found by ``FLOWYARD_ATTEMPT_ID`` and ``FLOWYARD_OWNER`` in
``/proc/<pid>/environ``, not by a recorded pid the system may have given to
another process since; the owner keeps a restart from killing the tasks of
another Flowyard on the machine.

The order closes a race with a launcher still at work. A task whose main
process exited just before the scan is a zombie its launcher has not reaped
yet, so it has no record and no live process: recovery waits (at most
``settle_seconds``) until launchers have reaped the zombies they had at the
scan, and reads the records only then. A record caused by recovery's own kill
(the attempt was killed here and its main process died of SIGKILL) is not a
result: the attempt was interrupted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flowyard.executor.exits import ExitRecord, read_exit_record

log = logging.getLogger("flowyard.recovery")

PROC = Path("/proc")
OWNER_VARIABLE = "FLOWYARD_OWNER"  # set in every task's environment: the executor that started it
ATTEMPT_VARIABLE = "FLOWYARD_ATTEMPT_ID"
LAUNCHER_MODULE = b"flowyard.executor.launcher"
SETTLE_SECONDS = 2.0
SETTLE_POLL = 0.01


@dataclass
class _Scan:
    groups: dict[str, set[int]] = field(default_factory=dict)  # attempt id -> process groups still alive
    zombies: set[int] = field(default_factory=set)  # exited children that a launcher has not reaped yet


def _environ(pid: int) -> dict[bytes, bytes]:
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {key: value for key, value in pairs}


def _state_and_parent(pid: int) -> tuple[bytes, int] | None:
    try:
        stat = (PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()  # the command name (field 2) may hold anything
    return fields[0], int(fields[1])


def _is_launcher(pid: int, known: dict[int, bool]) -> bool:
    if pid not in known:
        try:
            known[pid] = LAUNCHER_MODULE in (PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            known[pid] = False
    return known[pid]


def _scan(attempt_ids: Iterable[str], owner: str) -> _Scan:
    wanted = {attempt_id.encode() for attempt_id in attempt_ids}
    found = _Scan()
    if not wanted or not PROC.is_dir():
        return found
    launchers: dict[int, bool] = {}
    for name in os.listdir(PROC):
        if not name.isdigit():
            continue
        pid = int(name)
        environ = _environ(pid)
        attempt = environ.get(ATTEMPT_VARIABLE.encode())
        if attempt in wanted and environ.get(OWNER_VARIABLE.encode()) == owner.encode():
            with contextlib.suppress(OSError):
                found.groups.setdefault(attempt.decode(), set()).add(os.getpgid(pid))
        elif not environ:  # a zombie's environ reads empty (so do kernel threads')
            stat = _state_and_parent(pid)
            if stat is not None and stat[0] == b"Z" and _is_launcher(stat[1], launchers):
                found.zombies.add(pid)
    return found


def _kill(groups: Iterable[int]) -> None:
    for group in set(groups):
        if group <= 1 or group == os.getpgrp():  # never ourselves
            continue
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
            log.warning("killed orphaned task process group %s", group)


def kill_orphans(attempt_ids: Iterable[str], owner: str) -> set[str]:
    """Kill the process groups of every live process of one of ``attempt_ids`` started by ``owner``.

    Returns the ids of the attempts that had processes (now killed).
    """
    found = _scan(attempt_ids, owner)
    _kill(group for groups in found.groups.values() for group in groups)
    return set(found.groups)


def _await_reaping(zombies: set[int], settle_seconds: float) -> None:
    deadline = time.monotonic() + settle_seconds
    while zombies:
        zombies = {pid for pid in zombies if (stat := _state_and_parent(pid)) is not None and stat[0] == b"Z"}
        if not zombies or time.monotonic() >= deadline:
            break
        time.sleep(SETTLE_POLL)
    if zombies:
        log.warning("%d task processes were still unreaped after %.1f s", len(zombies), settle_seconds)


def recover_attempts(
    records: Mapping[str, Path | None], owner: str, settle_seconds: float = SETTLE_SECONDS
) -> dict[str, ExitRecord | None]:
    """For each attempt id (mapped to its exit record path, if known): its ending, or None if interrupted.

    Live processes of the attempts are killed first; see the module docstring.
    """
    found = _scan(records, owner)
    _kill(group for groups in found.groups.values() for group in groups)
    _await_reaping(found.zombies, settle_seconds)
    endings: dict[str, ExitRecord | None] = {}
    for attempt_id, path in records.items():
        record = None if path is None else read_exit_record(path, attempt_id)
        if record is not None and attempt_id in found.groups and record.signal == signal.SIGKILL:
            record = None  # the kill just sent ended it: interrupted, not a result
        endings[attempt_id] = record
    return endings
