"""Scheduler leadership: a lease row that one scheduler holds at a time and renews while alive.

A standby takes the lease once it has expired, so a scheduler killed with -9
is replaced within one lease period. The holder renews it on every step and
stops scheduling the moment a renewal fails. Times come from the caller (the
schedulers' clocks must agree within a small fraction of the lease, as with
any lease; keep machines on NTP). Functions take an open session and never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowyard.store import models as m

LEASES = cast(Table, m.SchedulerLease.__table__)
SCHEDULER = "scheduler"


def acquire(session: Session, holder: str, now: datetime, ttl: timedelta, name: str = SCHEDULER) -> bool:
    """Take or renew the lease for ``holder``; False while another holder's lease is unexpired."""
    result = session.execute(
        update(LEASES)
        .where(LEASES.c.name == name, or_(LEASES.c.holder == holder, LEASES.c.expires_at <= now))
        .values(
            holder=holder,
            expires_at=now + ttl,
            acquired_at=case((LEASES.c.holder == holder, LEASES.c.acquired_at), else_=now),
        )
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    if session.execute(select(LEASES.c.name).where(LEASES.c.name == name)).first() is not None:
        return False
    try:
        with session.begin_nested():
            session.add(m.SchedulerLease(name=name, holder=holder, acquired_at=now, expires_at=now + ttl))
    except IntegrityError:  # another scheduler inserted it first
        return False
    return True


def release(session: Session, holder: str, name: str = SCHEDULER) -> None:
    """Give the lease up at a clean stop, so a standby takes over at once."""
    session.execute(delete(LEASES).where(LEASES.c.name == name, LEASES.c.holder == holder))


def holder(session: Session, now: datetime, name: str = SCHEDULER) -> str | None:
    row = session.execute(select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == name)).first()
    if row is None or row.expires_at <= now:
        return None
    return str(row.holder)
