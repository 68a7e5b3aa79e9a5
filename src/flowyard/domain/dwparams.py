"""DataWorks scheduling-parameter expressions (FlowSpec spec 4.6), evaluated against a :class:`RunContext`.

A FlowSpec ``System`` variable's value is either a constant or one DataWorks
expression. :func:`evaluate_expression` turns it into the string the task
sees; like :mod:`flowyard.domain.sysvars` it never reads the clock, so a
back-filled instance gets exactly the values it would have had on time.

What counts as an expression
----------------------------
Only a *whole* value (DataWorks assigns one expression per parameter; text
such as ``pt=${yyyymmdd}`` or ``x_$[hh24]`` is a constant and returned as
is, with no trimming of spaces). :func:`is_expression` is true for exactly:

* the built-ins ``$bizdate``, ``$cyctime``, ``$gmtdate`` and ``$jobid``. Any
  other ``$name`` (``$bizmonth``, ``$1``) is opaque and passed through;
* ``$[...]`` with any body: ``$[`` is not EnOS syntax, so a bad body is an
  error rather than a constant;
* ``${...}`` whose body starts with a format token (``yy``, ``mm``, ``dd``,
  ``hh24``, ``mi``, ``ss``) and contains only the letters ``ymdhis``, digits,
  separators and ``+ - * /``. Everything else in braces (``${cal_dt}``,
  ``${name}``, ``${yyyymmdd-x}``) is an EnOS ``${name}`` reference and is
  returned unchanged, to be expanded (or reported as unknown) later by
  :mod:`flowyard.domain.parameters`.

Baselines (both taken off the wall clock in ``ctx.zone``, as in sysvars)
----------------------------------------------------------------------
* ``${...}`` and ``$bizdate``: the **business date**, ``ctx.business_date``
  (local trigger date minus one calendar day) at 00:00, day precision. Only
  ``yyyy yy mm dd`` may appear; ``hh24``, ``mi`` and ``ss`` are errors.
* ``$[...]``, ``$cyctime`` and ``$gmtdate``: the **scheduled time**, the local
  wall-clock trigger time (``ctx.local_trigger``), second precision.
  ``$gmtdate`` is its date (``$[yyyymmdd]``); despite the name it is the date
  in ``ctx.zone``, not in GMT.
* ``$jobid``: the flow id, i.e. the part of ``ctx.instance_id`` before its last
  ``-`` (``"2809-20170527135000"`` gives ``"2809"``), ``""`` if it has none.

Formats
-------
A format is read left to right, longest token first: ``yyyy`` (4-digit year),
``yy`` (year mod 100), ``mm`` (month), ``dd``, ``hh24``, ``mi`` (minutes),
``ss``, each zero-padded, and the literal separators ``- : / _ .`` and space.
Anything else (``hh``, ``MM``, ``x``) is an error. Case matters: DataWorks
documents the lower-case tokens only.

Offsets
-------
An optional trailing ``+N`` or ``-N``; ``N`` is 1-9 digits or a product such
as ``7*2`` (DataWorks writes weeks as ``7*N``).

* ``${fmt±N}``: the unit is the smallest unit present in the format, as
  DataWorks documents: days if it has ``dd`` (``${yyyymmdd-7}``), else months
  if it has ``mm`` (``${yyyymm-1}`` is the previous month), else years
  (``${yyyy-1}``). ``/24`` is an error here.
* ``$[fmt±N]`` is ``N`` days whatever the format, ``$[fmt±N/24]`` ``N`` hours,
  ``$[fmt±N/24/60]`` ``N`` minutes. The arithmetic is on the wall clock, like
  ``${cal_hr}`` in sysvars: in Europe/Berlin ``$[hh24mi-1/24]`` at 03:30 on the
  spring-forward day gives ``0230``, a time that did not exist that night.
* ``$[add_months(fmt,N)]`` (``N`` may be signed, e.g. ``-1`` or ``-12*1``):
  the scheduled time moved by calendar months, the day clamped to the end of
  the target month (2024-03-31 minus one month is 2024-02-29); the time of day
  is kept. It takes no further offset.
* Month and year shifts of ``${...}`` clamp the same way (business date
  2024-02-29 with ``${yyyy-1}`` reads 2023-02-28, i.e. ``2023``).

So ``${yyyymmdd}`` equals ``$[yyyymmdd-1]``, ``$bizdate`` equals
``${yyyymmdd}`` and ``$cyctime`` equals ``$[yyyymmddhh24miss]``.

Errors
------
:class:`~flowyard.errors.InvalidParameterError` (EnOS 62102) whose message
names the expression: an unknown token, a bad offset, a time token in
``${...}``, a malformed ``add_months``, or a result outside the years 1-9999.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import Enum
from functools import lru_cache

from flowyard.domain.sysvars import RunContext
from flowyard.errors import InvalidParameterError

__all__ = ["FORMAT_TOKENS", "SEPARATORS", "evaluate_expression", "is_expression"]

#: The format tokens, longest first (the order in which the reader tries them).
FORMAT_TOKENS: tuple[str, ...] = ("yyyy", "yy", "mm", "dd", "hh24", "mi", "ss")
#: Characters copied literally into the rendered value.
SEPARATORS = frozenset("-:/_. ")

_DATE_TOKENS = frozenset({"yyyy", "yy", "mm", "dd"})
_SQUARE = re.compile(r"\$\[(.*)\]", re.DOTALL)
_BRACE = re.compile(r"\$\{((?:yy|mm|dd|hh24|mi|ss)[ymdhis0-9 :/_.*+-]*)\}")
_AMOUNT = r"[0-9]{1,9}(?:\*[0-9]{1,9})*"
# The lazy format with an optional offset: the offset is the shortest valid
# suffix, so the separators in "yyyy-mm-dd" are never read as a sign.
_OFFSET = re.compile(
    rf"(?P<fmt>.*?)(?:(?P<sign>[+-])(?P<amount>{_AMOUNT})(?P<unit>/24(?:/60)?)?)?", re.DOTALL
)
_ADD_MONTHS = re.compile(rf"add_months\((?P<fmt>[^,()]*), *(?P<months>[+-]?{_AMOUNT}) *\)", re.DOTALL)
_SHOWN_LENGTH = 60


class _Base(Enum):
    BUSINESS_DATE = "business date"
    SCHEDULED_TIME = "scheduled time"


class _Unit(Enum):
    YEARS = "years"
    MONTHS = "months"
    DAYS = "days"
    HOURS = "hours"
    MINUTES = "minutes"


@dataclass(frozen=True, slots=True)
class _Expression:
    """A parsed expression: its baseline, format parts (tokens or separators) and offset."""

    base: _Base
    parts: tuple[str, ...]
    unit: _Unit = _Unit.DAYS
    amount: int = 0


_STEPS = {_Unit.DAYS: timedelta(days=1), _Unit.HOURS: timedelta(hours=1), _Unit.MINUTES: timedelta(minutes=1)}

_BUILTINS: dict[str, _Expression] = {
    "$bizdate": _Expression(_Base.BUSINESS_DATE, ("yyyy", "mm", "dd")),
    "$cyctime": _Expression(_Base.SCHEDULED_TIME, ("yyyy", "mm", "dd", "hh24", "mi", "ss")),
    "$gmtdate": _Expression(_Base.SCHEDULED_TIME, ("yyyy", "mm", "dd")),
}
_JOBID = "$jobid"


def _invalid(expr: str, reason: str) -> InvalidParameterError:
    shown = expr if len(expr) <= _SHOWN_LENGTH else expr[: _SHOWN_LENGTH - 3] + "..."
    return InvalidParameterError(f"Invalid scheduling-parameter expression {shown!r}: {reason}")


def is_expression(value: str) -> bool:
    """Whether ``value`` as a whole is a DataWorks expression (see the module docstring).

    True does not promise the expression is valid: ``$[yyyymmdd-x]`` is an
    expression and :func:`evaluate_expression` rejects it.
    """
    if not value.startswith("$"):
        return False
    return (
        value in _BUILTINS
        or value == _JOBID
        or _SQUARE.fullmatch(value) is not None
        or _BRACE.fullmatch(value) is not None
    )


def evaluate_expression(expr: str, ctx: RunContext) -> str:
    """The value of one FlowSpec variable value ``expr`` for the instance ``ctx``.

    An expression (per :func:`is_expression`) is evaluated by the rules of the
    module docstring; any other text is a constant and returned unchanged.
    Raises ``InvalidParameterError`` naming ``expr`` when it is an expression
    that cannot be read or whose result leaves the years 1-9999.
    """
    if not is_expression(expr):
        return expr
    if expr == _JOBID:
        flow_id, dash, _ = ctx.instance_id.rpartition("-")
        return flow_id if dash else ""
    parsed = _parse(expr)
    if parsed.base is _Base.BUSINESS_DATE:
        moment = datetime.combine(ctx.business_date, time())
    else:
        moment = ctx.local_trigger
    try:
        moment = _shift(moment, parsed.unit, parsed.amount)
    except OverflowError:
        raise _invalid(expr, "the result lies outside the years 1-9999") from None
    return "".join(_render(part, moment) for part in parsed.parts)


@lru_cache(maxsize=1024)
def _parse(expr: str) -> _Expression:
    builtin = _BUILTINS.get(expr)
    if builtin is not None:
        return builtin
    square = _SQUARE.fullmatch(expr)
    if square is not None:
        return _parse_scheduled(expr, square.group(1))
    brace = _BRACE.fullmatch(expr)
    if brace is None:  # pragma: no cover - callers check is_expression first
        raise _invalid(expr, "not a scheduling-parameter expression")
    return _parse_business(expr, brace.group(1))


def _parse_scheduled(expr: str, body: str) -> _Expression:
    if body.startswith("add_months"):
        call = _ADD_MONTHS.fullmatch(body)
        if call is None:
            raise _invalid(expr, "expected add_months(format,N) with an integer N and nothing after it")
        parts = _tokens(expr, call.group("fmt"))
        return _Expression(_Base.SCHEDULED_TIME, parts, _Unit.MONTHS, _product(call.group("months")))
    fmt, amount, fraction = _split_offset(body)
    unit = {"": _Unit.DAYS, "/24": _Unit.HOURS, "/24/60": _Unit.MINUTES}[fraction]
    return _Expression(_Base.SCHEDULED_TIME, _tokens(expr, fmt), unit, amount)


def _parse_business(expr: str, body: str) -> _Expression:
    fmt, amount, fraction = _split_offset(body)
    parts = _tokens(expr, fmt)
    time_tokens = [part for part in parts if part in FORMAT_TOKENS and part not in _DATE_TOKENS]
    if time_tokens:
        raise _invalid(
            expr, f"${{...}} is the business date (day precision), {time_tokens[0]!r} needs $[...]"
        )
    if fraction:
        raise _invalid(expr, f"${{...}} offsets are whole units, {fraction!r} needs $[...]")
    if "dd" in parts:
        unit = _Unit.DAYS
    elif "mm" in parts:
        unit = _Unit.MONTHS
    else:
        unit = _Unit.YEARS
    return _Expression(_Base.BUSINESS_DATE, parts, unit, amount)


def _split_offset(body: str) -> tuple[str, int, str]:
    """``(format, signed amount, "" | "/24" | "/24/60")``; a body without a valid offset is all format."""
    match = _OFFSET.fullmatch(body)
    assert match is not None  # the format part alone matches any body
    if match.group("sign") is None:
        return body, 0, ""
    amount = _product(match.group("amount"))
    return match.group("fmt"), -amount if match.group("sign") == "-" else amount, match.group("unit") or ""


def _product(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    result = 1
    for factor in text.lstrip("+-").split("*"):
        result *= int(factor)
    return sign * result


def _tokens(expr: str, fmt: str) -> tuple[str, ...]:
    if not fmt:
        raise _invalid(expr, "the format is empty")
    parts: list[str] = []
    position = 0
    while position < len(fmt):
        token = next((t for t in FORMAT_TOKENS if fmt.startswith(t, position)), None)
        if token is None and fmt[position] in SEPARATORS:
            token = fmt[position]
        if token is None:
            rest = fmt[position:]
            if rest[0].isdigit() and parts and parts[-1] == "-":
                raise _invalid(
                    expr,
                    f"bad offset {parts[-1] + rest!r}; expected ±N, ±N/24 or ±N/24/60 with N up to 9 digits",
                )
            raise _invalid(
                expr,
                f"cannot read {rest!r}; format tokens are {', '.join(FORMAT_TOKENS)}, "
                f"separators are - : / _ . and space",
            )
        parts.append(token)
        position += len(token)
    if not any(part in FORMAT_TOKENS for part in parts):
        raise _invalid(expr, "the format has no date or time token")
    return tuple(parts)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("year out of range")
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _shift(moment: datetime, unit: _Unit, amount: int) -> datetime:
    """``moment`` (naive wall clock) moved by ``amount`` units; OverflowError outside years 1-9999."""
    if amount == 0:
        return moment
    if unit is _Unit.YEARS:
        return _add_months(moment, 12 * amount)
    if unit is _Unit.MONTHS:
        return _add_months(moment, amount)
    return moment + _STEPS[unit] * amount


def _render(part: str, moment: datetime) -> str:
    # Not strftime: glibc's %Y does not pad years below 1000.
    if part == "yyyy":
        return f"{moment.year:04d}"
    if part == "yy":
        return f"{moment.year % 100:02d}"
    if part == "mm":
        return f"{moment.month:02d}"
    if part == "dd":
        return f"{moment.day:02d}"
    if part == "hh24":
        return f"{moment.hour:02d}"
    if part == "mi":
        return f"{moment.minute:02d}"
    if part == "ss":
        return f"{moment.second:02d}"
    return part
