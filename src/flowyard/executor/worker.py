"""The worker's side of remote execution: claim an attempt, run it here, report to the database.

:meth:`WorkerRuntime.run_attempt` is what a Celery task calls with an attempt
id. It claims the attempt with one conditional UPDATE (a duplicate message, a
cancelled or already-run attempt is dropped), runs it with a
:class:`~flowyard.executor.local.LocalExecutor` (timeout, memory limit, process
group, CPU admission against this worker's capacity), and writes the result
back. A heartbeat thread renews the worker's running attempts, relays cancel
requests and ships new log output to the database, so logs can be read from
any machine while the task runs. A result that cannot be written (database
down) is retried until it is, so a finished attempt is never reported lost
while this worker lives; one that ended just before the worker died (killed
with -9, say) is reported from its exit record when the worker restarts under
the same name (:meth:`WorkerRuntime.start`). The executor's launcher kills the
worker's tasks if the worker dies, since their attempts run again elsewhere.
"""

from __future__ import annotations

import codecs
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from flowyard.clock import Clock
from flowyard.executor.base import AttemptResult, ExecutorFullError
from flowyard.executor.codec import decode_spec
from flowyard.executor.exits import exit_record_path
from flowyard.executor.launcher import Orphans
from flowyard.executor.local import LocalExecutor
from flowyard.executor.recovery import OWNER_VARIABLE, recover_attempts
from flowyard.services.remote_attempts import Ending, RemoteAttempts, Shipment
from flowyard.services.task_logs import log_file

log = logging.getLogger("flowyard.worker")

RETRY_SECONDS = 1.0


@dataclass
class _LogShipper:
    """Ships what an attempt appended to its local log file, from where the file ended before it."""

    task_instance_id: str
    attempt_id: str
    path: Path
    offset: int
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    pending: str = ""  # taken from the file, not yet committed to the database

    def take(self, final: bool = False) -> str:
        """Everything not yet shipped; stays pending until :meth:`shipped` confirms the commit."""
        with self.lock:
            try:
                with self.path.open("rb") as handle:
                    handle.seek(self.offset)
                    data = handle.read()
            except FileNotFoundError:
                data = b""
            self.offset += len(data)
            self.pending += self.decoder.decode(data, final=final)
            return self.pending

    def shipped(self, text: str) -> None:
        with self.lock:
            self.pending = self.pending[len(text) :]


@dataclass
class _Waiter:
    done: threading.Event = field(default_factory=threading.Event)
    result: AttemptResult | None = None


