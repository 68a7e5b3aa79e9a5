"""The launcher: one process per executor that starts, watches and reaps every task process.

A task runs in a session of its own, so it outlives its executor killed with
-9. When the executor was the task's parent, its exit status died with the
executor: the kernel handed the orphan to init, and the attempt, still
``running`` in the database, could only be called interrupted at the restart,
then ran a second time or failed although it had succeeded. The launcher is
the parent instead. It is a small fork server that the executor starts
(:func:`main`, in a fresh interpreter) in a session of its own, so a signal
to the server's process group does not reach it, and talks to over a
socketpair. For each attempt it

1. appends the header to the log, makes the workdir, and spawns the process
   with ``subprocess.Popen`` and no ``preexec_fn`` (CPython keeps using vfork,
   and no process per attempt is added: ``bash -c true`` costs ~1.2 ms);
2. watches the exit through a pidfd (polling every 10 ms without pidfds);
3. once the main process has exited, SIGKILLs what is left of its process
   group while the leader is still an unreaped zombie (its pid, hence the
   group id, cannot have been reused), and judges its status against the
   success codes and the reason it was being killed, if it was;
4. writes the exit record beside the log (:mod:`flowyard.executor.exits`),
   then reaps the leader (so a zombie gone means a record written), waits
   until no process of the group is left (SIGKILLing survivors, for at most
   the grace) so that a retry never overlaps them, and tells the executor.

Every signal to an attempt's processes comes from here, since only the reaper
knows whether a leader is still unreaped (and a later launcher running tasks
as other users will be the only process allowed to signal them). So the
launcher also runs the timeouts (SIGTERM, SIGKILL after the grace) and the
memory watchdog (the group's summed RSS, read from ``/proc`` every 100 ms,
over the limit: SIGKILL at once), and both hold while the executor is gone.
Admission, cancel decisions and results stay in the executor
(:mod:`flowyard.executor.local`).

When the executor goes away (its end of the socket closes, however it died),
``--orphans`` decides:

* ``finish`` (the embedded server): the tasks run to their end under their
  timeouts, their exit records are written, then the launcher exits. The
  restarted server settles those attempts with their real results
  (:mod:`flowyard.executor.recovery`).
* ``kill`` (a Celery worker, whose attempts are retried on other workers once
  it is declared lost): every group still running is SIGKILLed at once, as the
  guard process the launcher replaces did, and recorded as ``lost``.

A ``close`` request is the executor's clean stop: its attempts are settled, and
the launcher exits once no child is left.

Why one launcher, not a supervisor process per attempt: that would double the
processes spawned. Why a file and not the database: the launcher holds no
database driver and no credentials, and needs none; the executor's owner still
writes the result to the database as before, and the record covers a crash in
between.

The protocol: each message is a 4-byte big-endian length and a JSON object in
ASCII (so every str round-trips, lone surrogates included)::

    executor -> launcher
      {"op": "spawn", "id", "argv" (null for a noop), "env", "cwd", "log", "header",
       "file" ([name, text] or null), "codes", "record", "timeout", "memory_mb"}
      {"op": "stop", "id", "outcome", "message", "now"}   SIGTERM, SIGKILL after the grace
                                                          (at once if "now"); unknown ids ignored
      {"op": "close"}
    launcher -> executor
      {"op": "ended", "id", "pid", "outcome", "exit_code", "message"}
      {"op": "idle"}        no child for IDLE_SECONDS: the executor answers "close" unless it has
                            sent a spawn meanwhile (so idle executors, in tests say, hold no process)

The launcher never blocks on its output (it queues what the executor has not
read yet), so an executor blocked sending to it always gets through.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from flowyard.executor import process
from flowyard.executor.base import Outcome
from flowyard.executor.exits import ExitRecord, remove_exit_record, write_exit_record

log = logging.getLogger("flowyard.launcher")

POLL_INTERVAL = 0.01  # seconds between exit checks of children without a pidfd, or of a dying group
MEMORY_CHECK_INTERVAL = 0.1  # seconds between /proc scans while any attempt has a memory limit
IDLE_SECONDS = 30.0  # without a child this long, it offers to exit (the executor starts another when needed)
RECEIVE_BYTES = 1 << 16
FRAME = struct.Struct(">I")
LOST_WITH_EXECUTOR = "lost: its executor exited while it ran"


class Orphans(StrEnum):
    """What happens to running tasks when their executor is gone."""

    FINISH = "finish"  # they run to their end and their exit records are written (embedded server)
    KILL = "kill"  # they are killed at once (a worker: its attempts run again elsewhere)


def encode(message: Mapping[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("ascii")
    return FRAME.pack(len(body)) + body


class Decoder:
    """Splits a byte stream into the messages it carries."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        buffer = self._buffer
        buffer += data
        messages: list[dict[str, Any]] = []
        offset = 0
        while len(buffer) - offset >= FRAME.size:
            (size,) = FRAME.unpack_from(buffer, offset)
            end = offset + FRAME.size + size
            if len(buffer) < end:
                break
            messages.append(json.loads(buffer[offset + FRAME.size : end]))
            offset = end
        del buffer[:offset]
        return messages


