"""Public entry points: :func:`parse_cron`, :class:`CronExpression` and :func:`next_fire_times`.

Semantics are those of Quartz 2.3.2's ``org.quartz.CronExpression`` (``getTimeAfter`` chained),
checked by ``tests/integration/test_cron_quartz_differential.py`` against the real library.
Where Quartz has a defect a user would not want, this implementation deliberately differs:

* **Last year.**  Quartz's ``MAX_YEAR`` is *the year the class was loaded plus 100*, so its
  answers (and which ``a/b`` year fields it accepts) depend on the machine's clock.  Here the
  limit is the fixed :data:`MAX_YEAR` = 2099: ``*`` in the year field means 1970-2099, nothing
  fires after 2099, and a year range starting after 2099 is rejected like any descending range.
* **Fields that select nothing** (``,``, or ``L`` in the seconds field) are rejected by
  :func:`parse_cron`.  Quartz accepts them and then throws ``NoSuchElementException`` from every
  evaluation (or, for the year field, never fires).
* **Endless loops.**  For a few expressions (``0W`` in day-of-month, for example) Quartz's
  evaluation never returns.  Here the loop is detected and the result is "no fire time".
* **W and milliseconds.**  For ``nW``/``LW`` Quartz compares against a scratch calendar carrying
  the *current* wall-clock milliseconds; the result here is Quartz's result for ``after`` values
  without a millisecond part (see :mod:`.schedule`).
* **Unknown zones** raise ``ValueError``; Java silently uses GMT.
* Not reproduced: 32-bit overflow in absurd increments or year ranges (Quartz hangs or runs out
  of memory), and the Julian calendar Java uses before 1582-10-15.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Final

from .fields import parse_fields
from .model import CronError, CronFields
from .schedule import time_after
from .zones import resolve_zone, rules_for

__all__ = [
    "MAX_YEAR",
    "CronError",
    "CronExpression",
    "from_epoch_ms",
    "next_fire_times",
    "parse_cron",
    "parse_cron_with_max_year",
    "to_epoch_ms",
]

MAX_YEAR: Final = 2099
"""The last year in which an expression can fire (Quartz: load year + 100, see module docstring)."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)


def to_epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (sub-millisecond parts are floored)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()}")
    return (moment - _EPOCH) // _ONE_MS


def from_epoch_ms(millis: int, tz: tzinfo) -> datetime:
    """The aware datetime in ``tz`` for epoch milliseconds (fold set correctly in overlaps)."""
    return (_EPOCH + timedelta(milliseconds=millis)).astimezone(tz)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed, immutable (hashable) Quartz cron expression.

    Build it with :func:`parse_cron`.  ``expression`` is the text as given; ``fields`` holds the
    value sets Quartz would build for it.
    """

    expression: str
    fields: CronFields = field(repr=False)

    def __str__(self) -> str:
        return self.expression

    def next_after(self, after: datetime, tz: tzinfo | str) -> datetime | None:
        """The first fire time strictly after ``after``, evaluated in zone ``tz``.

        ``after`` must be timezone-aware (``ValueError`` otherwise); only its instant matters.
        The result is an aware datetime in ``tz`` with a zero microsecond part, or ``None`` when
        the schedule has no later fire time (year field exhausted, impossible dates such as
        February 30, or an expression on which Quartz would loop forever).
        """
        zone = resolve_zone(tz) if isinstance(tz, str) else tz
        millis = time_after(self.fields, rules_for(zone), to_epoch_ms(after))
        return None if millis is None else from_epoch_ms(millis, zone)

    def fire_times(self, after: datetime, count: int, tz: tzinfo | str) -> list[datetime]:
        """Up to ``count`` consecutive fire times after ``after`` (fewer when the schedule ends)."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        zone = resolve_zone(tz) if isinstance(tz, str) else tz
        rules = rules_for(zone)
        millis: int | None = to_epoch_ms(after)
        result: list[datetime] = []
        while len(result) < count:
            assert millis is not None
            millis = time_after(self.fields, rules, millis)
            if millis is None:
                break
            result.append(from_epoch_ms(millis, zone))
        return result


@lru_cache(maxsize=2048)
def parse_cron_with_max_year(expression: str, max_year: int) -> CronExpression:
    """:func:`parse_cron` with another last year, e.g. the ``MAX_YEAR`` of a running Quartz.

    Meant for compatibility checks against a real Quartz (whose limit depends on its clock);
    application code should use :func:`parse_cron`.
    """
    if not isinstance(expression, str):
        raise TypeError(f"cron expression must be a str, got {type(expression).__name__}")
    return CronExpression(expression, parse_fields(expression, max_year))


def parse_cron(expression: str) -> CronExpression:
    """Parse a Quartz cron expression (6 or 7 fields), accepting exactly what Quartz 2.3.2 does.

    Raises :class:`CronError` (a ``ValueError``) naming the problem and the field, e.g.
    ``invalid cron expression '0 0 25 * * ?': hour value 25 out of range 0-23``.
    """
    return parse_cron_with_max_year(expression, MAX_YEAR)


def next_fire_times(expr: str, after: datetime, count: int, tz: str) -> list[datetime]:
    """The next ``count`` fire times of ``expr`` strictly after ``after``, in zone ``tz``.

    Equivalent to Quartz's ``getTimeAfter`` applied ``count`` times in a chain.  ``after`` must be
    aware; ``tz`` is an IANA name or a ``GMT+8``-style fixed offset.  Fewer than ``count`` times
    are returned when the schedule ends.  Raises :class:`CronError` for an invalid expression and
    ``ValueError`` for a naive ``after``, an unknown zone or a negative ``count``.
    """
    return parse_cron(expr).fire_times(after, count, resolve_zone(tz))
