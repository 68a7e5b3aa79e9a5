"""``flowyard cron``: inspect Quartz cron expressions from the command line.

``flowyard cron next EXPR [--after ISO|EPOCH_MS] [--count N] [--tz TZ] [--json]`` prints the next
fire times, one ISO-8601 datetime per line, or a JSON document with ``--json``.  An invalid
expression prints the reason on stderr and exits with status 2 (like any usage error).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, tzinfo

import click

from flowyard.cron import CronError, next_fire_times
from flowyard.domain.cron.expression import from_epoch_ms, to_epoch_ms
from flowyard.domain.cron.zones import resolve_zone, zone_name
from flowyard.timezones import local_zone_name

__all__ = ["cron_group", "local_zone_name"]

_EPOCH_MS = re.compile(r"[+-]?[0-9]+")


def _parse_after(text: str | None, zone: tzinfo) -> datetime:
    if text is None:
        return datetime.now(UTC)  # the CLI reads the clock; the library never does
    if _EPOCH_MS.fullmatch(text.strip()):
        return from_epoch_ms(int(text), zone)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither an ISO-8601 datetime nor epoch milliseconds", param_hint="--after"
        ) from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


@click.group("cron")
def cron_group() -> None:
    """Quartz cron expressions (6 or 7 fields: sec min hour day-of-month month day-of-week [year])."""


@cron_group.command("next")
@click.argument("expression")
@click.option(
    "--after",
    "after_text",
    metavar="ISO|EPOCH_MS",
    help="Start after this instant: ISO-8601 (naive: in --tz) or epoch milliseconds. [default: now]",
)
@click.option(
    "--count",
    type=click.IntRange(0, 100_000),
    default=5,
    show_default=True,
    help="How many fire times to print.",
)
@click.option(
    "--tz",
    "tz_name",
    metavar="TZ",
    help="IANA zone (Europe/Berlin) or GMT+8-style offset. Default: the local zone.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document instead of lines.")
def next_command(
    expression: str, after_text: str | None, count: int, tz_name: str | None, as_json: bool
) -> None:
    """Print the next fire times of EXPRESSION (Quartz 2.3.2 semantics)."""
    name = tz_name or local_zone_name()
    try:
        zone = resolve_zone(name)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--tz") from None
    after = _parse_after(after_text, zone)
    try:
        times = next_fire_times(expression, after, count, name)
    except CronError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(2) from None
    if as_json:
        document = {
            "expression": expression,
            "timezone": zone_name(zone),
            "fireTimes": [{"iso": t.isoformat(), "epochMs": to_epoch_ms(t)} for t in times],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        for t in times:
            click.echo(t.isoformat())
