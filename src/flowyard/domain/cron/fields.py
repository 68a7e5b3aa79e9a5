"""Parsing of Quartz cron expressions into value sets, accepting exactly what Quartz 2.3.2 accepts.

Quartz's parser is a hand-written scanner with many lenient corners, and "exactly what Quartz
accepts" means reproducing them.  The ones worth knowing (all verified against Quartz 2.3.2):

* Fields are separated by spaces and tabs only; each field is then trimmed of ASCII control
  characters.  Fields after the seventh are ignored.  Fewer than six fields are rejected.
* After a complete value the scanner stops reading: ``5X`` means 5, ``JANUARY`` means JAN,
  ``MON-FRI/2`` means MON-FRI, ``*X`` means every value, ``?X`` means ``?``.
* ``/`` after a single value or ``*`` checks the increment against the field's range; ``a-b/n``
  does not, so ``5-10/75`` is accepted and means just 5.  An increment of 0 means the start value.
* ``L`` alone in a second/minute/hour/month/year field adds nothing (``5,L`` in hours means 5);
  ``L`` in day-of-week means Saturday; ``nL`` and ``n#k`` are only range-checked loosely
  (``9#2`` and ``0W`` are accepted, and behave as Quartz's arithmetic makes them behave).
* The literal values 99 and 98 are Quartz's internal markers for ``*`` and ``?`` and behave as
  such (``99`` in any field means ``*``; ``98`` in a day field means ``?``).
* The year field is not range-checked at all; a year range must not be descending, and year sets
  stop at ``max_year`` (Quartz's ``MAX_YEAR``; see :mod:`flowyard.domain.cron.expression`).

Deliberate deviation: a field selecting no values at all (``,``, or ``L`` in seconds) is rejected;
Quartz accepts it, then fails every evaluation (see :mod:`flowyard.domain.cron.expression`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from .model import (
    ALL_SPEC,
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    FIELD_NAMES,
    HOUR,
    MINUTE,
    MONTH,
    NO_SPEC,
    SECOND,
    YEAR,
    CronError,
    CronFields,
)

__all__ = ["parse_fields"]

_MONTH_NAMES: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS: Final = {name: i for i, name in enumerate(_MONTH_NAMES)}  # 0-based, as in Quartz's monthMap
_DAYS: Final = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
# Inclusive bounds used by Quartz's range check and its default range per field (year: see below).
_BOUNDS: Final = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (1, 7))
_WRAP: Final = (60, 60, 24, 31, 12, 7)  # modulus for descending ranges such as 22-2 or FRI-MON
_INCREMENT_MAX: Final = {SECOND: 59, MINUTE: 59, HOUR: 23, DAY_OF_MONTH: 31, DAY_OF_WEEK: 7, MONTH: 12}
_L_OFFSET: Final = re.compile(r"L-[0-9]*W?")
_TRIM: Final = "".join(chr(i) for i in range(33))  # String.trim() strips every char <= U+0020


class _FieldError(Exception):
    """Internal: a parse failure in the current field; ``parse_fields`` adds the context."""


def _java_int(text: str) -> int:
    """``Integer.parseInt``: optional sign, at least one decimal digit, 32-bit signed range."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body:
        raise _FieldError(f"expected a number, found {text!r}" if text else "expected a number")
    value = 0
    for ch in body:
        digit = unicodedata.decimal(ch, -1)
        if digit < 0:
            raise _FieldError(f"expected a number, found {text!r}")
        value = value * 10 + digit
    value = -value if text[0] == "-" else value
    if not -(2**31) <= value < 2**31:
        raise _FieldError(f"number {text} is too large")
    return value


def _char(s: str, i: int) -> str:
    if i >= len(s):
        raise _FieldError(f"unexpected end of value {s!r}")
    return s[i]


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


