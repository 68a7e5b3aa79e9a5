"""Parsing of the run commands' options: times, ``--param``, ``--status``, ``--type``, ``--sort``.

Each ``*_option`` function is a click callback turning an option's raw values
into what the client takes; a bad value is a :class:`click.BadParameter`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Final

import click
from click.core import ParameterSource

from flowyard.domain.cron.expression import from_epoch_ms
from flowyard.domain.states import Status

from .flows import parse_sorter
from .instance_records import status_of

__all__ = [
    "DEFAULT_SORT",
    "FLOW_TYPES",
    "flow_types_option",
    "only_with",
    "parameters_option",
    "parse_moment",
    "parse_parameter",
    "parse_statuses",
    "sorters_option",
    "statuses_option",
]

FLOW_TYPES: Final = {"0": 0, "1": 1, "2": 2, "manual": 0, "periodic": 1, "temporary": 2}
DEFAULT_SORT: Final = ("triggerTime", "DESC")
_EPOCH_MS = re.compile(r"[+-]?[0-9]+")


def parse_moment(text: str, zone: tzinfo | None, option: str) -> datetime:
    """An ISO-8601 date or datetime (naive: in ``zone``, None = local) or epoch ms (digits only)."""
    text = text.strip()
    if _EPOCH_MS.fullmatch(text):
        return from_epoch_ms(int(text), UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither an ISO-8601 date or datetime nor epoch milliseconds", param_hint=option
        ) from None
    if moment.tzinfo is not None:
        return moment
    # astimezone() on a naive datetime reads it as the machine's local time.
    return moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()


def parse_parameter(text: str) -> dict[str, str]:
    """``KEY=VALUE`` as an EnOS parameter ``{"key", "value"}``; the value may contain ``=``."""
    key, equals, value = text.partition("=")
    if not equals:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE", param_hint="--param")
    if not key or key != key.strip() or "}" in key or "\n" in key:
        raise click.BadParameter(
            f"{key!r} is not a parameter key (non-empty, no surrounding spaces, no '}}' or newline)",
            param_hint="--param",
        )
    return {"key": key, "value": value}


def parameters_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[dict[str, str]]:
    parameters = [parse_parameter(value) for value in values]
    keys = [p["key"] for p in parameters]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise click.BadParameter(f"key given more than once: {', '.join(repeated)}", param_hint="--param")
    return parameters


def parse_statuses(values: Sequence[str]) -> list[int]:
    """``--status`` values (repeatable, each a comma-separated list of names or codes) as sorted codes."""
    codes: set[int] = set()
    for value in values:
        for part in filter(None, (p.strip() for p in value.split(","))):
            status = status_of(part)
            if status is None:
                names = ", ".join(s.name.lower() for s in Status)
                raise click.BadParameter(
                    f"{part!r} is not a status: use a code from -1 to 10 or one of {names}",
                    param_hint="--status",
                )
            codes.add(int(status))
    return sorted(codes)


def statuses_option(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[int]:
    return parse_statuses(values)


def flow_types_option(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int]:
    if value is None:
        return sorted(set(FLOW_TYPES.values()))
    try:
        return [FLOW_TYPES[value.strip().lower()]]
    except KeyError:
        raise click.BadParameter(
            f"{value!r} is not 0 (manual), 1 (periodic) or 2 (temporary)", param_hint="--type"
        ) from None


def sorters_option(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, str]]:
    return [parse_sorter(value) for value in values] or [DEFAULT_SORT]


def only_with(ctx: click.Context, flag: str, options: Sequence[str]) -> None:
    """A usage error for each of ``options`` given on the command line without ``flag``."""
    for name in options:
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
            option = "--" + name.replace("_", "-")
            raise click.UsageError(f"{option} only applies with {flag}.", ctx)
