"""Task attempts run elsewhere (Celery workers): the atomic claims that make delivery idempotent.

Attempt states are :class:`~flowyard.domain.states.AttemptState`; every
conditional UPDATE below guards on the states the transition table allows.
An attempt row moves ``queued`` (the scheduler committed it and will publish a
message) → ``running`` (exactly one worker claimed it) → ``ended`` (the worker
wrote how it ended) → ``done`` (the scheduler recorded the result on the task
instance). Every move is one conditional UPDATE, so a message delivered twice,
a worker that comes back after it was declared lost, or two schedulers acting at
once can each only lose the race, never run or record an attempt twice.
Functions take an open session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from flowyard.domain.states import AttemptState, attempt_sources
from flowyard.store import models as m

ATTEMPTS = cast(Table, m.TaskAttempt.__table__)
QUEUED, RUNNING, ENDED, DONE = (
    AttemptState.QUEUED,
    AttemptState.RUNNING,
    AttemptState.ENDED,
    AttemptState.DONE,
)
UNSENT_RETRY_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a worker needs after a successful claim."""

    id: str
    task_instance_id: str
    spec: str


@dataclass(frozen=True, slots=True)
class Ended:
    """An attempt a worker finished and the scheduler has not recorded yet."""

    id: str
    task_instance_id: str
    run_num: int
    outcome: str
    exit_code: int | None
    message: str
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class Unsent:
    id: str
    queue: str


def add_queued(
    session: Session,
    attempt_id: str,
    task_instance_id: str,
    run_num: int,
    *,
    queue: str,
    spec: str,
    now: datetime,
) -> None:
    session.execute(
        insert(ATTEMPTS).values(
            id=attempt_id,
            task_instance_id=task_instance_id,
            run_num=run_num,
            state=QUEUED,
            owner="",
            queued_at=now,
            queue=queue,
            spec=spec,
            send_count=0,
            cancel_requested=False,
            outcome="",
            message="",
        )
    )


def mark_sent(session: Session, attempt_ids: list[str], now: datetime) -> None:
    session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.id.in_(attempt_ids), ATTEMPTS.c.state == QUEUED)
        .values(sent_at=now, send_count=ATTEMPTS.c.send_count + 1)
    )


def to_resend(session: Session, now: datetime, base_seconds: float, limit: int = 500) -> list[Unsent]:
    """Queued attempts whose message may be lost: never published, or published long enough ago.

    "Long enough" doubles with every send (``base_seconds`` × 2^(sends-1), capped at 32×), so an
    attempt that merely waits behind a long queue gains one duplicate message per period at most,
    and duplicates are harmless: only one claim can succeed. A message never published (the
    publisher failed or its process died) is due after ``UNSENT_RETRY_SECONDS`` at most.
    """
    unsent_after = timedelta(seconds=min(base_seconds, UNSENT_RETRY_SECONDS))
    rows = session.execute(
        select(ATTEMPTS.c.id, ATTEMPTS.c.queue, ATTEMPTS.c.send_count, ATTEMPTS.c.sent_at)
        .where(
            ATTEMPTS.c.state == QUEUED,
            or_(
                and_(ATTEMPTS.c.sent_at.is_(None), ATTEMPTS.c.queued_at <= now - unsent_after),
                ATTEMPTS.c.sent_at <= now - timedelta(seconds=base_seconds),  # the shortest wait
            ),
        )
        .order_by(ATTEMPTS.c.queued_at)
        .limit(limit)
    ).all()
    due: list[Unsent] = []
    for row in rows:
        if row.sent_at is not None:
            wait = base_seconds * (2 ** min(max(row.send_count - 1, 0), 5))
            if (now - row.sent_at).total_seconds() < wait:
                continue
        due.append(Unsent(row.id, row.queue))
    return due


def claim(session: Session, attempt_id: str, worker: str, now: datetime) -> Claimed | None:
    """Take a queued attempt for ``worker``; None when it is not queued (a duplicate, cancelled, ...)."""
    row = session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.id == attempt_id, ATTEMPTS.c.state == QUEUED)
        .values(state=RUNNING, owner=worker, started_at=now, heartbeat_at=now)
        .returning(ATTEMPTS.c.task_instance_id, ATTEMPTS.c.spec)
    ).first()
    if row is None:
        return None
    return Claimed(attempt_id, row.task_instance_id, row.spec)


def heartbeat(session: Session, worker: str, now: datetime) -> list[str]:
    """Renew every running attempt of ``worker``; returns the ids whose cancel was requested."""
    session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.owner == worker, ATTEMPTS.c.state == RUNNING)
        .values(heartbeat_at=now)
    )
    return list(
        session.execute(
            select(ATTEMPTS.c.id).where(
                ATTEMPTS.c.owner == worker, ATTEMPTS.c.state == RUNNING, ATTEMPTS.c.cancel_requested
            )
        ).scalars()
    )