class _Builder:
    """Mutable parse state, one per expression (Quartz keeps these as instance fields)."""

    def __init__(self, max_year: int) -> None:
        self.max_year = max_year
        self.sets: list[set[int]] = [set() for _ in range(7)]
        self.last_day_of_month = False
        self.last_day_offset = 0
        self.nearest_weekday = False
        self.last_day_of_week = False
        self.nth_day_of_week = 0

    # getValue: the digit run starting at i, prefixed with the already-read value v.
    def _value(self, v: int, s: str, i: int) -> tuple[int, int]:
        c = _char(s, i)
        text = str(v)
        while _is_digit(c):
            text += c
            i += 1
            if i >= len(s):
                break
            c = s[i]
        return _java_int(text), (i if i < len(s) else i + 1)

    def _nth(self, text: str) -> int:
        try:
            nth = _java_int(text)
        except _FieldError:
            nth = 0
        if not 1 <= nth <= 5:
            raise _FieldError(f"'#' must be followed by a number between 1 and 5, found {text!r}")
        return nth

    def store(self, s: str, field: int) -> None:
        """storeExpressionVals for one comma-separated item ``s`` of ``field``."""
        i = 0
        while i < len(s) and s[i] in " \t":
            i += 1
        if i >= len(s):
            return
        c = s[i]
        if "A" <= c <= "Z" and s not in ("L", "LW") and not _L_OFFSET.fullmatch(s):
            self._store_name(s, i, field)
        elif c == "?":
            self._store_no_spec(s, i, field)
        elif c in "*/":
            self._store_all(s, i, field)
        elif c == "L":
            self._store_last(s, i, field)
        elif _is_digit(c):
            val = int(c)
            i += 1
            if i >= len(s):
                self.add(val, -1, -1, field)
                return
            if _is_digit(s[i]):
                val, i = self._value(val, s, i)
            self._check_next(i, s, val, field)
        else:
            raise _FieldError(f"unexpected character {c!r} in {s!r}")

    def _store_name(self, s: str, i: int, field: int) -> None:
        sub = s[i : i + 3]
        if len(sub) < 3:
            raise _FieldError(f"unexpected end of value {s!r}")
        end = -1
        if field == MONTH:
            start = _MONTHS.get(sub, -1) + 1
            if start <= 0:
                raise _FieldError(f"invalid month name {sub!r}, expected JAN-DEC")
            if len(s) > i + 3 and s[i + 3] == "-":
                i += 4
                sub = s[i : i + 3]
                end = _MONTHS.get(sub, -1) + 1 if len(sub) == 3 else 0
                if end <= 0:
                    raise _FieldError(f"invalid month name {sub!r}, expected JAN-DEC")
        elif field == DAY_OF_WEEK:
            start = _DAYS.get(sub, -1)
            if start < 0:
                raise _FieldError(f"invalid day name {sub!r}, expected SUN-SAT")
            if len(s) > i + 3:
                c = s[i + 3]
                if c == "-":
                    i += 4
                    sub = s[i : i + 3]
                    end = _DAYS.get(sub, -1) if len(sub) == 3 else -1
                    if end < 0:
                        raise _FieldError(f"invalid day name {sub!r}, expected SUN-SAT")
                elif c == "#":
                    self.nth_day_of_week = self._nth(s[i + 4 :])
                elif c == "L":
                    self.last_day_of_week = True
        else:
            raise _FieldError(f"names are not allowed here: {s!r}")
        self.add(start, end, 1 if end != -1 else 0, field)

    def _store_no_spec(self, s: str, i: int, field: int) -> None:
        i += 1
        # Quartz's own (odd) test: a single trailing character after '?' is ignored.
        if i + 1 < len(s) and s[i] != " " and s[i + 1] != "\t":
            raise _FieldError(f"illegal character after '?': {s[i]!r}")
        if field not in (DAY_OF_MONTH, DAY_OF_WEEK):
            raise _FieldError("'?' is only allowed in day-of-month or day-of-week")
        if field == DAY_OF_WEEK and not self.last_day_of_month:
            dom = self.sets[DAY_OF_MONTH]
            if not dom:
                raise _FieldError("day-of-month selects no values")
            if max(dom) == NO_SPEC:
                raise _FieldError("'?' cannot be used in both day-of-month and day-of-week")
        self.add(NO_SPEC, -1, 0, field)

    def _store_all(self, s: str, i: int, field: int) -> None:
        c = s[i]
        if c == "*" and i + 1 >= len(s):
            self.add(ALL_SPEC, -1, 0, field)
            return
        if c == "/" and (i + 1 >= len(s) or s[i + 1] in " \t"):
            raise _FieldError("'/' must be followed by an integer")
        if c == "*":
            i += 1
        incr = 1
        if s[i] == "/":
            i += 1
            if i >= len(s):
                raise _FieldError("'/' must be followed by an integer")
            incr = _java_int(s[i:])  # getNumericValue reads to the end of the item
            self._check_increment(incr, field)
        self.add(ALL_SPEC, -1, incr, field)

    def _store_last(self, s: str, i: int, field: int) -> None:
        i += 1
        if field == DAY_OF_MONTH:
            self.last_day_of_month = True
        elif field == DAY_OF_WEEK:
            self.add(7, 7, 0, field)  # a bare 'L' in day-of-week is Saturday
        if field == DAY_OF_MONTH and len(s) > i:
            if s[i] == "-":
                self.last_day_offset, i = self._value(0, s, i + 1)
                if self.last_day_offset > 30:
                    raise _FieldError(f"offset from last day must be <= 30, found {self.last_day_offset}")
            if len(s) > i and s[i] == "W":
                self.nearest_weekday = True

    def _check_next(self, i: int, s: str, val: int, field: int) -> None:
        name = FIELD_NAMES[field]
        if i >= len(s):
            self.add(val, -1, -1, field)
            return
        c = s[i]
        if c == "L":
            if field != DAY_OF_WEEK:
                raise _FieldError(f"'L' after a number is only allowed in day-of-week, not in {name}")
            if not 1 <= val <= 7:
                raise _FieldError(f"day-of-week value {val} out of range 1-7")
            self.last_day_of_week = True
            self.sets[field].add(val)
        elif c == "W":
            if field != DAY_OF_MONTH:
                raise _FieldError(f"'W' is only allowed in day-of-month, not in {name}")
            if val > 31:
                raise _FieldError(f"'W' needs a day-of-month value of at most 31, found {val}")
            self.nearest_weekday = True
            self.sets[field].add(val)
        elif c == "#":
            if field != DAY_OF_WEEK:
                raise _FieldError(f"'#' is only allowed in day-of-week, not in {name}")
            self.nth_day_of_week = self._nth(s[i + 1 :])
            self.sets[field].add(val)
        elif c == "-":
            end = _java_int(_char(s, i + 1))
            i += 2
            if i >= len(s):
                self.add(val, end, 1, field)
                return
            if _is_digit(s[i]):
                end, i = self._value(end, s, i)
            if i < len(s) and s[i] == "/":
                incr = _java_int(_char(s, i + 1))
                i += 2
                if i < len(s) and _is_digit(s[i]):
                    incr, i = self._value(incr, s, i)
                self.add(val, end, incr, field)  # no increment range check on this path
            else:
                self.add(val, end, 1, field)
        elif c == "/":
            if i + 1 >= len(s) or s[i + 1] in " \t":
                raise _FieldError("'/' must be followed by an integer")
            incr = _java_int(s[i + 1])
            i += 2
            if i < len(s):
                if not _is_digit(s[i]):
                    raise _FieldError(f"unexpected character {s[i]!r} after '/'")
                incr, i = self._value(incr, s, i)
            self._check_increment(incr, field)
            self.add(val, -1, incr, field)
        else:
            self.add(val, -1, 0, field)  # trailing characters are ignored, as in Quartz

    def _check_increment(self, incr: int, field: int) -> None:
        limit = _INCREMENT_MAX.get(field)
        if limit is not None and incr > limit:
            raise _FieldError(f"{FIELD_NAMES[field]} increment {incr} out of range 1-{limit}")

    def add(self, val: int, end: int, incr: int, field: int) -> None:
        """addToSet: range-check, then add one value or a (possibly wrapping) stepped range."""
        target = self.sets[field]
        if (
            field != YEAR
            and val != ALL_SPEC
            and not (field in (DAY_OF_MONTH, DAY_OF_WEEK) and val == NO_SPEC)
        ):
            lo, hi = _BOUNDS[field]
            low_ok = val != 0 if field == DAY_OF_WEEK else val >= lo  # Quartz only rejects 0 here
            for bad in (val if not (low_ok and val <= hi) else None, end if end > hi else None):
                if bad is not None:
                    raise _FieldError(f"{FIELD_NAMES[field]} value {bad} out of range {lo}-{hi}")
        if incr in (0, -1) and val != ALL_SPEC:
            # Years past 2999 all behave alike (Quartz gives up there); 3000 keeps datetime in range.
            target.add(min(val, 3000) if field == YEAR else val)
            return
        if val == ALL_SPEC and incr <= 0:
            incr = 1
            target.add(ALL_SPEC)  # the '*' marker, besides the values themselves
        if field == YEAR:
            start = 1970 if val in (-1, ALL_SPEC) else val
            stop = self.max_year if end == -1 else end
            if stop < start:
                raise _FieldError("start year must be less than stop year")
            self._add_years(start, stop, incr)
            return
        lo, hi = _BOUNDS[field]
        start = lo if val in (-1, ALL_SPEC) else val
        stop = hi if end == -1 else end
        wrap = 0
        if stop < start:
            wrap = _WRAP[field]
            stop += wrap
        for raw in range(start, stop + 1, incr):
            value = raw % wrap if wrap else raw
            if wrap and value == 0 and field in (MONTH, DAY_OF_WEEK, DAY_OF_MONTH):
                value = wrap  # 1-based fields: the wrap of 12 is December, not 0
            target.add(value)

    def _add_years(self, start: int, stop: int, incr: int) -> None:
        # Years beyond max_year can never fire; keep only the first of them so that a huge range
        # stays cheap while "there is a later year" remains true for the evaluator.
        cap = self.max_year
        self.sets[YEAR].update(range(start, min(stop, cap) + 1, incr))
        first_beyond = start if start > cap else start + -(-(cap + 1 - start) // incr) * incr
        if first_beyond <= stop:
            self.sets[YEAR].add(min(first_beyond, 3000))  # see the single-value case in add()


def parse_fields(expression: str, max_year: int) -> CronFields:
    """Parse ``expression`` like Quartz 2.3.2's ``CronExpression(String)``; raise :class:`CronError`."""
    upper = expression.upper()
    tokens = [t for t in re.split(r"[ \t]+", upper) if t][:7]
    builder = _Builder(max_year)
    field = SECOND
    try:
        for field, raw in enumerate(tokens):
            token = raw.strip(_TRIM)
            has_list = len(token) > 1 and "," in token
            if field == DAY_OF_MONTH and "L" in token and has_list:
                raise _FieldError("'L' and 'LW' cannot be combined with other days of the month")
            if field == DAY_OF_WEEK and "L" in token and has_list:
                raise _FieldError("'L' cannot be combined with other days of the week")
            if field == DAY_OF_WEEK and token.count("#") > 1:
                raise _FieldError("only one '#' (nth day) value is supported")
            for item in token.split(","):
                if item:
                    builder.store(item, field)
    except _FieldError as exc:
        name = FIELD_NAMES[field]
        reason = str(exc) if str(exc).startswith(name) else f"{name} field: {exc}"
        raise CronError(expression, reason, name) from None
    if len(tokens) < 6:
        raise CronError(
            expression,
            f"expected 6 or 7 fields (second minute hour day-of-month month "
            f"day-of-week [year]), found {len(tokens)}",
        )
    if len(tokens) == 6:
        builder.add(ALL_SPEC, -1, 0, YEAR)
    sets = builder.sets
    dom_given, dow_given = NO_SPEC not in sets[DAY_OF_MONTH], NO_SPEC not in sets[DAY_OF_WEEK]
    if dom_given == dow_given:
        raise CronError(
            expression,
            "exactly one of day-of-month and day-of-week must be '?'"
            + (" (both are specified)" if dom_given else " (both are '?')"),
        )
    for index, values in enumerate(sets):
        if not values and not (index == DAY_OF_MONTH and builder.last_day_of_month):
            name = FIELD_NAMES[index]
            raise CronError(expression, f"{name} field selects no values", name)
    seconds, minutes, hours, doms, months, dows, years = (tuple(sorted(values)) for values in sets)
    return CronFields(
        seconds=seconds,
        minutes=minutes,
        hours=hours,
        days_of_month=doms,
        months=months,
        days_of_week=dows,
        years=years,
        last_day_of_month=builder.last_day_of_month,
        last_day_offset=builder.last_day_offset,
        nearest_weekday=builder.nearest_weekday,
        last_day_of_week=builder.last_day_of_week,
        nth_day_of_week=builder.nth_day_of_week,
        max_year=max_year,
    )
