"""DataWorks import jobs: who runs them, for how long, how often, and the background runner.

Ownership: every process has an owner id (:func:`new_owner`). A job belongs to the process that
accepted it under a lease of :data:`LEASE`; :class:`JobRunner` renews the leases of its jobs every
:data:`HEARTBEAT_SECONDS` and, at start and on the same beat, takes over Running jobs whose lease
expired (their process died) and runs them again. Imports are idempotent on ids and a job's success
is written in the import's own transaction, guarded by the owner, so a job is applied at most once
even when two processes race for it. A job whose runs were cut short :data:`MAX_ATTEMPTS` times
ends as ``Fail`` (:data:`GAVE_UP`), so no job stays Running forever. Finished jobs are deleted
after :data:`RETENTION`.

Progress: 0 accepted, :data:`PROGRESS_STARTED` a run began, :data:`PROGRESS_CONVERTED` the document
parsed, converted and validated (``Type`` is now ``Create`` or ``Update``), 100 finished.

The transactions behind all this are the service's (:class:`JobService`, implemented by
:class:`flowyard.services.dataworks.WorkflowSpecService`); this module holds the policy and the loop.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from flowyard.services.background import Quiet

log = logging.getLogger("flowyard.jobs")

LEASE = timedelta(seconds=60)
HEARTBEAT_SECONDS = 20.0
RETENTION = timedelta(days=7)
MAX_ATTEMPTS = 3
PROGRESS_STARTED = 10
PROGRESS_CONVERTED = 50
GAVE_UP = "interrupted: the processes running this job stopped {attempts} times; submit the import again"


def new_owner() -> str:
    """A job owner id unique to this process: host, pid and a random tag (pids are reused)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class Housekeeping:
    """What one :meth:`JobRunner.tick` did."""

    renewed: int
    taken_over: tuple[str, ...]
    failed: int
    purged: int


class JobService(Protocol):
    """The job transactions :class:`JobRunner` drives, each at ``now``."""

    def renew(self, owner: str, now: datetime) -> int:
        """Extend the leases of ``owner``'s Running jobs; how many."""
        ...

    def release(self, owner: str, now: datetime) -> int:
        """End the leases of ``owner``'s Running jobs now, so another process takes them over."""
        ...

    def take_over_expired(self, owner: str, now: datetime) -> tuple[list[str], int]:
        """Own the expired jobs: the ids to run, and how many were failed instead."""
        ...

    def purge(self, now: datetime, retention: timedelta) -> int:
        """Delete the jobs that finished more than ``retention`` before ``now``."""
        ...

    def run_job(
        self, job_id: str, owner: str, org_id_of: Callable[[int], str], now: Callable[[], datetime]
    ) -> None:
        """Run ``owner``'s job to its end; never raises for a bad document."""
        ...


class JobRunner:
    """Runs this process's jobs, one at a time, on a daemon thread; a second thread keeps the leases.

    :meth:`tick` is the periodic housekeeping (renew own leases, take over expired jobs, purge old
    ones); the heartbeat thread calls it every ``heartbeat_seconds`` and :meth:`start` once first.
    Tests drive :meth:`tick` and :meth:`drain` directly with an injected ``now``.
    """

    def __init__(
        self,
        service: JobService,
        org_id_of: Callable[[int], str],
        now: Callable[[], datetime],
        *,
        owner: str | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        retention: timedelta = RETENTION,
    ) -> None:
        self.owner = owner or new_owner()
        self._service = service
        self._org_id_of = org_id_of
        self._now = now
        self._heartbeat_seconds = heartbeat_seconds
        self._retention = retention
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, job_id: str) -> None:
        self._queue.put(job_id)

    def tick(self) -> Housekeeping:
        """Renew this owner's leases, queue the expired jobs it took over, purge old finished jobs."""
        now = self._now()
        renewed = self._service.renew(self.owner, now)
        taken, failed = self._service.take_over_expired(self.owner, now)
        for job_id in taken:
            log.info("job %s: lease expired, taken over by %s", job_id, self.owner)
            self.submit(job_id)
        purged = self._service.purge(now, self._retention)
        return Housekeeping(renewed, tuple(taken), failed, purged)

    def start(self) -> None:
        self._stopping.clear()
        self.tick()
        self._threads = [
            threading.Thread(target=self._work, name="flowyard-jobs", daemon=True),
            threading.Thread(target=self._beat, name="flowyard-jobs-heartbeat", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Finish the current job, then hand the queued ones back (their leases end now)."""
        if not self._threads:
            return
        self._stopping.set()
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []
        try:
            self._service.release(self.owner, self._now())
        except Exception:  # the leases then simply expire
            log.exception("releasing the leases of %s failed", self.owner)

    def drain(self) -> None:
        """Run every queued job in the calling thread (tests without a started runner)."""
        while not self._queue.empty():
            job_id = self._queue.get_nowait()
            if job_id is not None:
                self._service.run_job(job_id, self.owner, self._org_id_of, self._now)

    def _work(self) -> None:
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id is None or self._stopping.is_set():
                return
            try:
                self._service.run_job(job_id, self.owner, self._org_id_of, self._now)
            except Exception:  # keep serving later jobs
                log.exception("job %s could not be finished", job_id)

    def _beat(self) -> None:
        report = Quiet(log, "job housekeeping")
        while not self._stopping.wait(self._heartbeat_seconds):
            try:
                self.tick()
            except Exception as error:  # housekeeping must never stop the runner
                report.failed(error)
            else:
                report.succeeded()
