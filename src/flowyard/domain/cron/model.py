"""Shared definitions: the exception type, field indices and the parsed-fields record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["ALL_SPEC", "FIELD_NAMES", "NO_SPEC", "CronError", "CronFields"]

SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR = range(7)
FIELD_NAMES: Final = ("second", "minute", "hour", "day-of-month", "month", "day-of-week", "year")
ALL_SPEC: Final = 99  # Quartz's marker for '*'
NO_SPEC: Final = 98  # Quartz's marker for '?'


class CronError(ValueError):
    """An expression Quartz would reject.

    ``str(error)`` reads ``invalid cron expression '<expression>': <reason>``, where the reason
    names the offending field when there is one (also available as :attr:`field`).
    """

    def __init__(self, expression: str, reason: str, field: str | None = None) -> None:
        super().__init__(f"invalid cron expression '{expression}': {reason}")
        self.expression = expression
        self.reason = reason
        self.field = field

    def __reduce__(self) -> tuple[type[CronError], tuple[str, str, str | None]]:
        # Keep the exception picklable (ValueError's default would pass only the message).
        return (type(self), (self.expression, self.reason, self.field))


@dataclass(frozen=True, slots=True)
class CronFields:
    """The parsed form of an expression: sorted value sets (with Quartz's 98/99 markers) and flags."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]
    years: tuple[int, ...]
    last_day_of_month: bool
    last_day_offset: int
    nearest_weekday: bool
    last_day_of_week: bool
    nth_day_of_week: int
    max_year: int
