"""Time-zone resolution and ``java.util.GregorianCalendar``-compatible offset lookups.

Quartz does all of its arithmetic on a lenient ``GregorianCalendar``.  Two conversions matter:

* **instant -> wall clock** is unambiguous: the zone's offset at that instant.
* **wall clock -> instant** (what the calendar does after every ``set``) is ambiguous around DST
  transitions.  ``sun.util.calendar.ZoneInfo.getOffsetsByWall`` picks the offset of the last
  transition whose *new* wall time is <= the requested wall time.  For a wall time inside a gap
  that is the offset *before* the transition (02:30 in a spring-forward gap becomes 03:30), and for
  a wall time inside an overlap it is the offset *after* the transition (the later, standard-time
  instant).  In both cases that is the smaller of the two candidate offsets, which is what
  :meth:`ZoneRules.offset_for_wall` returns (``min`` of the PEP 495 ``fold=0``/``fold=1`` offsets).

Offsets are looked up per calendar day and cached: the expensive ``zoneinfo`` call only happens
for days that contain a transition.  (A day whose start, middle and end share one offset is taken
to have no transition; tzdb has no zone that changes offset twice within one day and back.)
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from threading import Lock
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DAY_MS", "ZoneRules", "resolve_zone", "rules_for", "zone_name"]

DAY_MS: Final = 86_400_000
_DAY_S: Final = 86_400
_EPOCH: Final = datetime(1970, 1, 1)  # naive; used as the origin for UTC and wall arithmetic
_MIXED: Final = -(10**9)  # cache marker: the day contains a transition, ask zoneinfo every time
_CACHE_LIMIT: Final = 200_000  # days per zone and direction; ~550 years, a few MB at most
# datetime covers years 1-9999; a probe outside (a lenient wall time in year 0) uses the nearest
# representable second, where every zone is on a constant (local mean time or final) offset.
_PROBE_MIN: Final = -62_135_510_400  # 0001-01-02T00:00:00
_PROBE_MAX: Final = 253_402_128_000  # 9999-12-30T00:00:00

# java.util.TimeZone custom IDs: "GMT" sign hours [[":"] minutes], hours 0-23, minutes 0-59.
_CUSTOM_ID = re.compile(r"GMT([+-])([0-9]{1,2})(?::?([0-9]{2}))?")


def resolve_zone(name: str) -> tzinfo:
    """Return the ``tzinfo`` for an IANA name (``"Europe/Berlin"``) or a Java-style ``"GMT+8"``.

    ``"GMT+8"``, ``"GMT-05:30"`` and ``"GMT+0530"`` map to fixed offsets like
    ``java.util.TimeZone.getTimeZone`` does.  Unlike Java, an unknown name raises ``ValueError``
    instead of silently meaning GMT.
    """
    match = _CUSTOM_ID.fullmatch(name.strip())
    if match:
        sign, hours_text, minutes_text = match.groups()
        hours, minutes = int(hours_text), int(minutes_text or "0")
        if hours > 23 or minutes > 59:
            raise ValueError(f"invalid time zone {name!r}: offset out of range")
        if hours == 0 and minutes == 0:
            return timezone(timedelta(0), "GMT")
        delta = timedelta(hours=hours, minutes=minutes)
        label = f"GMT{sign}{hours:02d}:{minutes:02d}"
        return timezone(-delta if sign == "-" else delta, label)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def zone_name(tz: tzinfo) -> str:
    """A display name for a zone: the IANA key, the fixed-offset label, or ``str(tz)``."""
    if isinstance(tz, ZoneInfo):
        return tz.key
    if isinstance(tz, timezone):
        return tz.tzname(None) or str(tz)
    return str(tz)


class ZoneRules:
    """Offset lookups (in milliseconds) for one zone, with the Java wall-time disambiguation."""

    __slots__ = ("_fixed", "_lock", "_utc_days", "_wall_days", "tz")

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._fixed: int | None = None
        if isinstance(tz, timezone):
            # A fixed offset: no transitions, no caches needed.
            self._fixed = round(tz.utcoffset(None).total_seconds() * 1000)
        self._utc_days: dict[int, int] = {}
        self._wall_days: dict[int, int] = {}
        self._lock = Lock()

    def offset_at_utc(self, utc_ms: int) -> int:
        """The zone's total offset at the instant ``utc_ms`` (epoch milliseconds)."""
        if self._fixed is not None:
            return self._fixed
        day = utc_ms // DAY_MS
        cached = self._utc_days.get(day)
        if cached is None:
            base = day * _DAY_S
            probes = {self._exact_at_utc(base + t) for t in (0, _DAY_S // 2, _DAY_S - 1)}
            cached = probes.pop() if len(probes) == 1 else _MIXED
            self._remember(self._utc_days, day, cached)
        if cached != _MIXED:
            return cached
        return self._exact_at_utc(utc_ms // 1000)

    def offset_for_wall(self, wall_ms: int) -> int:
        """The offset Java's lenient calendar subtracts from wall time ``wall_ms`` to get UTC."""
        if self._fixed is not None:
            return self._fixed
        day = wall_ms // DAY_MS
        cached = self._wall_days.get(day)
        if cached is None:
            base = day * _DAY_S
            probes = {self._exact_for_wall(base + t) for t in (0, _DAY_S // 2, _DAY_S - 1)}
            cached = probes.pop() if len(probes) == 1 else _MIXED
            self._remember(self._wall_days, day, cached)
        if cached != _MIXED:
            return cached
        return self._exact_for_wall(wall_ms // 1000)

    def _remember(self, cache: dict[int, int], day: int, value: int) -> None:
        with self._lock:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[day] = value

    def _exact_at_utc(self, utc_s: int) -> int:
        utc_s = min(max(utc_s, _PROBE_MIN), _PROBE_MAX)
        moment = (_EPOCH + timedelta(seconds=utc_s)).replace(tzinfo=self.tz)
        offset = self.tz.fromutc(moment).utcoffset()
        return _to_ms(offset)

    def _exact_for_wall(self, wall_s: int) -> int:
        wall_s = min(max(wall_s, _PROBE_MIN), _PROBE_MAX)
        wall = (_EPOCH + timedelta(seconds=wall_s)).replace(tzinfo=self.tz)
        early = _to_ms(wall.utcoffset())
        late = _to_ms(wall.replace(fold=1).utcoffset())
        # Gap: the earlier offset is the smaller one; overlap: the later one is.  Java wants the
        # smaller in both cases (see the module docstring).
        return min(early, late)


def _to_ms(offset: timedelta | None) -> int:
    if offset is None:
        raise ValueError("time zone returned no UTC offset")
    return (offset.days * _DAY_S + offset.seconds) * 1000 + offset.microseconds // 1000


_RULES: dict[tzinfo, ZoneRules] = {}
_RULES_LOCK = Lock()


def rules_for(tz: tzinfo) -> ZoneRules:
    """The shared (cached) :class:`ZoneRules` for ``tz``."""
    try:
        return _RULES[tz]
    except (KeyError, TypeError):
        pass
    rules = ZoneRules(tz)
    try:
        with _RULES_LOCK:
            if len(_RULES) > 1000:
                _RULES.clear()
            return _RULES.setdefault(tz, rules)
    except TypeError:  # an unhashable custom tzinfo: no sharing
        return rules
