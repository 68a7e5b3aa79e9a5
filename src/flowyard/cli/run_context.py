"""What the run commands (``trigger``, ``instances``, ``logs``) get from click.

:class:`RunEnvironment`, found in ``ctx.obj``, gives them their clock, sleeper
and zone: polling (``trigger --wait``, ``logs --follow``) reads time only from
it (tests give it a fake clock and a sleeper that advances it), never from the
system directly. :class:`ClientCommand` ends a single command on a
:class:`FlowyardError` with that error's exit code, as ``ClientGroup`` does for
a group; :data:`EXIT_INTERRUPTED` is the exit code of a wait stopped by Ctrl-C.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Final

import click

from flowyard.clock import Clock, SystemClock
from flowyard.errors import FlowyardError

from .output import ClientProvider

__all__ = ["EXIT_INTERRUPTED", "ClientCommand", "RunEnvironment", "Sleeper", "run_environment"]

EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as a shell reports Ctrl-C

Sleeper = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RunEnvironment(ClientProvider):
    """A :class:`ClientProvider` that also gives the run commands their clock, sleeper and zone.

    ``clock`` supplies "now" (default trigger time, progress timestamps,
    ``--timeout``); ``sleep`` waits between polls; ``zone`` is where naive
    ISO times are read and progress times shown (None: the machine's zone).
    Without one in ``ctx.obj`` the commands use the system clock and
    :func:`time.sleep`.
    """

    clock: Clock = field(default_factory=SystemClock)
    sleep: Sleeper = time.sleep
    zone: tzinfo | None = None


def run_environment() -> RunEnvironment:
    found = click.get_current_context().find_object(RunEnvironment)
    return found if found is not None else RunEnvironment()


class ClientCommand(click.Command):
    """A command whose :class:`FlowyardError` ends the program with its exit code, as ClientGroup does."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlowyardError as error:
            click.echo(f"Error: {error.message}", err=True)
            ctx.exit(error.exit_code)
