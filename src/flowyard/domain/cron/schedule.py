"""Next-fire-time computation with the exact behaviour of Quartz 2.3.2's ``getTimeAfter``.

The algorithm walks a lenient calendar (:class:`~.jcalendar.JavaCalendar`) field by field, from
seconds up to years: whenever a field does not match it moves the calendar to the next candidate
(resetting the smaller fields) and starts over.  It is deliberately the same walk as Quartz's,
because Quartz's answers around DST transitions, short months, ``W``/``L``/``#`` and lenient
overflow are a product of that walk, not of a simple specification.  Notable consequences:

* Spring forward: a wall time inside the gap is pushed past it (02:30 becomes 03:30), where the
  hour no longer matches, so ``0 30 2 * * ?`` does not fire at all on that day; ``0 0 * * * ?``
  goes from 01:00 straight to 03:00.  Fall back: an ambiguous wall time resolves to the later
  (standard-time) instant, so ``0 30 2 * * ?`` fires once, at the second 02:30, and
  ``0 0 * * * ?`` goes from 01:00 (summer time) to 02:00 (winter time), skipping one real hour.
* ``nW`` and ``LW`` compare a candidate with the start time using a calendar whose milliseconds
  come from the wall clock (``Calendar.getInstance()``), which makes Quartz's answer depend on the
  current time when ``after`` has a non-zero millisecond part.  This implementation behaves like
  Quartz does when those milliseconds are 999 (equivalently: always, when ``after`` has no
  millisecond part), i.e. a candidate in the same second as the search start is accepted.
* Some expressions send Quartz into an endless loop (``0W`` is one: the calendar is set back to
  the same instant forever).  The walk here is deterministic, so a repeated state proves such a
  loop; :func:`time_after` then reports "no fire time" instead of hanging.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Final

from .jcalendar import JavaCalendar, last_day_of_month
from .model import NO_SPEC, CronFields
from .zones import ZoneRules

__all__ = ["QuartzLoopError", "time_after", "time_after_strict"]

_SATURDAY: Final = 7
_SUNDAY: Final = 1
_YEAR_LIMIT: Final = 2999  # Quartz's own "prevent endless loop" bound
_MAX_STEPS: Final = 200_000  # safety net only; real schedules need a few thousand steps at most
_FAR_FUTURE_MS: Final = 221_845_392_000_000  # 9000-01-01T00:00Z: local year is past 2999 anyway


class QuartzLoopError(RuntimeError):
    """Raised by :func:`time_after_strict` when Quartz's walk would never terminate."""


def _ceiling(values: tuple[int, ...], x: int) -> int | None:
    """``TreeSet.tailSet(x).first()``, or ``None`` when the tail set is empty."""
    i = bisect_left(values, x)
    return values[i] if i < len(values) else None


def _set_calendar_hour(cal: JavaCalendar, hour: int) -> None:
    # Quartz's DST guard: if the hour does not exist (spring forward), ask for the next one.
    cal.set_hour(hour)
    if cal.get_hour() != hour and hour != 24:
        cal.set_hour(hour + 1)


def _start_of_day(cal: JavaCalendar, day: int, month0: int) -> None:
    cal.set_second(0)
    cal.set_minute(0)
    cal.set_hour(0)
    cal.set_day(day)
    cal.set_month0(month0)


def _nearest_weekday(
    rules: ZoneRules, year: int, mon: int, day: int, clock: tuple[int, int, int], after_time: int
) -> tuple[int, bool]:
    """The ``W`` adjustment: returns (adjusted day, whether that candidate lies before the start).

    Mirrors Quartz's scratch calendar: it is positioned on ``year-mon-day`` (lenient, so day 0 or
    a negative day lands in an earlier month, possibly an earlier *year*, which then sticks) to
    read the weekday, and then moved to the candidate day and time of day in month ``mon``.
    """
    ldom = last_day_of_month(mon, year)
    tcal = JavaCalendar(rules, 0)
    tcal.set_milli(0)
    tcal.set_second(0)
    tcal.set_minute(0)
    tcal.set_hour(0)
    tcal.set_day(day)
    tcal.set_month0(mon - 1)
    tcal.set_year(year)
    dow = tcal.get_day_of_week()
    if dow == _SATURDAY and day == 1:
        day += 2
    elif dow == _SATURDAY:
        day -= 1
    elif dow == _SUNDAY and day == ldom:
        day -= 2
    elif dow == _SUNDAY:
        day += 1
    hour, minute, second = clock
    tcal.set_second(second)
    tcal.set_minute(minute)
    tcal.set_hour(hour)
    tcal.set_day(day)
    tcal.set_month0(mon - 1)
    # Quartz's scratch calendar carries the wall clock's milliseconds; 999 is the deterministic
    # choice that accepts a candidate in the same second as the start (see the module docstring).
    return day, tcal.time() + 999 < after_time


