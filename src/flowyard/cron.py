"""Quartz-compatible cron expressions: the public facade of :mod:`flowyard.domain.cron`.

>>> from datetime import UTC, datetime
>>> start = datetime(2024, 3, 1, tzinfo=UTC)
>>> [t.isoformat() for t in next_fire_times("0 0 12 ? * MON-FRI", start, 2, "UTC")]
['2024-03-01T12:00:00+00:00', '2024-03-04T12:00:00+00:00']
"""

from flowyard.domain.cron import (
    MAX_YEAR,
    CronError,
    CronExpression,
    next_fire_times,
    parse_cron,
    resolve_zone,
)

__all__ = ["MAX_YEAR", "CronError", "CronExpression", "next_fire_times", "parse_cron", "resolve_zone"]
