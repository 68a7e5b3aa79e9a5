"""A minimal emulation of a lenient ``java.util.GregorianCalendar``.

Quartz's ``CronExpression.getTimeAfter`` steers a calendar with ``set(field, value)`` calls whose
values are routinely out of range (minute 60, day 0, day 32, month 12, hour 24) and relies on the
calendar's lenient normalisation, including what happens when the resulting wall time falls into
a DST gap or overlap.  Reproducing its answers exactly therefore needs the same model:

* ``set`` only records a field value and marks the calendar dirty (``isTimeSet = false``).
* The next ``get`` (or :meth:`JavaCalendar.time`) recomputes the instant from the fields:
  months overflow into years, days and time-of-day overflow into days, and the wall time is
  converted to UTC with :meth:`ZoneRules.offset_for_wall`.  Then every field is recomputed from
  that instant.  A field set to the value it already had can therefore still move the instant
  (an ambiguous wall time always resolves to the later, standard-time instant).

Only the fields Quartz uses exist here.  Dates use the proleptic Gregorian calendar (Java switches
to the Julian calendar before 1582-10-15, which no cron schedule in 1970-2099 can reach).
"""

from __future__ import annotations

from typing import Final

from .zones import DAY_MS, ZoneRules

__all__ = ["JavaCalendar", "days_from_civil", "last_day_of_month", "weekday_of_days"]

_EPOCH_DOW: Final = 5  # 1970-01-01 was a Thursday; java.util.Calendar numbers Sunday=1..Saturday=7


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date; ``month`` is 1-12, ``day`` any int."""
    # Howard Hinnant's algorithm, valid for every year; out-of-range days simply add on.
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468 + (day - 1)


def civil_from_days(days: int) -> tuple[int, int, int]:
    """Inverse of :func:`days_from_civil`: ``(year, month 1-12, day 1-31)``."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def weekday_of_days(days: int) -> int:
    """Java day-of-week (Sunday=1 .. Saturday=7) of a day number from :func:`days_from_civil`."""
    return (days + _EPOCH_DOW - 1) % 7 + 1


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


_MONTH_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def last_day_of_month(month: int, year: int) -> int:
    """Quartz's ``getLastDayOfMonth``: ``month`` is 1-12; anything else is a programming error."""
    if not 1 <= month <= 12:
        raise ValueError(f"illegal month number: {month}")
    if month == 2 and is_leap(year):
        return 29
    return _MONTH_DAYS[month - 1]


def wall_millis(year: int, month0: int, day: int, hour: int, minute: int, second: int, milli: int) -> int:
    """Lenient local wall time in ms since the epoch, normalised the way ``GregorianCalendar`` does."""
    year += month0 // 12  # floor division, as CalendarUtils.floorDivide does
    month0 %= 12
    days = days_from_civil(year, month0 + 1, day)
    time_of_day = ((hour * 60 + minute) * 60 + second) * 1000 + milli
    return days * DAY_MS + time_of_day  # carrying time-of-day into days is plain addition here


class JavaCalendar:
    """The subset of a lenient ``GregorianCalendar`` that Quartz's cron evaluation touches.

    Field names mirror Java's: ``month0`` is 0-based, ``day_of_week`` is Sunday=1..Saturday=7.
    """

    __slots__ = (
        "_days",
        "_dirty",
        "_millis",
        "_rules",
        "day",
        "hour",
        "milli",
        "minute",
        "month0",
        "second",
        "year",
    )

    def __init__(self, rules: ZoneRules, millis: int) -> None:
        self._rules = rules
        self.year = self.month0 = self.day = self.hour = self.minute = self.second = self.milli = 0
        self._days = 0
        self._millis = 0
        self._dirty = False
        self.set_time(millis)

    def set_time(self, millis: int) -> None:
        """``Calendar.setTime``: position at an instant and derive all fields from it."""
        self._millis = millis
        local = millis + self._rules.offset_at_utc(millis)
        days, time_of_day = divmod(local, DAY_MS)
        self._days = days
        self.year, month, self.day = civil_from_days(days)
        self.month0 = month - 1
        seconds, self.milli = divmod(time_of_day, 1000)
        minutes, self.second = divmod(seconds, 60)
        self.hour, self.minute = divmod(minutes, 60)
        self._dirty = False

    def _complete(self) -> None:
        if self._dirty:
            wall = wall_millis(
                self.year, self.month0, self.day, self.hour, self.minute, self.second, self.milli
            )
            self.set_time(wall - self._rules.offset_for_wall(wall))

    # --- Calendar.set(field, value): record only, normalise lazily -------------------------
    def set_second(self, value: int) -> None:
        self.second = value
        self._dirty = True

    def set_minute(self, value: int) -> None:
        self.minute = value
        self._dirty = True

    def set_hour(self, value: int) -> None:
        self.hour = value
        self._dirty = True

    def set_day(self, value: int) -> None:
        self.day = value
        self._dirty = True

    def set_month0(self, value: int) -> None:
        self.month0 = value
        self._dirty = True

    def set_year(self, value: int) -> None:
        self.year = value
        self._dirty = True

    def set_milli(self, value: int) -> None:
        self.milli = value
        self._dirty = True

    # --- Calendar.get(field): normalise first ----------------------------------------------
    def get_second(self) -> int:
        self._complete()
        return self.second

    def get_minute(self) -> int:
        self._complete()
        return self.minute

    def get_hour(self) -> int:
        self._complete()
        return self.hour

    def get_day(self) -> int:
        self._complete()
        return self.day

    def get_month0(self) -> int:
        self._complete()
        return self.month0

    def get_year(self) -> int:
        self._complete()
        return self.year

    def get_day_of_week(self) -> int:
        self._complete()
        return weekday_of_days(self._days)

    def time(self) -> int:
        """``Calendar.getTime().getTime()``: the instant in epoch milliseconds."""
        self._complete()
        return self._millis

    def state(self) -> tuple[int, ...]:
        """Everything that determines the calendar's future behaviour (for loop detection)."""
        if self._dirty:
            return (1, self.year, self.month0, self.day, self.hour, self.minute, self.second, self.milli)
        return (0, self._millis)

    def add_years(self, amount: int) -> None:
        """``GregorianCalendar.add(YEAR, amount)``: normalise, add, then pin the day of month."""
        self._complete()
        self.set_year(self.year + amount)
        # pinDayOfMonth: Feb 29 plus one year becomes Feb 28 rather than Mar 1.
        month_length = last_day_of_month(self.month0 + 1, self.year)
        if self.day > month_length:
            self.set_day(month_length)
