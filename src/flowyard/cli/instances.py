"""``flowyard instances``: list, inspect and cancel flow instances, and show task instances.

A thin layer over List / Get / Cancel Flow Instance and Get Task Instance of
:class:`flowyard.client.FlowyardClient`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Final

import click

from flowyard.domain.cron.expression import to_epoch_ms

from .flows import parameters_text
from .instance_listing import list_instances
from .instance_records import first_of, graph_nodes, graph_tasks, status_label
from .output import (
    ClientGroup,
    ConnectionOptions,
    client_options,
    echo_json,
    json_option,
    open_client,
    render_fields,
    render_table,
)
from .run_context import run_environment
from .run_options import flow_types_option, parse_moment, sorters_option, statuses_option

__all__ = ["instances_group"]


@click.group("instances", cls=ClientGroup)
def instances_group() -> None:
    """List, inspect and cancel flow instances and task instances."""


@instances_group.command("list")
@click.option(
    "--flow",
    "expression",
    default="",
    metavar="FLOWID|NAME",
    help="Match instance ids and flow names containing this.",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    callback=statuses_option,
    metavar="STATUSES",
    help="Only these statuses: names (success, fail, running, ...) or codes (-1..10), comma-separated "
    "or repeated. [default: any]",
)
@click.option(
    "--type",
    "flow_types",
    callback=flow_types_option,
    metavar="0|1|2",
    help="Only instances of this scheduling type: 0 manual, 1 periodic, 2 temporary. [default: all "
    "three, one call each, merged]",
)
@click.option(
    "--from", "from_text", metavar="ISO", help="Triggered at or after this time. [default: 7 days ago]"
)
@click.option("--to", "to_text", metavar="ISO", help="Triggered before this time. [default: a day from now]")
@click.option("--owner", default="", metavar="USER", help="Only instances owned by USER. [default: any]")
@click.option(
    "--page", type=int, default=None, help="Page number [default: the first: 1 on v2.1, 0 on v2.0]."
)
@click.option("--size", type=click.IntRange(min=1), default=10, show_default=True, help="Instances per page.")
@click.option(
    "--sort",
    "sorters",
    multiple=True,
    callback=sorters_option,
    metavar="FIELD[:asc|desc]",
    help="Sort by triggerTime, startTime, endTime, createTime (or updateTime with --type); repeat to "
    "add keys. [default: triggerTime:desc]",
)
@json_option
@client_options
def list_command(
    expression: str,
    statuses: list[int],
    flow_types: list[int],
    from_text: str | None,
    to_text: str | None,
    owner: str,
    page: int | None,
    size: int,
    sorters: list[tuple[str, str]],
    as_json: bool,
    connection: ConnectionOptions,
) -> None:
    """List the flow instances triggered in a time window (by default the newest first).

    The API filters on one scheduling type per call; without --type the
    three types are listed and merged (sorted and paged here; --json then
    prints the merged {"flowInsts", "count"} with count summed over types).
    """
    environment = run_environment()
    now = environment.clock.now()
    start = parse_moment(from_text, environment.zone, "--from") if from_text else now - timedelta(days=7)
    end = parse_moment(to_text, environment.zone, "--to") if to_text else now + timedelta(days=1)
    if start >= end:
        raise click.BadParameter("must be later than --from", param_hint="--to")
    with open_client(connection) as client:
        data = list_instances(
            client,
            flow_types,
            page,
            size,
            sorters,
            from_trigger_time_ms=to_epoch_ms(start),
            to_trigger_time_ms=to_epoch_ms(end),
            status=statuses,
            owner=owner,
            expression=expression,
        )
    if as_json:
        echo_json(data)
        return
    instances = [item for item in data.get("flowInsts") or [] if isinstance(item, dict)]
    if not instances:
        click.echo("No instances found.", err=True)
        return
    fields = ("instanceId", "flowName", "status", "triggerTime", "startTime", "endTime")
    rows = [[status_label(i) if f == "status" else i.get(f) for f in fields] for i in instances]
    click.echo(
        render_table(("INSTANCE ID", "FLOW", "STATUS", "TRIGGER TIME", "START TIME", "END TIME"), rows)
    )
    count = data.get("count")
    if isinstance(count, int) and count > len(instances):
        click.echo(f"{len(instances)} of {count} instances; see --page and --size.", err=True)


def describe_instance(instance: dict[str, Any]) -> Iterator[str]:
    """The human rendering of a FlowInstance: its fields, its tasks and its upstream flows."""
    yield render_fields(
        [
            ("instanceId", instance.get("instanceId")),
            ("flowId", instance.get("flowId")),
            ("flowName", instance.get("flowName")),
            ("status", status_label(instance)),
            ("triggerTime", instance.get("triggerTime")),
            ("startTime", instance.get("startTime")),
            ("endTime", instance.get("endTime")),
            ("calDt", instance.get("calDt")),
            ("cycle", instance.get("cycle")),
            ("freq", instance.get("freq")),
            ("parameters", parameters_text(instance.get("parameters"))),
            ("owner", instance.get("owner")),
            ("doAs", instance.get("doAs")),
        ]
    )
    tasks = graph_tasks(instance)
    if tasks:
        rows = [(t.name, t.task_id, t.task_inst_id, t.status) for t in tasks]
        yield "\nTasks\n" + render_table(("TASK", "TASK ID", "TASK INSTANCE", "STATUS"), rows)
    flows = graph_nodes(instance, "flows")
    if flows:
        upstream = [
            (
                first_of(node, "flowName", "flow_name"),
                first_of(node, "flowId", "flow_id"),
                first_of(node, "flowInstId", "flow_inst_id"),
                node.get("status"),
            )
            for node in flows
        ]
        yield "\nUpstream flows\n" + render_table(("FLOW", "FLOW ID", "FLOW INSTANCE", "STATUS"), upstream)


@instances_group.command("get")
@click.argument("instance_id", metavar="ID")
@json_option
@client_options
def get_command(instance_id: str, as_json: bool, connection: ConnectionOptions) -> None:
    """Show flow instance ID: its status and times, and the status of each of its tasks."""
    with open_client(connection) as client:
        instance = client.get_flow_instance(instance_id)
    if as_json:
        echo_json(instance)
    else:
        click.echo("\n".join(describe_instance(instance)))


@instances_group.command("cancel")
@click.argument("instance_id", metavar="ID")
@json_option
@client_options
def cancel_command(instance_id: str, as_json: bool, connection: ConnectionOptions) -> None:
    """Stop flow instance ID (INIT, RUNNING or FAIL); work already handed to an engine is not killed."""
    with open_client(connection) as client:
        client.cancel_flow_instance(instance_id)
    if as_json:
        echo_json("")  # the API answers with an empty string
    else:
        click.echo(f"Cancelled flow instance {instance_id}.")


_TASK_FIELDS: Final = (
    "instanceId",
    "taskId",
    "taskName",
    "flowInstId",
    "triggerTime",
    "startTime",
    "endTime",
    "runNum",
    "recallNum",
    "recallLimit",
    "timeout",
    "isTimeout",
    "cmd",
    "doAs",
)


@instances_group.command("task")
@click.argument("task_instance_id", metavar="TASKINSTID")
@json_option
@client_options
def task_command(task_instance_id: str, as_json: bool, connection: ConnectionOptions) -> None:
    """Show task instance TASKINSTID (an id from `instances get`): status, times, retries, command."""
    with open_client(connection) as client:
        task = client.get_task_instance(task_instance_id)
    if as_json:
        echo_json(task)
        return
    pairs = [(name, task.get(name)) for name in _TASK_FIELDS]
    pairs.insert(4, ("status", status_label(task)))
    click.echo(render_fields(pairs))