def time_after(fields: CronFields, rules: ZoneRules, after_ms: int) -> int | None:
    """The first fire time strictly after ``after_ms`` (epoch ms), or ``None`` if there is none.

    ``None`` also covers expressions on which Quartz itself would loop forever.
    """
    try:
        return time_after_strict(fields, rules, after_ms)
    except QuartzLoopError:
        return None


def time_after_strict(fields: CronFields, rules: ZoneRules, after_ms: int) -> int | None:
    """Like :func:`time_after`, but raise :class:`QuartzLoopError` where Quartz never returns."""
    seconds, minutes, hours = fields.seconds, fields.minutes, fields.hours
    doms, months, dows, years = fields.days_of_month, fields.months, fields.days_of_week, fields.years
    by_day_of_month = NO_SPEC not in doms and NO_SPEC in dows
    if not by_day_of_month and not (NO_SPEC not in dows and NO_SPEC in doms):
        raise ValueError("exactly one of day-of-month and day-of-week must be unspecified")

    if after_ms >= _FAR_FUTURE_MS:
        return None  # what Quartz's year-2999 guard answers; also keeps clear of datetime's limit
    after_time = after_ms + 1000  # Quartz searches from the next whole second
    cl = JavaCalendar(rules, after_time)
    cl.set_milli(0)
    seen: set[tuple[int, ...]] = set()
    shortcut_year = fields.max_year + 1
    may_shortcut = cl.get_year() <= shortcut_year

    for _ in range(_MAX_STEPS):
        state = cl.state()
        if state in seen:
            raise QuartzLoopError("the calendar returned to an earlier state")
        seen.add(state)
        year = cl.get_year()
        if year > _YEAR_LIMIT:
            return None
        if year > shortcut_year and may_shortcut:
            # Shortcut with the same answer: a result always passes the month step's
            # "year > max_year" check unchanged, and the walk never moves back more than about
            # a month (lenient day 0/-1/-2 from W), so from here Quartz can only end with null.
            # (Only for walks that got here from earlier years: the one endless loop Quartz has,
            # ``0W``, closes at the first day step, so a walk that crossed years is not in it.)
            # Without this an expression whose day step always moves on (``? * 9#3``) walks
            # month by month to year 2999.
            return None

        # Second.
        sec = cl.get_second()
        minute = cl.get_minute()
        found = _ceiling(seconds, sec)
        if found is not None:
            sec = found
        else:
            sec = seconds[0]
            minute += 1
            cl.set_minute(minute)
        cl.set_second(sec)

        # Minute.
        minute = cl.get_minute()
        hour = cl.get_hour()
        found = _ceiling(minutes, minute)
        if found is None or found != minute:
            if found is None:
                found = minutes[0]
                hour += 1
            cl.set_second(0)
            cl.set_minute(found)
            _set_calendar_hour(cl, hour)
            continue
        cl.set_minute(minute)

        # Hour.
        hour = cl.get_hour()
        day = cl.get_day()
        found = _ceiling(hours, hour)
        if found is None or found != hour:
            if found is None:
                found = hours[0]
                day += 1
            cl.set_second(0)
            cl.set_minute(0)
            cl.set_day(day)
            _set_calendar_hour(cl, found)
            continue
        cl.set_hour(hour)

        # Day of month or day of week.
        day = cl.get_day()
        mon = cl.get_month0() + 1
        if by_day_of_month:
            moved = _day_of_month_step(fields, rules, cl, day, mon, (hour, minute, sec), after_time)
        else:
            moved = _day_of_week_step(fields, cl, day, mon)
        if moved is None:
            continue
        cl.set_day(moved)

        # Month.
        mon = cl.get_month0() + 1
        year = cl.get_year()
        if year > fields.max_year:
            return None
        found = _ceiling(months, mon)
        if found is None or found != mon:
            if found is None:
                found = months[0]
                year += 1
            _start_of_day(cl, 1, found - 1)
            cl.set_year(year)
            continue
        cl.set_month0(mon - 1)

        # Year.
        year = cl.get_year()
        found = _ceiling(years, year)
        if found is None:
            return None
        if found != year:
            _start_of_day(cl, 1, 0)
            cl.set_year(found)
            continue
        cl.set_year(year)
        return cl.time()
    raise QuartzLoopError(f"no result after {_MAX_STEPS} steps")