def end(
    session: Session,
    attempt_id: str,
    worker: str,
    *,
    outcome: str,
    exit_code: int | None,
    message: str,
    now: datetime,
) -> bool:
    """The worker's report; False when the attempt is no longer this worker's (declared lost meanwhile)."""
    result = session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.id == attempt_id, ATTEMPTS.c.state == RUNNING, ATTEMPTS.c.owner == worker)
        .values(state=ENDED, outcome=outcome, exit_code=exit_code, message=message, ended_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def cancel_queued(session: Session, attempt_id: str, now: datetime) -> bool:
    """A queued attempt no worker has claimed ends CANCELLED at once; False if it was claimed already."""
    result = session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.id == attempt_id, ATTEMPTS.c.state == QUEUED)
        .values(
            state=ENDED, outcome="cancelled", message="cancelled before a worker started it", ended_at=now
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def request_cancel(session: Session, attempt_id: str) -> bool:
    result = session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.id == attempt_id, ATTEMPTS.c.state == RUNNING)
        .values(cancel_requested=True)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def ended(session: Session, limit: int = 500) -> list[Ended]:
    rows = session.execute(
        select(ATTEMPTS).where(ATTEMPTS.c.state == ENDED).order_by(ATTEMPTS.c.ended_at).limit(limit)
    ).all()
    return [
        Ended(
            r.id,
            r.task_instance_id,
            r.run_num,
            r.outcome,
            r.exit_code,
            r.message,
            r.started_at,
            r.ended_at,
        )
        for r in rows
    ]


def any_ended(session: Session) -> bool:
    return (
        session.execute(select(ATTEMPTS.c.id).where(ATTEMPTS.c.state == ENDED).limit(1)).first() is not None
    )


def declare_lost(session: Session, attempt_id: str, cutoff: datetime, message: str, now: datetime) -> bool:
    """End a running attempt whose heartbeat is older than ``cutoff``; False if it beat or ended meanwhile."""
    result = session.execute(
        update(ATTEMPTS)
        .where(
            ATTEMPTS.c.id == attempt_id,
            ATTEMPTS.c.state == RUNNING,
            or_(ATTEMPTS.c.heartbeat_at.is_(None), ATTEMPTS.c.heartbeat_at < cutoff),
        )
        .values(state=ENDED, outcome="lost", message=message, ended_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Stale:
    id: str
    owner: str
    heartbeat_at: datetime | None


def stale(session: Session, cutoff: datetime, exclude_owner: str) -> list[Stale]:
    """Running attempts of other owners whose last heartbeat is older than ``cutoff``."""
    rows = session.execute(
        select(ATTEMPTS.c.id, ATTEMPTS.c.owner, ATTEMPTS.c.heartbeat_at).where(
            ATTEMPTS.c.state == RUNNING,
            ATTEMPTS.c.owner != exclude_owner,
            or_(ATTEMPTS.c.heartbeat_at.is_(None), ATTEMPTS.c.heartbeat_at < cutoff),
        )
    ).all()
    return [Stale(r.id, r.owner, r.heartbeat_at) for r in rows]


def counts_by_state(session: Session) -> dict[tuple[str, str], int]:
    """(state, queue) → number of attempts, for the open states only (queued, running, ended)."""
    rows = session.execute(
        select(ATTEMPTS.c.state, ATTEMPTS.c.queue, func.count())
        .where(ATTEMPTS.c.state.in_((QUEUED, RUNNING, ENDED)))
        .group_by(ATTEMPTS.c.state, ATTEMPTS.c.queue)
    ).all()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def running_by_owner(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ATTEMPTS.c.owner, func.count()).where(ATTEMPTS.c.state == RUNNING).group_by(ATTEMPTS.c.owner)
    ).all()
    return {str(r[0]): int(r[1]) for r in rows}


# --- attempts run by this process (the local executor) and how any attempt is recorded ------------


def add_running(
    session: Session, attempt_id: str, task_instance_id: str, run_num: int, owner: str, now: datetime
) -> None:
    """A local attempt, claimed by ``owner`` before its process starts."""
    session.execute(
        insert(ATTEMPTS).values(
            id=attempt_id,
            task_instance_id=task_instance_id,
            run_num=run_num,
            state=RUNNING,
            owner=owner,
            queued_at=now,
            started_at=now,
            heartbeat_at=now,
            outcome="",
            message="",
            queue="",
            spec="",
            send_count=0,
            cancel_requested=False,
        )
    )


def finish(
    session: Session,
    attempt_id: str,
    *,
    outcome: str,
    exit_code: int | None,
    message: str,
    now: datetime,
    started_at: datetime | None = None,
) -> bool:
    """Record how an attempt ended (running, or ended by a worker → done); False if recorded before.

    ``started_at``, when given, is when its process really started (the executor's stamp), which
    replaces the claim time written when it was dispatched.
    """
    values = {"started_at": started_at} if started_at is not None else {}
    result = session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.id == attempt_id, ATTEMPTS.c.state.in_(attempt_sources(DONE)))
        # The encoded spec was only needed to run it; the task instance keeps the command shown.
        .values(
            state=DONE, outcome=outcome, exit_code=exit_code, message=message, ended_at=now, spec="", **values
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class AttemptRow:
    id: str
    task_instance_id: str
    run_num: int
    owner: str
    pid: int | None
    started_at: datetime | None


def running_attempts(session: Session, owner: str | None = None) -> list[AttemptRow]:
    """Attempts of ``owner`` that are running; with no owner, every queued or running attempt."""
    if owner is not None:
        query = select(m.TaskAttempt).where(m.TaskAttempt.state == RUNNING, m.TaskAttempt.owner == owner)
    else:
        query = select(m.TaskAttempt).where(m.TaskAttempt.state.in_((QUEUED, RUNNING)))
    return [_attempt_row(a) for a in session.execute(query).scalars()]


def _attempt_row(a: m.TaskAttempt) -> AttemptRow:
    return AttemptRow(a.id, a.task_instance_id, a.run_num, a.owner, a.pid, a.started_at)


def get(session: Session, attempt_id: str) -> AttemptRow | None:
    row = session.get(m.TaskAttempt, attempt_id)
    return None if row is None else _attempt_row(row)
