"""``flowyard logs``: print a task instance's log (Get Task Instance Log), or follow it as it grows.

Exit codes with ``--follow``, beyond those of :mod:`flowyard.cli.output`::

    0 SUCCESS · 1 any other final status · 130 interrupted (Ctrl-C)

Following never cancels anything: on Ctrl-C the task instance keeps running.
"""

from __future__ import annotations

from typing import Final

import click

from flowyard.client import FlowyardClient
from flowyard.domain.states import Status
from flowyard.errors import InternalError, InvalidParameterError

from .instance_records import record_status
from .output import ConnectionOptions, client_options, echo_json, json_option, open_client
from .run_context import EXIT_INTERRUPTED, ClientCommand, RunEnvironment, run_environment
from .run_options import only_with

__all__ = ["follow_log", "logs_command"]

FOLLOW_MAX_LENGTH: Final = 2**31 - 1  # Java's Integer.MAX_VALUE: "the whole log" for any server


def follow_log(
    client: FlowyardClient,
    task_instance_id: str,
    environment: RunEnvironment,
    max_length: int,
    poll_interval: float,
) -> Status:
    """Print a task instance's log as it grows until the task's status is final; return that status.

    Get Task Instance Log returns the log from its start, so only the text
    past what was already printed is written. A shorter log than before (a
    retry restarted it) is noted on stderr and printed again from its start.
    """
    printed = 0
    ends_with_newline = True
    while True:
        # Status first: a log read after a final status is known to be complete.
        status = record_status(client.get_task_instance(task_instance_id))
        final = status is not None and status.final
        try:
            log = client.get_task_instance_log(task_instance_id, max_length)
        except (InvalidParameterError, InternalError):
            # The task exists (Get Task Instance answered), so this is "no log yet".
            if final:
                raise
            log = ""
        if len(log) < printed:
            click.echo("[log restarted]", err=True)
            printed = 0
        if len(log) > printed:
            click.echo(log[printed:], nl=False)
            ends_with_newline = log.endswith("\n")
            printed = len(log)
        if final and status is not None:
            if not ends_with_newline:
                click.echo()
            return status
        environment.sleep(poll_interval)


@click.command("logs", cls=ClientCommand)
@click.argument("task_instance_id", metavar="TASKINSTID")
@click.option(
    "--max-length",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="At most N characters, from the log's start. [default: the server's (2^20); with --follow 2^31-1]",
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new log text until the task instance ends.")
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="With --follow: time between two polls.",
)
@json_option
@client_options
def logs_command(
    task_instance_id: str,
    max_length: int | None,
    follow: bool,
    poll_interval: float,
    as_json: bool,
    connection: ConnectionOptions,
) -> None:
    """Print the log of task instance TASKINSTID (see `flowyard instances get`).

    With --follow, poll until the task instance's status is final, printing
    only the new text, then exit 0 for SUCCESS and 1 for any other final
    status (130 on Ctrl-C, which leaves the task running). --json (not with
    --follow) prints the API's data, {"log": ...}.
    """
    ctx = click.get_current_context()
    if not follow:
        only_with(ctx, "--follow", ("poll_interval",))
    elif as_json:
        raise click.UsageError("--json cannot be combined with --follow.", ctx)
    with open_client(connection) as client:
        if not follow:
            log = client.get_task_instance_log(task_instance_id, max_length)
            if as_json:
                echo_json({"log": log})
            elif log:
                click.echo(log, nl=not log.endswith("\n"))
            return
        environment = run_environment()
        try:
            status = follow_log(
                client, task_instance_id, environment, max_length or FOLLOW_MAX_LENGTH, poll_interval
            )
        except KeyboardInterrupt:
            click.echo(f"\nStopped following; task instance {task_instance_id} keeps running.", err=True)
            ctx.exit(EXIT_INTERRUPTED)
    click.echo(f"Task instance {task_instance_id} finished: {status.name}", err=True)
    ctx.exit(0 if status is Status.SUCCESS else 1)