def _day_of_month_step(
    f: CronFields,
    rules: ZoneRules,
    cl: JavaCalendar,
    day: int,
    mon: int,
    clock: tuple[int, int, int],
    after_time: int,
) -> int | None:
    """Day-of-month rule.  Returns the matching day, or ``None`` after moving the calendar on."""
    t = -1
    tmon = mon
    doms = f.days_of_month
    if f.last_day_of_month and not f.nearest_weekday:
        t = day
        day = last_day_of_month(mon, cl.get_year()) - f.last_day_offset
        if t > day:
            mon += 1
            if mon > 12:
                mon = 1
                tmon = 3333  # Quartz's trick to force the "moved" branch below
                cl.add_years(1)
            day = 1
    elif f.last_day_of_month:  # LW, L-nW
        t = day
        day = last_day_of_month(mon, cl.get_year()) - f.last_day_offset
        day, before = _nearest_weekday(rules, cl.get_year(), mon, day, clock, after_time)
        if before:
            day = 1
            mon += 1
    elif f.nearest_weekday:  # nW
        t = day
        day, before = _nearest_weekday(rules, cl.get_year(), mon, doms[0], clock, after_time)
        if before:
            day = doms[0]
            mon += 1
    else:
        found = _ceiling(doms, day)
        if found is not None:
            t = day
            day = found
            if day > last_day_of_month(mon, cl.get_year()):
                day = doms[0]
                mon += 1
        else:
            day = doms[0]
            mon += 1
    if day != t or mon != tmon:
        _start_of_day(cl, day, mon - 1)
        return None
    return day


def _days_until(current_dow: int, wanted_dow: int) -> int:
    """Quartz's forward distance between weekdays (not reduced modulo 7 for odd wanted values)."""
    if current_dow < wanted_dow:
        return wanted_dow - current_dow
    if current_dow > wanted_dow:
        return wanted_dow + (7 - current_dow)
    return 0


def _day_of_week_step(f: CronFields, cl: JavaCalendar, day: int, mon: int) -> int | None:
    """Day-of-week rule (``L``, ``#``, plain).  Returns the day, or ``None`` after moving on."""
    dows = f.days_of_week
    if f.last_day_of_week:
        add = _days_until(cl.get_day_of_week(), dows[0])
        last_day = last_day_of_month(mon, cl.get_year())
        if day + add > last_day:
            _start_of_day(cl, 1, mon)  # month index `mon` is the next month (0-based)
            return None
        while day + add + 7 <= last_day:
            add += 7
        day += add
        if add > 0:
            _start_of_day(cl, day, mon - 1)
            return None
        return day
    if f.nth_day_of_week != 0:
        add = _days_until(cl.get_day_of_week(), dows[0])
        shifted = add > 0
        day += add
        week_of_month = day // 7 + (1 if day % 7 > 0 else 0)
        add = (f.nth_day_of_week - week_of_month) * 7
        day += add
        if add < 0 or day > last_day_of_month(mon, cl.get_year()):
            _start_of_day(cl, 1, mon)
            return None
        if add > 0 or shifted:
            _start_of_day(cl, day, mon - 1)
            return None
        return day
    current = cl.get_day_of_week()
    wanted = _ceiling(dows, current)
    add = _days_until(current, dows[0] if wanted is None else wanted)
    if day + add > last_day_of_month(mon, cl.get_year()):
        _start_of_day(cl, 1, mon)
        return None
    if add > 0:
        _start_of_day(cl, day + add, mon - 1)
        return None
    return day
