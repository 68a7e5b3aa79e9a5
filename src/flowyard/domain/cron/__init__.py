"""Quartz-compatible cron expressions (pure standard-library code).

Public API (re-exported by :mod:`flowyard.cron`):

* :func:`parse_cron` -> :class:`CronExpression`, raising :class:`CronError` (a ``ValueError``).
* :meth:`CronExpression.next_after` and :func:`next_fire_times`.

Modules: :mod:`.fields` parses, :mod:`.schedule` computes fire times on the lenient calendar of
:mod:`.jcalendar`, :mod:`.zones` resolves zones with Java's DST rules, :mod:`.model` holds the
shared definitions, and :mod:`.expression` ties them together and documents where this
deliberately differs from Quartz 2.3.2.
"""

from .expression import MAX_YEAR, CronExpression, next_fire_times, parse_cron
from .model import CronError
from .zones import resolve_zone

__all__ = ["MAX_YEAR", "CronError", "CronExpression", "next_fire_times", "parse_cron", "resolve_zone"]
