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

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from flowyard.domain.cron import CronExpression
from flowyard.domain.flows import Cycle
from flowyard.domain.instances import scheduled_suffix

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


def _floor_after(cursor: datetime, start_date: date | None, zone: tzinfo) -> datetime:
    """The instant to search after: the cursor, or just before the effective date if that is later.

    Arithmetic is done in UTC: wall-clock arithmetic on a zoned datetime goes
    wrong where a DST change happens at midnight.
    """
    floor = schedule_floor(start_date, zone)
    if floor is None:
        return cursor
    before_floor = floor.astimezone(UTC) - timedelta(microseconds=1)
    return max(cursor, before_floor)


def _walk_from(after: datetime, zone: tzinfo) -> datetime:
    """Where Quartz's forward walk must start so that no tick after ``after`` is missed.

    Quartz walks forward in wall-clock time and settles an ambiguous time on
    its later instant. From a cursor inside the first pass of a repeated
    (fall-back) hour it would never come back to the second pass, so the walk
    starts one overlap earlier and :func:`_first_after` drops what is not
    after the cursor.
    """
    local = after.astimezone(zone)
    first = local.utcoffset()
    second = local.replace(fold=1).utcoffset()
    if local.fold == 0 and first is not None and second is not None and first != second:
        return after - (first - second)
    return after


def _first_after(cron: CronExpression, zone: tzinfo, after: datetime) -> datetime | None:
    tick = cron.next_after(_walk_from(after, zone), zone)
    while tick is not None and tick <= after:
        tick = cron.next_after(tick, zone)
    return tick


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
    """Ticks in ``(cursor, now]`` (and not before ``start_date``) that should become instances.

    Instants are compared in UTC, so a ``now`` given in the schedule's own zone
    cannot be mistaken for a wall-clock time around DST changes.
    """
    if policy == CatchUp.ALL and limit <= 0:
        return []
    now = now.astimezone(UTC)
    after = _floor_after(cursor.astimezone(UTC), start_date, zone)
    if policy == CatchUp.NONE:
        after = max(after, now - grace - timedelta(microseconds=1))
    ticks: list[datetime] = []
    tick = _first_after(cron, zone, after)
    while tick is not None and tick <= now:
        ticks.append(tick)
        if policy == CatchUp.ALL and len(ticks) >= limit:
            break
        if policy == CatchUp.LATEST and len(ticks) > limit:
            ticks = ticks[-1:]  # only the newest matters; keep memory bounded over long downtimes
        tick = cron.next_after(tick, zone)
    if policy == CatchUp.LATEST:
        return ticks[-1:]
    return ticks


def next_tick(
    cron: CronExpression, zone: tzinfo, cursor: datetime, start_date: date | None = None
) -> datetime | None:
    """The next tick after ``cursor``: when the scheduler has to look at this flow again."""
    return _first_after(cron, zone, _floor_after(cursor.astimezone(UTC), start_date, zone))


NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # the next tick of a schedule that has none left


@dataclass(frozen=True, slots=True)
class TickPlan:
    """What one look at a flow's schedule decides: the ticks to create and where the schedule moves."""

    ticks: tuple[datetime, ...]  # the instances to create, oldest first
    cursor: datetime  # the new cursor: the newest tick considered (it only ever moves to fire times)
    upcoming: datetime  # when to look at this flow again (NEVER when no tick is left)


def plan_ticks(
    cron: CronExpression,
    zone: tzinfo,
    cursor: datetime | None,
    now: datetime,
    policy: CatchUp = CatchUp.LATEST,
    *,
    start_date: date | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> TickPlan:
    """The due ticks of one flow at ``now`` inside its schedule window, and its next look.

    ``cursor`` None means the schedule was just switched on: its first tick is the next one from
    ``now``. The window (FlowSpec's ``scheduleStartTime``/``scheduleEndTime``) bounds both ends.
    The cursor only ever moves to a fire time: Quartz chains each fire time from the previous one,
    and around DST changes the chain depends on where it starts.
    """
    if cursor is None:
        cursor = now
    floor = cursor if window_start is None else max(cursor, window_start - timedelta(microseconds=1))
    due = due_ticks(cron, zone, floor, now, policy, start_date=start_date)
    ticks = due if window_end is None else [t for t in due if t <= window_end]
    # Ticks after the window's end are passed over, not kept due: the cursor moves past them too,
    # or the flow would be looked at again on every step.
    new_cursor = max([cursor, *due])
    upcoming = next_tick(cron, zone, max(new_cursor, floor), start_date)
    if upcoming is None or (window_end is not None and upcoming > window_end):
        upcoming = NEVER
    return TickPlan(tuple(ticks), new_cursor, upcoming)


TICK_SAMPLE = 24  # consecutive fire times looked at to tell whether a cron is finer than its cycle


def finer_than_cycle(cron: CronExpression, zone: tzinfo, cycle: Cycle, after: datetime) -> bool:
    """Whether two fire times of ``cron`` can share one cycle-resolution instance id suffix.

    Such a flow (a 5-second cron with cycle ``mi``, two daily runs with cycle ``D``) gets
    second-resolution ids (``yyyyMMddHHmmss``) from its first tick on, so all its ids follow one
    rule; the others get their cycle's resolution. Looks at :data:`TICK_SAMPLE` fire times after
    ``after``.
    """
    seen: set[str] = set()
    tick = _first_after(cron, zone, after)
    for _ in range(TICK_SAMPLE):
        if tick is None:
            return False
        suffix = scheduled_suffix(tick, cycle)
        if suffix in seen:
            return True
        seen.add(suffix)
        tick = cron.next_after(tick, zone)
    return False
