"""``flowyard trigger``: run a flow once (Trigger Flow and its two variants), optionally waiting.

Exit codes, beyond those of :mod:`flowyard.cli.output` (2 invalid parameter or
usage, 3 authentication, 4 user or permission, 5 flow state, 6 connection)::

    trigger --wait   0 SUCCESS · 1 FAIL, INTERNAL_ERROR, TIMEOUT · 8 CANCEL · 10 SKIP
                     124 --timeout expired · 130 interrupted (Ctrl-C)

Waiting never cancels anything: on a timeout or Ctrl-C the instance keeps
running and the message says how to cancel it.
"""

from __future__ import annotations

import click

from flowyard.client import FlowyardClient
from flowyard.domain.cron.expression import to_epoch_ms

from .instance_wait import cancel_hint, wait_for_instance
from .output import ConnectionOptions, client_options, echo_json, json_option, open_client
from .run_context import EXIT_INTERRUPTED, ClientCommand, run_environment
from .run_options import only_with, parameters_option, parse_moment

__all__ = ["trigger_command"]


def _trigger(
    client: FlowyardClient,
    flow_id: int,
    trigger_ms: int,
    parameters: list[dict[str, str]],
    from_task: int | None,
) -> str:
    if parameters:
        return client.update_and_trigger_flow(flow_id, trigger_ms, parameters)
    if from_task is not None:
        return client.trigger_flow_from_task(flow_id, from_task, trigger_ms)
    return client.trigger_flow(flow_id, trigger_ms)


@click.command("trigger", cls=ClientCommand)
@click.argument("flow_id", metavar="FLOWID", type=int)
@click.option(
    "--param",
    "parameters",
    multiple=True,
    callback=parameters_option,
    metavar="KEY=VALUE",
    help="Override a flow parameter for this run (Update And Trigger Flow); repeatable. "
    "The value is everything after the first '='.",
)
@click.option(
    "--from-task",
    type=int,
    metavar="TASKID",
    help="Run only this task and its downstream tasks (Trigger Flow From Task). Not with --param.",
)
@click.option(
    "--at",
    "at_text",
    metavar="ISO|EPOCH_MS",
    help="Trigger time: the time base of the run's time parameters; a past time runs now (back-fill). "
    "ISO-8601 (naive: local time) or epoch milliseconds. [default: now]",
)
@click.option("--wait", is_flag=True, help="Wait for the instance to finish, showing task progress.")
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=0.5,
    show_default=True,
    metavar="SECONDS",
    help="With --wait: time between two polls (a quick task returns within this much of its end).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="With --wait: stop waiting after this long (exit 124); the instance keeps running.",
)
@json_option
@client_options
def trigger_command(
    flow_id: int,
    parameters: list[dict[str, str]],
    from_task: int | None,
    at_text: str | None,
    wait: bool,
    poll_interval: float,
    timeout: float | None,
    as_json: bool,
    connection: ConnectionOptions,
) -> None:
    """Run flow FLOWID once and print the new flow instance id on stdout.

    Plain runs use Trigger Flow, --param runs Update And Trigger Flow and
    --from-task runs Trigger Flow From Task.

    With --wait, poll the instance until its status is final, writing to
    stderr a line per status change of the instance and of each task, then a
    summary. Waiting never cancels the instance: after --timeout or Ctrl-C it
    keeps running. --json prints the Trigger API's data instead of the id, or
    with --wait the last Get Flow Instance data.

    \b
    Exit codes with --wait:
      0    SUCCESS
      1    FAIL, INTERNAL_ERROR or TIMEOUT
      8    CANCEL
      10   SKIP
      124  --timeout expired
      130  interrupted (Ctrl-C)
    Errors: 2 usage or invalid parameter, 3 authentication, 4 user or
    permission, 5 flow state, 6 connection.
    """
    ctx = click.get_current_context()
    if parameters and from_task is not None:
        raise click.UsageError(
            "--param and --from-task cannot be combined: Trigger Flow From Task takes no parameters.", ctx
        )
    if not wait:
        only_with(ctx, "--wait", ("poll_interval", "timeout"))
    environment = run_environment()
    trigger_at = parse_moment(at_text, environment.zone, "--at") if at_text else environment.clock.now()
    with open_client(connection) as client:
        instance_id = _trigger(client, flow_id, to_epoch_ms(trigger_at), parameters, from_task)
        if not wait:
            if as_json:
                echo_json({"flowInstanceId": instance_id})
            else:
                click.echo(instance_id)
            return
        if not as_json:
            click.echo(instance_id)
        try:
            exit_code, instance = wait_for_instance(client, instance_id, environment, poll_interval, timeout)
        except KeyboardInterrupt:
            click.echo(
                f"\nStopped waiting for flow instance {instance_id}. {cancel_hint(instance_id)}", err=True
            )
            ctx.exit(EXIT_INTERRUPTED)
    if as_json:
        echo_json(instance)
    ctx.exit(exit_code)
