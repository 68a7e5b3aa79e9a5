"""Attempts that run elsewhere: the transactions of workers and of the Celery executor's publisher.

A worker claims a queued attempt (one conditional UPDATE), renews its running
attempts and ships their logs on each heartbeat, and reports how each ended
(``running`` → ``ended``); the leading scheduler then records the result
through :class:`~flowyard.services.attempts.AttemptService` (``ended`` → ``done``).
The publisher side finds what to publish again and what ended. Every write is
one transaction here, so the executor layer only runs processes and talks to
the broker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.instances import TaskInstanceRecord
from flowyard.store import attempts as attempt_store
from flowyard.store import instances as instance_store
from flowyard.store import logs as log_store
from flowyard.store import workers as worker_store
from flowyard.store.attempts import AttemptRow, Claimed, Ended, Unsent
from flowyard.store.db import transaction
from flowyard.store.notify import RESULTS, notify

__all__ = ["AttemptRow", "Claimed", "Ended", "Ending", "RemoteAttempts", "Shipment", "Unsent"]


@dataclass(frozen=True, slots=True)
class Ending:
    """How a worker saw one attempt end."""

    attempt_id: str
    outcome: str
    exit_code: int | None
    message: str
    ended_at: datetime


@dataclass(frozen=True, slots=True)
class Shipment:
    """New log text of a running attempt."""

    task_instance_id: str
    attempt_id: str
    text: str


class RemoteAttempts:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # --- the worker's side ------------------------------------------------------------------------

    def register(
        self, worker: str, host: str, pid: int, queues: Sequence[str], concurrency: int, now: datetime
    ) -> list[tuple[AttemptRow, TaskInstanceRecord | None]]:
        """Register (or re-register) ``worker``; returns what a previous run under its name left running."""
        with transaction(self._sessions) as session:
            worker_store.register(session, worker, host, pid, tuple(queues), concurrency, now)
            left = attempt_store.running_attempts(session, worker)
            return [(a, instance_store.get_task(session, a.task_instance_id)) for a in left]

    def settle_left(self, worker: str, endings: Sequence[Ending]) -> None:
        """Report the attempts a previous run of ``worker`` left, as they were found to have ended."""
        with transaction(self._sessions) as session:
            for e in endings:
                attempt_store.end(
                    session,
                    e.attempt_id,
                    worker,
                    outcome=e.outcome,
                    exit_code=e.exit_code,
                    message=e.message,
                    now=e.ended_at,
                )
            notify(session, RESULTS)

    def claim(self, attempt_id: str, worker: str, now: datetime) -> Claimed | None:
        """Take a queued attempt for ``worker``; None when it is not queued (a duplicate, cancelled)."""
        with transaction(self._sessions) as session:
            return attempt_store.claim(session, attempt_id, worker, now)

    def report(self, worker: str, ending: Ending, tail: Shipment, now: datetime) -> bool:
        """The rest of an attempt's log and how it ended, in one transaction; the leader is woken.

        False when the attempt is no longer this worker's (it was declared lost meanwhile).
        """
        with transaction(self._sessions) as session:
            log_store.append(session, tail.task_instance_id, tail.text, now, tail.attempt_id)
            accepted = attempt_store.end(
                session,
                ending.attempt_id,
                worker,
                outcome=ending.outcome,
                exit_code=ending.exit_code,
                message=ending.message,
                now=ending.ended_at,
            )
            notify(session, RESULTS)  # the leading scheduler records it at once
        return accepted

    def beat(self, worker: str, shipments: Sequence[Shipment], now: datetime) -> list[str]:
        """Renew the worker and its running attempts, store new log text; returns ids to cancel."""
        with transaction(self._sessions) as session:
            worker_store.beat(session, worker, now)
            cancels = attempt_store.heartbeat(session, worker, now)
            for s in shipments:
                log_store.append(session, s.task_instance_id, s.text, now, s.attempt_id)
        return cancels

    # --- the publisher's side ---------------------------------------------------------------------

    def cancel(self, attempt_id: str, now: datetime) -> bool:
        """Cancel a queued attempt at once, or ask the worker running it to; False if it ran already."""
        with transaction(self._sessions) as session:
            if attempt_store.cancel_queued(session, attempt_id, now):
                return True
            return attempt_store.request_cancel(session, attempt_id)

    def ended(self) -> list[Ended]:
        with transaction(self._sessions, read_only=True) as session:
            return attempt_store.ended(session)

    def any_ended(self) -> bool:
        with transaction(self._sessions, read_only=True) as session:
            return attempt_store.any_ended(session)

    def to_resend(self, now: datetime, base_seconds: float) -> list[Unsent]:
        with transaction(self._sessions, read_only=True) as session:
            return attempt_store.to_resend(session, now, base_seconds)

    def mark_sent(self, attempt_ids: list[str], now: datetime) -> None:
        with transaction(self._sessions) as session:
            attempt_store.mark_sent(session, attempt_ids, now)
