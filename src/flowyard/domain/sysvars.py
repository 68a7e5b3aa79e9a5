"""The system variables of EnOS spec 1.6, computed from an instance's trigger time.

Everything is a function of a :class:`RunContext`; nothing here reads the
clock, so a back-filled instance (trigger time in the past, spec 1.2 rule 2)
gets exactly the values it would have had on time.

Time rules
----------
* The trigger time is converted to the server zone ``ctx.zone`` and only its
  local *wall clock* is used from then on. The **business date** is the local
  trigger date minus one calendar day (not minus 24 hours), so DST changes
  never move it.
* ``${hcal_dt8}`` / ``${cal_hr}``: the spec defines them as the date and hour
  of "business datetime − 1 h", where the business datetime is the trigger's
  local date and time moved back one calendar day (its example: business
  datetime 2017-05-26 00:30 gives 20170525 and 23; the original EnOS table
  lists 2017-05-26 00:30:00 in its "business date" column). The business
  datetime is a wall-clock value that may not exist or may be ambiguous in the
  zone on that earlier day, so the hour is also taken off the wall clock:
  ``cal_hr`` is always the local trigger hour minus one (``00`` → ``23``) and
  ``hcal_dt8`` is the business date, or the day before it when the local
  trigger hour is 00. For the main example (trigger 2017-05-27 13:50) that is
  ``20170526`` and ``12``. Consequence, chosen on purpose: in Europe/Berlin a
  trigger at 2024-04-01 03:30 gives ``cal_hr`` 02 although 2024-03-31 had no
  02:xx; elapsed-time arithmetic would give 01 for both the 02:30 and the 03:30
  trigger, so consecutive hourly runs would no longer map to distinct hours.
* ``${this_hour}`` is the local trigger time cut to the hour
  (``yyyy-MM-dd HH:00:00``); during a DST fall-back both 02:xx hours render the
  same string. ``${unix_timestamp}`` is the trigger instant in whole seconds
  (floored) and is the only zone-independent value. The docs print
  ``1495864241`` for their example, which is 2017-05-27 13:50:41 in GMT+8.
* ``${monday_next_week8/10}`` is the first Monday strictly after the business
  date (a Monday business date gives the Monday a week later).
* "last month" is the calendar month before the *business* month.

Non-time variables: ``${task_id}`` is ``""`` when the context has no task
(flow-level substitution); ``${instance_id}``, ``${env.APP_CUSTOMER}`` and
``${env.APP_ID}`` are the context strings as given.

Offsets
-------
:func:`offset_variable` computes the open-ended family ``${cal_dt-n}`` and
``${cal_dt8-n}`` (documented by EnOS) and, by the same rule, ``${cal_dt+n}``,
``${cal_dt8+n}`` and ``${ncal_dt±n}`` / ``${ncal_dt8±n}`` (our extension;
``${ncal_dt-1}`` equals ``${cal_dt}``). ``n`` is 1 to 5 ASCII digits, with no
spaces; an offset whose result leaves the years 1-9999 is not a variable (the
substitution reports it as unknown). The offset always counts from the dates
computed here, never from a user parameter that happens to be named ``cal_dt``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)
# Four-digit years keep the "8"/"10" formats at their lengths, and one year of
# margin on top lets every fixed variable be computed without overflow.
MIN_YEAR = 1000
MAX_YEAR = 9998
_OFFSET_NAME = re.compile(r"(n?cal_dt)(8?)([+-])([0-9]{1,5})")

#: Every fixed-name system variable, in the order of the spec's table.
SYSTEM_VARIABLE_NAMES: tuple[str, ...] = (
    "cal_dt",
    "cal_dt8",
    "ncal_dt",
    "ncal_dt8",
    "last_week8",
    "last_week10",
    "first_day_this_month8",
    "first_day_this_month10",
    "end_day_this_month8",
    "end_day_this_month10",
    "first_day_last_month8",
    "first_day_last_month10",
    "last_day_last_month8",
    "last_day_last_month10",
    "monday_next_week8",
    "monday_next_week10",
    "30days_cal_dt",
    "hcal_dt8",
    "cal_hr",
    "this_hour",
    "unix_timestamp",
    "task_id",
    "instance_id",
    "env.APP_CUSTOMER",
    "env.APP_ID",
)


@dataclass(frozen=True, slots=True)
class RunContext:
    """What the values of the system variables depend on, for one task instance.

    ``trigger_at`` must be timezone-aware and fall in the years
    :data:`MIN_YEAR`..:data:`MAX_YEAR` in ``zone`` (otherwise
    :class:`ValueError`): it is the instance's trigger time and the time base of
    every date variable, even when it lies in the past. ``zone`` is the server
    time zone in which dates are computed.
    """

    trigger_at: datetime
    zone: tzinfo
    task_id: int | None = None
    instance_id: str = ""
    task_instance_id: str = ""
    app_customer: str = ""
    app_id: str = ""

    def __post_init__(self) -> None:
        if self.trigger_at.tzinfo is None or self.trigger_at.utcoffset() is None:
            raise ValueError(f"RunContext.trigger_at must be timezone-aware, got {self.trigger_at!r}")
        try:
            year = self.local_trigger.year
        except OverflowError:
            year = 0
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise ValueError(f"RunContext.trigger_at must lie in the years {MIN_YEAR}-{MAX_YEAR} in its zone")

    @property
    def local_trigger(self) -> datetime:
        """The trigger time as a naive wall-clock datetime in ``zone``."""
        return self.trigger_at.astimezone(self.zone).replace(tzinfo=None, fold=0)

    @property
    def business_date(self) -> date:
        """The local trigger date minus one calendar day (spec 1.2)."""
        return self.local_trigger.date() - _ONE_DAY


def _d8(day: date) -> str:
    # Not strftime: glibc's %Y does not pad years below 1000.
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _d10(day: date) -> str:
    return day.isoformat()


def _end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def system_variables(ctx: RunContext) -> dict[str, str]:
    """Every fixed-name system variable of spec 1.6 (see :data:`SYSTEM_VARIABLE_NAMES`) for ``ctx``.

    Keys are the names without ``${}``; the rules are in the module docstring.
    """
    local = ctx.local_trigger
    business = local.date() - _ONE_DAY
    trigger_day = local.date()
    last_week = business - timedelta(days=6)
    first_this = business.replace(day=1)
    end_this = _end_of_month(business)
    last_of_previous = first_this - _ONE_DAY
    first_of_previous = last_of_previous.replace(day=1)
    monday_next = business + timedelta(days=7 - business.weekday())
    hour_before = local - timedelta(days=1, hours=1)
    return {
        "cal_dt": _d10(business),
        "cal_dt8": _d8(business),
        "ncal_dt": _d10(trigger_day),
        "ncal_dt8": _d8(trigger_day),
        "last_week8": _d8(last_week),
        "last_week10": _d10(last_week),
        "first_day_this_month8": _d8(first_this),
        "first_day_this_month10": _d10(first_this),
        "end_day_this_month8": _d8(end_this),
        "end_day_this_month10": _d10(end_this),
        "first_day_last_month8": _d8(first_of_previous),
        "first_day_last_month10": _d10(first_of_previous),
        "last_day_last_month8": _d8(last_of_previous),
        "last_day_last_month10": _d10(last_of_previous),
        "monday_next_week8": _d8(monday_next),
        "monday_next_week10": _d10(monday_next),
        "30days_cal_dt": _d10(business - timedelta(days=30)),
        "hcal_dt8": _d8(hour_before.date()),
        "cal_hr": f"{hour_before.hour:02d}",
        "this_hour": f"{_d10(local.date())} {local.hour:02d}:00:00",
        "unix_timestamp": str((ctx.trigger_at - _EPOCH) // timedelta(seconds=1)),
        "task_id": "" if ctx.task_id is None else str(ctx.task_id),
        "instance_id": ctx.instance_id,
        "env.APP_CUSTOMER": ctx.app_customer,
        "env.APP_ID": ctx.app_id,
    }


def offset_variable(name: str, ctx: RunContext) -> str | None:
    """The value of an offset form such as ``cal_dt-3`` or ``ncal_dt8+1``, or None if ``name`` is not one.

    An offset that leaves the range of :class:`datetime.date` also gives None,
    so the caller reports it as an unknown variable.
    """
    match = _OFFSET_NAME.fullmatch(name)
    if match is None:
        return None
    base_name, compact, sign, digits = match.groups()
    base = ctx.business_date if base_name == "cal_dt" else ctx.local_trigger.date()
    days = int(digits) if sign == "+" else -int(digits)
    try:
        day = base + timedelta(days=days)
    except OverflowError:
        return None
    return _d8(day) if compact else _d10(day)
