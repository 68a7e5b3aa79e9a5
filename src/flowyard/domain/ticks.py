"""Cron ticks of periodic flows: which scheduled times are due, and what to do about missed ones.

Each flow has a cursor: the last tick already turned into an instance (or the
moment scheduling was switched on). Ticks strictly after the cursor and at or
before ``now`` are due. After downtime several may be due; the catch-up
policy decides (README, "Scheduling"):

- ``latest`` (default): run only the most recent missed tick, once. Today's
  data gets processed, yesterday's backlog does not flood the machine
  (Airflow's ``catchup=False``).
- ``all``: run every missed tick, oldest first, at most ``limit`` per call.
- ``none``: run a tick only if it is at most ``grace`` old; missed ones are
  dropped.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from flowyard.domain.cron import CronExpression

DEFAULT_GRACE = timedelta(minutes=1)
MAX_TICKS_PER_CALL = 1000


class CatchUp(StrEnum):
    LATEST = "latest"
    ALL = "all"
    NONE = "none"


def schedule_floor(start_date: date | None, zone: tzinfo) -> datetime | None:
    """The first instant a flow's effective date (``startTime``) allows, in ``zone``."""
    if start_date is None:
        return None
    return datetime.combine(start_date, time(0, 0), tzinfo=zone)


def due_ticks(
    cron: CronExpression,
    zone: tzinfo,
    cursor: datetime,
    now: datetime,
    policy: CatchUp = CatchUp.LATEST,
    *,
    start_date: date | None = None,
    grace: timedelta = DEFAULT_GRACE,
    limit: int = MAX_TICKS_PER_CALL,
) -> list[datetime]:
    """Ticks in ``(cursor, now]`` (and not before ``start_date``) that should become instances."""
    floor = schedule_floor(start_date, zone)
    after = cursor
    if floor is not None and floor - timedelta(microseconds=1) > after:
        after = floor - timedelta(microseconds=1)
    ticks: list[datetime] = []
    tick = cron.next_after(after, zone)
    while tick is not None and tick <= now:
        ticks.append(tick)
        if policy == CatchUp.ALL and len(ticks) >= limit:
            break
        tick = cron.next_after(tick, zone)
        if policy != CatchUp.ALL and len(ticks) > limit:
            ticks = ticks[-1:]  # only the newest matters; keep memory bounded over long downtimes
    if policy == CatchUp.ALL:
        return ticks
    if policy == CatchUp.LATEST:
        return ticks[-1:]
    return [t for t in ticks if now - t <= grace]


def next_tick(
    cron: CronExpression, zone: tzinfo, cursor: datetime, start_date: date | None = None
) -> datetime | None:
    """The next tick after ``cursor``: when the scheduler has to look at this flow again."""
    floor = schedule_floor(start_date, zone)
    after = cursor if floor is None or floor <= cursor else floor - timedelta(microseconds=1)
    return cron.next_after(after, zone)