def launcher_command(fd: int, orphans: Orphans, grace: float) -> list[str]:
    # -c rather than -m: the package imports this module, and runpy warns about running it twice.
    return [
        sys.executable,
        "-c",
        "from flowyard.executor.launcher import main; main()",
        "--fd",
        str(fd),
        "--orphans",
        orphans.value,
        "--grace",
        repr(grace),
        "--idle",
        repr(IDLE_SECONDS),  # read at each start, so a test can shorten it
    ]


class LauncherClient:
    """The executor's side of one launcher process.

    :meth:`send` may be called from any thread; :meth:`receive` from one thread
    only, when :meth:`fileno` is readable.
    """

    def __init__(self, orphans: Orphans, grace: float) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                launcher_command(theirs.fileno(), orphans, grace),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a signal to the executor's group must not reach it
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours
        self._send_lock = threading.Lock()
        self._decoder = Decoder()
        self.dead = False  # its socket closed: it exited, or was killed

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, message: Mapping[str, Any]) -> None:
        """Raises OSError when the launcher is gone."""
        frame = encode(message)
        with self._send_lock:
            self._sock.sendall(frame)

    def receive(self) -> list[dict[str, Any]] | None:
        """The messages that arrived (maybe none yet); None once the launcher has closed its end."""
        try:
            data = self._sock.recv(RECEIVE_BYTES)
        except BlockingIOError:
            return []
        except OSError:
            data = b""
        if not data:
            self.dead = True
            return None
        return self._decoder.feed(data)

    def close(self, timeout: float = 5.0) -> None:
        """A clean stop: the launcher exits once its children are gone (the executor settled them)."""
        with contextlib.suppress(OSError):
            self.send({"op": "close"})
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        self._sock.close()

    def discard(self) -> None:
        """Forget a launcher that died: collect its exit status, close the socket."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self._sock.close()


# --- the launcher process ---------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Child:
    attempt_id: str
    popen: subprocess.Popen[bytes]
    pidfd: int | None
    success_codes: frozenset[int]
    record: str  # the exit record's path
    timeout_seconds: int
    deadline: float | None  # monotonic time of the timeout
    memory_limit_mb: int
    reason: tuple[Outcome, str] | None = None  # why it is being killed
    term_sent: bool = False
    kill_at: float | None = None  # monotonic time to escalate SIGTERM to SIGKILL

    @property
    def pid(self) -> int:
        return self.popen.pid


class Launcher:
    """The launcher's loop: requests from the executor in, children out, exits reported back."""

    def __init__(
        self,
        sock: socket.socket,
        orphans: Orphans,
        grace: float,
        use_pidfds: bool = True,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._idle_seconds = idle_seconds
        sock.setblocking(False)
        self._sock = sock
        self._orphans = orphans
        self._grace = grace
        self._use_pidfds = use_pidfds
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._writing = False
        self._decoder = Decoder()
        self._outbox = bytearray()
        self._children: dict[str, _Child] = {}
        self._by_pidfd: dict[int, _Child] = {}
        self._connected = True
        self._closing = False
        # Reported once no process of their group is left (or a grace passed): pgid -> (report, give up at).
        self._draining: dict[int, tuple[dict[str, Any], float]] = {}
        self._next_memory_check = 0.0
        self._polled = 0  # children without a pidfd, checked every POLL_INTERVAL
        self._idle_since: float | None = time.monotonic()  # None while a child runs or after "idle"
        self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)  # every task's stdin

    def run(self) -> None:
        while self._children or self._draining or (self._connected and not self._closing):
            for key, mask in self._selector.select(self._wait_time()):
                if key.fileobj is self._sock:
                    if mask & selectors.EVENT_READ and self._connected:
                        self._read()
                elif (child := self._by_pidfd.get(key.fd)) is not None:
                    self._finish(child)
            if self._polled:
                for child in [c for c in self._children.values() if c.pidfd is None]:
                    if process.has_exited(child.pid):
                        self._finish(child)
            now = time.monotonic()
            self._enforce_timeouts(now)
            self._watch_groups(now)
            self._check_idle(now)
            self._flush()
        if self._connected:  # closing: hand over the last reports, then go
            with contextlib.suppress(OSError):
                self._sock.setblocking(True)
                self._sock.sendall(self._outbox)
            self._sock.close()
        self._selector.close()

    # -- requests ----------------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            data = self._sock.recv(RECEIVE_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._disconnected()
            return
        for message in self._decoder.feed(data):
            try:
                self._handle(message)
            except Exception:  # one bad request must not take the other attempts down
                log.exception("could not handle a %r request", message.get("op"))

    def _handle(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "spawn":
            self._spawn(message)
        elif op == "stop":
            child = self._children.get(message["id"])
            if child is not None:
                outcome = Outcome(message["outcome"])
                self._kill(child, outcome, message["message"], time.monotonic(), at_once=message["now"])
        elif op == "close":
            self._closing = True
        else:
            log.error("unknown request %r", op)

    def _spawn(self, request: dict[str, Any]) -> None:
        attempt_id: str = request["id"]
        record, log_path = str(request["record"]), str(request["log"])
        if attempt_id in self._children:
            self._report_end(attempt_id, None, Outcome.FAILED, None, "could not start: already running")
            return
        popen = None
        try:
            # Every field is read before anything starts: a malformed request fails like a bad command.
            argv: Sequence[str] | None = request["argv"]
            cwd, env, file = str(request["cwd"]), request["env"], request["file"]
            codes, timeout = frozenset(int(c) for c in request["codes"]), int(request["timeout"])
            memory_mb = int(request["memory_mb"])
            remove_exit_record(record)
            log_fd = process.prepare(
                log_path, request["header"], cwd, None if file is None else (file[0], file[1])
            )
            try:
                if argv is not None:
                    popen = process.spawn(argv, cwd, env, log_fd, self._devnull)
            finally:
                os.close(log_fd)  # the child has its own copies as stdout and stderr
        except Exception as error:  # whatever it is, it ends this attempt only
            reason = process.describe_error(error)
            process.log_start_failure(Path(log_path), reason)
            self._end(attempt_id, record, Outcome.FAILED, None, f"could not start: {reason}")
            return
        if popen is None:
            self._end(attempt_id, record, Outcome.SUCCESS, None, "noop: nothing to run")
            return
        pidfd = process.open_pidfd(popen.pid) if self._use_pidfds else None
        deadline = time.monotonic() + timeout if timeout else None
        child = _Child(attempt_id, popen, pidfd, codes, record, timeout, deadline, memory_mb)
        self._children[attempt_id] = child
        if pidfd is not None:
            self._by_pidfd[pidfd] = child
            self._selector.register(pidfd, selectors.EVENT_READ)
        else:
            self._polled += 1

    # -- children ----------------------------------------------------------------------------------

    def _kill(self, child: _Child, outcome: Outcome, message: str, now: float, at_once: bool = False) -> None:
        """Record why ``child`` is killed (the first reason stays, except that a cancel wins) and signal it.

        Safe because the child is unreaped: :meth:`_finish` removes it, in this same thread.
        """
        if child.reason is None or outcome is Outcome.CANCELLED:
            child.reason = (outcome, message)
        if at_once:
            process.signal_group(child.pid, signal.SIGKILL)
            child.term_sent, child.kill_at = True, None
        elif not child.term_sent:
            process.signal_group(child.pid, signal.SIGTERM)
            child.term_sent, child.kill_at = True, now + self._grace

    def _enforce_timeouts(self, now: float) -> None:
        for child in self._children.values():
            if child.deadline is not None and child.reason is None and now >= child.deadline:
                self._kill(child, Outcome.TIMEOUT, f"killed after timeout of {child.timeout_seconds} s", now)
            elif child.kill_at is not None and now >= child.kill_at:
                process.signal_group(child.pid, signal.SIGKILL)
                child.kill_at = None

    def _watch_groups(self, now: float) -> None:
        """Enforce memory limits when a check is due; report the groups that have drained."""
        watched: dict[int, _Child] = {}
        if now >= self._next_memory_check:
            watched = {c.pid: c for c in self._children.values() if c.memory_limit_mb}
            if watched:
                self._next_memory_check = now + MEMORY_CHECK_INTERVAL
        if not (watched or self._draining):
            return
        usage = process.scan_groups(watched.keys() | self._draining.keys())
        for pgid, child in watched.items():
            # Only this thread reaps, so every watched leader is still unreaped: the kill is safe.
            used, limit_mb = usage[pgid].rss_bytes, child.memory_limit_mb
            if used > limit_mb * process.MIB:
                message = f"memory limit {limit_mb} MB exceeded ({used // process.MIB} MB)"
                self._kill(child, Outcome.FAILED, message, now, at_once=True)
        for pgid, (report, give_up_at) in list(self._draining.items()):
            live = usage[pgid].live
            if live and now < give_up_at:
                process.signal_group(pgid, signal.SIGKILL)  # a member still exists: the pgid is still ours
                continue
            del self._draining[pgid]
            if live:
                report["message"] += f"; {live} process(es) of its group survived SIGKILL"
            self._send(report)

    def _check_idle(self, now: float) -> None:
        if self._children or self._draining:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= self._idle_seconds and self._connected and not self._closing:
            self._send({"op": "idle"})
            self._idle_since = math.inf  # said once; a spawn starts the count again

    def _wait_time(self) -> float | None:
        now = time.monotonic()
        due: list[float] = [now + POLL_INTERVAL] if self._polled or self._draining else []
        if self._idle_since not in (None, math.inf) and not (self._children or self._draining):
            due.append(self._idle_since + self._idle_seconds)
        for child in self._children.values():
            if child.deadline is not None and child.reason is None:
                due.append(child.deadline)
            if child.kill_at is not None:
                due.append(child.kill_at)
            if child.memory_limit_mb:
                due.append(self._next_memory_check)
        return max(0.0, min(due) - now) if due else None

    def _finish(self, child: _Child) -> None:
        """Clear the group of an exited child, record how it ended, reap it, report it."""
        pid = child.pid
        # The leader is a zombie until reaped, so its group id is still ours: clear leftovers first.
        process.signal_group(pid, signal.SIGKILL)
        status = process.peek_status(pid)
        number: int | None = None
        if status is None:
            outcome, exit_code, message = Outcome.LOST, None, "exit status lost: reaped outside the launcher"
        else:
            succeeded, exit_code, message = process.judge(status, child.success_codes)
            outcome = Outcome.SUCCESS if succeeded else Outcome.FAILED
            number = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        outcome, message = child.reason or (outcome, message)
        # Recorded before the reap: once the zombie is gone, recovery can count on the record.
        self._record(child.attempt_id, child.record, outcome, exit_code, number, message, pid)
        reaped = process.reap(pid)
        child.popen.returncode = -1 if reaped is None else reaped  # reaped: Popen must not wait again
        if child.pidfd is not None:
            self._selector.unregister(child.pidfd)
            del self._by_pidfd[child.pidfd]
            os.close(child.pidfd)
        else:
            self._polled -= 1
        del self._children[child.attempt_id]
        report = _ended(child.attempt_id, pid, outcome, exit_code, message)
        if process.group_exists(pid):  # leftovers dying of the SIGKILL just sent
            self._draining[pid] = (report, time.monotonic() + self._grace)
        else:
            self._send(report)

    def _end(
        self,
        attempt_id: str,
        record: str,
        outcome: Outcome,
        exit_code: int | None,
        message: str,
    ) -> None:
        """Record and report an attempt that ran no process (a noop, or one that could not start)."""
        self._record(attempt_id, record, outcome, exit_code, None, message, None)
        self._send(_ended(attempt_id, None, outcome, exit_code, message))

    def _record(
        self,
        attempt_id: str,
        record: str,
        outcome: Outcome,
        exit_code: int | None,
        number: int | None,
        message: str,
        pid: int | None,
    ) -> None:
        ended_at = datetime.now(UTC)
        try:
            write_exit_record(
                record, ExitRecord(attempt_id, outcome, exit_code, number, message, pid, ended_at)
            )
        except OSError as error:  # the executor still hears of it; only a crash could lose it now
            log.warning("could not write the exit record of %s: %s", attempt_id, error)

    def _report_end(
        self, attempt_id: str, pid: int | None, outcome: Outcome, exit_code: int | None, message: str
    ) -> None:
        self._send(_ended(attempt_id, pid, outcome, exit_code, message))

    # -- the executor's socket ---------------------------------------------------------------------

    def _send(self, message: Mapping[str, Any]) -> None:
        if self._connected:
            self._outbox += encode(message)  # sent at the end of the turn, with the others

    def _flush(self) -> None:
        if not self._connected:
            return
        if self._outbox:
            try:
                sent = self._sock.send(self._outbox)
                del self._outbox[:sent]
            except BlockingIOError:
                pass
            except OSError:
                self._disconnected()
                return
        writing = bool(self._outbox)
        if writing != self._writing:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if writing else 0)
            self._selector.modify(self._sock, events)
            self._writing = writing

    def _disconnected(self) -> None:
        """The executor is gone: apply the orphan policy."""
        if not self._connected:
            return
        self._connected = False
        self._selector.unregister(self._sock)
        self._sock.close()
        self._outbox.clear()
        if self._orphans is Orphans.KILL and not self._closing:
            now = time.monotonic()
            for child in self._children.values():
                self._kill(child, Outcome.LOST, LOST_WITH_EXECUTOR, now, at_once=True)


def _ended(
    attempt_id: str, pid: int | None, outcome: Outcome, exit_code: int | None, message: str
) -> dict[str, Any]:
    return {
        "op": "ended",
        "id": attempt_id,
        "pid": pid,
        "outcome": outcome.value,
        "exit_code": exit_code,
        "message": message,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Flowyard's task launcher (started by an executor).")
    parser.add_argument("--fd", type=int, required=True, help="the socket to the executor")
    parser.add_argument("--orphans", choices=[o.value for o in Orphans], default=Orphans.FINISH.value)
    parser.add_argument("--grace", type=float, default=5.0, help="seconds from SIGTERM to SIGKILL")
    parser.add_argument("--poll", action="store_true", help="poll for exits instead of using pidfds")
    parser.add_argument(
        "--idle", type=float, default=IDLE_SECONDS, help="seconds without a child before it offers to exit"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="flowyard launcher %(process)d: %(message)s")
    sock = socket.socket(fileno=args.fd)
    Launcher(sock, Orphans(args.orphans), args.grace, use_pidfds=not args.poll, idle_seconds=args.idle).run()


if __name__ == "__main__":
    main()
