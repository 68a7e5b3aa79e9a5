"""The single exception type of the cron package."""

from __future__ import annotations

__all__ = ["CronError"]


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
