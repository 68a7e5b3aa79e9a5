"""What the monitoring endpoints report about the whole deployment, read in one pass.

Functions take an open session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowyard.domain.states import Status
from flowyard.store import attempts
from flowyard.store import models as m

OPEN_STATUSES = (Status.INIT, Status.WAIT, Status.READY, Status.RUNNING)
WORKER_ALIVE = timedelta(seconds=30)  # a worker silent longer than this counts as gone


@dataclass(frozen=True, slots=True)
class Stats:
    attempts: dict[tuple[str, str], int]  # (state, queue) -> count, open states only; queue "" = local
    served_queues: frozenset[str]  # the queues registered workers consume
    open_instances: dict[Status, int]
    oldest_overdue_tick: datetime | None  # the earliest cron tick that is due and not yet made
    oldest_due_ready: datetime | None  # since when the longest-waiting due READY task has waited
    workers_alive: int


def read(session: Session, now: datetime) -> Stats:
    served = frozenset(
        q for (text,) in session.execute(select(m.Worker.queues)).all() for q in text.split(",") if q
    )
    by_status = dict(
        session.execute(
            select(m.FlowInstance.status, func.count())
            .where(m.FlowInstance.status.in_([int(s) for s in OPEN_STATUSES]))
            .group_by(m.FlowInstance.status)
        ).all()
    )
    overdue_tick = session.execute(
        select(func.min(m.FlowSchedule.next_tick_at)).where(m.FlowSchedule.next_tick_at <= now)
    ).scalar()
    ready_since = session.execute(
        select(func.min(m.TaskInstance.updated_at)).where(
            m.TaskInstance.status == int(Status.READY),
            m.TaskInstance.next_attempt_at.is_(None) | (m.TaskInstance.next_attempt_at <= now),
        )
    ).scalar()
    alive = session.execute(
        select(func.count()).select_from(m.Worker).where(m.Worker.heartbeat_at >= now - WORKER_ALIVE)
    ).scalar_one()
    return Stats(
        attempts=attempts.counts_by_state(session),
        served_queues=served,
        open_instances={s: int(by_status.get(int(s), 0)) for s in OPEN_STATUSES},
        oldest_overdue_tick=overdue_tick,
        oldest_due_ready=ready_since,
        workers_alive=int(alive),
    )
