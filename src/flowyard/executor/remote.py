"""CeleryExecutor: the scheduler's side of remote execution.

The scheduler commits each attempt as a ``queued`` row (with its encoded spec)
before :meth:`submit` is called; ``submit`` only hands the id to a publisher
thread, so a slow or absent broker never stalls scheduling. Results are not
sent back through Celery: workers write them to the attempt row, and
:meth:`results` reads the rows that ended. Attempts whose message may have been
lost (never published, or published long ago and still unclaimed) are
published again by :meth:`resend_due`, which the scheduler calls periodically.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from flowyard.clock import Clock
from flowyard.executor.base import AttemptResult, AttemptSpec, ExecutorClosedError, Outcome
from flowyard.executor.celery_app import RUN_ATTEMPT, queue_name
from flowyard.services.remote_attempts import RemoteAttempts

log = logging.getLogger("flowyard.executor.remote")

UNLIMITED_CPU = 1e9  # workers admit by their own capacity; the scheduler never holds work back
BROKER_BACKOFF_SECONDS = 1.0
RESULT_POLL_SECONDS = 0.1
PUBLISH_BATCH = 200


class CeleryExecutor:
    remote = True

    def __init__(
        self,
        app: Celery,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        queue_prefix: str,
        requeue_after: timedelta,
        on_result: Callable[[], None] | None = None,
        poll_seconds: float = RESULT_POLL_SECONDS,
    ) -> None:
        self._app = app
        self._attempts = RemoteAttempts(sessions)
        self._clock = clock
        self._prefix = queue_prefix
        self._requeue_after = requeue_after
        self._outbox: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._pending: set[str] = set()  # ids in the outbox, so a resend does not queue them twice
        self._lock = threading.Lock()
        self._closed = False
        self._publisher = threading.Thread(target=self._publish_loop, name="flowyard-publisher", daemon=True)
        self._publisher.start()
        self._on_result = on_result
        self._poll_seconds = poll_seconds
        self._stopped = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="flowyard-result-poll", daemon=True)
        if on_result is not None:
            self._poller.start()

    # --- Executor ---------------------------------------------------------------------------------

    def submit(self, spec: AttemptSpec) -> None:
        if self._closed:
            raise ExecutorClosedError()
        self._enqueue(spec.attempt_id, spec.queue)

    def _enqueue(self, attempt_id: str, resource: str) -> bool:
        with self._lock:
            if attempt_id in self._pending:
                return False
            self._pending.add(attempt_id)
        self._outbox.put((attempt_id, resource))
        return True

    def cancel(self, attempt_id: str) -> bool:
        """Cancel a queued attempt at once; ask the worker running it to kill it otherwise."""
        return self._attempts.cancel(attempt_id, self._clock.now())

    def results(self, timeout: float = 0.0) -> list[AttemptResult]:
        rows = self._attempts.ended()
        now = self._clock.now()
        return [
            AttemptResult(
                attempt_id=r.id,
                task_instance_id=r.task_instance_id,
                run_num=r.run_num,
                outcome=Outcome(r.outcome),
                exit_code=r.exit_code,
                message=r.message,
                started_at=r.started_at or r.ended_at or now,
                ended_at=r.ended_at or now,
                pid=None,
            )
            for r in rows
        ]

    def running(self) -> list[str]:
        return []  # the database knows; nothing runs in this process

    def free_cpu(self) -> float:
        return UNLIMITED_CPU

    def shutdown(self, kill: bool = True) -> None:
        """Stop publishing; attempts already queued stay queued for the next scheduler to publish."""
        self._closed = True
        self._stopped.set()
        self._outbox.put(None)
        self._publisher.join(5.0)

    def _poll_loop(self) -> None:
        """Wake the scheduler when a worker has written a result (one indexed probe per interval)."""
        assert self._on_result is not None
        while not self._stopped.wait(self._poll_seconds):
            try:
                found = self._attempts.any_ended()
            except Exception as error:
                log.warning("result poll failed: %s", error)
                continue
            if found:
                self._on_result()

    def _drop_outbox(self) -> int:
        dropped = 0
        while True:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                return dropped
            if item is None:
                self._outbox.put(None)
                return dropped
            with self._lock:
                self._pending.discard(item[0])
            dropped += 1

    # --- publishing -------------------------------------------------------------------------------

    def resend_due(self, now: datetime) -> int:
        """Publish again every queued attempt whose message may have been lost; returns how many."""
        due = self._attempts.to_resend(now, self._requeue_after.total_seconds())
        count = sum(self._enqueue(attempt.id, attempt.queue) for attempt in due)
        if count:
            log.info("publishing %d queued attempts again", count)
        return count

    def _publish_loop(self) -> None:
        """Publish what the outbox holds, then record every publish of the batch in one commit."""
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            sent: list[str] = []
            for attempt_id, resource in batch:
                try:
                    self._app.send_task(
                        RUN_ATTEMPT, args=[attempt_id], queue=queue_name(self._prefix, resource), retry=False
                    )
                except Exception as error:  # broker down: the rows stay queued and are published again
                    dropped = self._drop_outbox() + len(batch) - len(sent)
                    log.warning(
                        "broker unavailable (%s); %d attempts wait to be published again", error, dropped
                    )
                    time.sleep(BROKER_BACKOFF_SECONDS)
                    break
                sent.append(attempt_id)
            if not sent:
                continue
            try:
                self._attempts.mark_sent(sent, self._clock.now())
            except Exception:
                log.exception("could not record that %d attempts were published", len(sent))

    def _take_batch(self, limit: int = PUBLISH_BATCH) -> list[tuple[str, str]] | None:
        """The next items (waiting for the first); None once shut down."""
        item = self._outbox.get()
        batch: list[tuple[str, str]] = []
        while item is not None:
            batch.append(item)
            if len(batch) >= limit:
                break
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                break
        else:
            if not batch:
                return None
            self._outbox.put(None)  # shut down after this batch
        with self._lock:
            self._pending.difference_update(attempt_id for attempt_id, _ in batch)
        return batch