class WorkerRuntime:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        name: str,
        queues: tuple[str, ...],
        concurrency: int,
        cpu: float,
        work_root: Path,
        log_root: Path,
        heartbeat_seconds: float,
    ) -> None:
        self.name = name
        self._attempts = RemoteAttempts(sessions)
        self._clock = clock
        self._queues = queues
        self._concurrency = concurrency
        self._work_root = work_root
        self._log_root = log_root
        self._interval = heartbeat_seconds
        self._lock = threading.Condition()
        self._waiters: dict[str, _Waiter] = {}
        self._shippers: dict[str, _LogShipper] = {}
        self._ship_lock = threading.Lock()  # one take → commit → shipped sequence at a time
        # Its launcher kills this worker's tasks if the worker dies (kill -9 included): they are
        # retried elsewhere once the worker is declared lost, and must not run beside the retries.
        self._executor = LocalExecutor(clock, total_cpu=cpu, on_result=self._on_result, orphans=Orphans.KILL)
        self._stop = threading.Event()
        self._beat_thread = threading.Thread(target=self._beat_loop, name="flowyard-heartbeat", daemon=True)

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Register, settle what a previous run under this name left running, start the heartbeat.

        An attempt that ended before the previous run could report it (killed with -9 just after
        the task exited) left an exit record beside its log: it is reported with that real result.
        The others were killed with that run (its launcher kills them) or are killed now: lost.
        """
        now = self._clock.now()
        found = self._attempts.register(
            self.name, socket.gethostname(), os.getpid(), self._queues, self._concurrency, now
        )
        left = [attempt for attempt, _ in found]
        if left:
            paths = {
                a.id: None
                if task is None
                else exit_record_path(log_file(self._log_root, task.flow_instance_id, task.id), a.run_num)
                for a, task in found
            }
            endings = recover_attempts(paths, self.name)
            lost = f"lost: worker {self.name} restarted while it ran"
            self._attempts.settle_left(
                self.name,
                [
                    Ending(a.id, "lost", None, lost, now)
                    if (e := endings[a.id]) is None
                    else Ending(a.id, e.outcome.value, e.exit_code, e.message, e.ended_at)
                    for a in left
                ],
            )
            log.warning(
                "settled %d attempts a previous run of %s left running (%d from their exit records)",
                len(left),
                self.name,
                sum(ending is not None for ending in endings.values()),
            )
        self._beat_thread.start()

    def stop(self) -> None:
        """Kill what still runs (reported CANCELLED), stop the launcher, then the heartbeat."""
        self._executor.shutdown(kill=True)
        self._stop.set()
        self._beat_thread.join(self._interval + 5)

    # --- one attempt ------------------------------------------------------------------------------

    def run_attempt(self, attempt_id: str) -> str:
        """Claim and run ``attempt_id``; returns its outcome, or "skipped" when it was not claimable."""
        claimed = self._attempts.claim(attempt_id, self.name, self._clock.now())
        if claimed is None:
            log.info(
                "attempt %s is not queued any more (duplicate or cancelled message): skipped", attempt_id
            )
            return "skipped"
        spec = decode_spec(claimed.spec, work_root=self._work_root, log_root=self._log_root)
        spec = replace(spec, env={**spec.env, "FLOWYARD_WORKER": self.name, OWNER_VARIABLE: self.name})
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = spec.log_path.stat().st_size if spec.log_path.exists() else 0
        shipper = _LogShipper(spec.task_instance_id, attempt_id, spec.log_path, offset)
        waiter = _Waiter()
        with self._lock:
            self._waiters[attempt_id] = waiter
            self._shippers[attempt_id] = shipper
        while True:  # admission against this worker's CPU capacity
            try:
                self._executor.submit(spec)
                break
            except ExecutorFullError:
                with self._lock:
                    self._lock.wait(0.5)
        waiter.done.wait()
        result = waiter.result
        assert result is not None
        self._report(result, shipper)
        with self._lock:
            del self._waiters[attempt_id]
            del self._shippers[attempt_id]
        return result.outcome.value

    def _on_result(self, result: AttemptResult) -> None:
        with self._lock:
            waiter = self._waiters.get(result.attempt_id)
            self._lock.notify_all()
        if waiter is not None:
            waiter.result = result
            waiter.done.set()

    def _report(self, result: AttemptResult, shipper: _LogShipper) -> None:
        """Ship the rest of the log and the result in one transaction, retrying while the database is down."""
        while True:
            try:
                with self._ship_lock:
                    tail = shipper.take(final=True)
                    ending = Ending(
                        result.attempt_id,
                        result.outcome.value,
                        result.exit_code,
                        result.message,
                        result.ended_at,
                    )
                    shipment = Shipment(shipper.task_instance_id, result.attempt_id, tail)
                    accepted = self._attempts.report(self.name, ending, shipment, self._clock.now())
                    shipper.shipped(tail)
                if not accepted:
                    log.warning("attempt %s was declared lost before it ended here", result.attempt_id)
                return
            except Exception as error:
                log.warning("could not report attempt %s (%s); retrying", result.attempt_id, error)
                time.sleep(RETRY_SECONDS)

    # --- heartbeat --------------------------------------------------------------------------------

    def _beat_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except Exception as error:
                log.warning("heartbeat failed: %s", error)

    def beat(self) -> None:
        """Renew this worker's attempts, relay cancel requests, ship new log output."""
        self._executor.results()  # results are handled through on_result; drop the copies
        with self._lock:
            shippers = list(self._shippers.values())
        now = self._clock.now()
        with self._ship_lock:
            taken = [(shipper, shipper.take()) for shipper in shippers]
            shipments = [Shipment(s.task_instance_id, s.attempt_id, text) for s, text in taken if text]
            cancels = self._attempts.beat(self.name, shipments, now)
            for shipper, text in taken:
                shipper.shipped(text)
        for attempt_id in cancels:
            self._executor.cancel(attempt_id)
