"""``flowyard trigger``, ``flowyard instances`` and ``flowyard logs``: runs on a server.

A thin layer over the run-time APIs of :class:`flowyard.client.FlowyardClient`
(Trigger Flow and its two variants, Get / List / Cancel Flow Instance, Get Task
Instance and its log). Polling (``trigger --wait``, ``logs --follow``) reads
time only from the :class:`RunEnvironment` found in ``ctx.obj`` (tests give it
a fake clock and a sleeper that advances it), never from the system directly.

Exit codes, beyond those of :mod:`flowyard.cli.output` (2 invalid parameter or
usage, 3 authentication, 4 user or permission, 5 flow state, 6 connection)::

    trigger --wait   0 SUCCESS · 1 FAIL, INTERNAL_ERROR, TIMEOUT · 8 CANCEL · 10 SKIP
                     124 --timeout expired · 130 interrupted (Ctrl-C)
    logs --follow    0 SUCCESS · 1 any other final status · 130 interrupted

Waiting or following never cancels anything: on a timeout or Ctrl-C the
instance keeps running and the message says how to cancel it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

import click
from click.core import ParameterSource

from flowyard.client import FlowyardClient
from flowyard.clock import Clock, SystemClock
from flowyard.domain.cron.expression import from_epoch_ms, to_epoch_ms
from flowyard.domain.states import Status
from flowyard.errors import FlowyardError, InternalError, InvalidParameterError

from .flows import graph_of, parameters_text, parse_sorter
from .output import (
    ClientGroup,
    ClientProvider,
    ConnectionOptions,
    cell,
    client_options,
    display_width,
    echo_json,
    json_option,
    open_client,
    render_fields,
    render_table,
)

__all__ = ["RunEnvironment", "instances_group", "logs_command", "trigger_command"]

EXIT_TIMEOUT: Final = 124  # as timeout(1)
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_BY_FINAL_STATUS: Final[dict[Status, int]] = {
    Status.SUCCESS: 0,
    Status.FAIL: 1,
    Status.INTERNAL_ERROR: 1,
    Status.TIMEOUT: 1,
    Status.CANCEL: 8,
    Status.SKIP: 10,
}
FOLLOW_MAX_LENGTH: Final = 2**31 - 1  # Java's Integer.MAX_VALUE: "the whole log" for any server
FLOW_TYPES: Final = {"0": 0, "1": 1, "2": 2, "manual": 0, "periodic": 1, "temporary": 2}
DEFAULT_SORT: Final = ("triggerTime", "DESC")
# First page of List Flow Instances per API version (spec 2.6), needed to page a merged listing.
_FIRST_PAGE: Final = {"v2.0": 0, "v2.1": 1}
# Where a sort field's value lives in a FlowInstance, for merging listings client-side.
_SORT_KEYS: Final = {
    "triggertime": "triggerTime",
    "starttime": "startTime",
    "endtime": "endTime",
    "createtime": "timestamp",
}
_INSTANCE_LABEL: Final = "(flow instance)"
_EPOCH_MS = re.compile(r"[+-]?[0-9]+")
_CODE = re.compile(r"-?[0-9]+")

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


# -- parsing ---------------------------------------------------------------------------------------


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


def _parameters(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[dict[str, str]]:
    parameters = [parse_parameter(value) for value in values]
    keys = [p["key"] for p in parameters]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise click.BadParameter(f"key given more than once: {', '.join(repeated)}", param_hint="--param")
    return parameters


def status_of(value: Any) -> Status | None:
    """The :class:`Status` of a code (int or digits) or a name (any case, ``-`` for ``_``); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return Status(value)
        except ValueError:
            return None
    if isinstance(value, str):
        text = value.strip()
        if _CODE.fullmatch(text):
            return status_of(int(text))
        return Status.__members__.get(text.upper().replace("-", "_"))
    return None


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


def _statuses(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[int]:
    return parse_statuses(values)


def _flow_types(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int]:
    if value is None:
        return sorted(set(FLOW_TYPES.values()))
    try:
        return [FLOW_TYPES[value.strip().lower()]]
    except KeyError:
        raise click.BadParameter(
            f"{value!r} is not 0 (manual), 1 (periodic) or 2 (temporary)", param_hint="--type"
        ) from None


def _sorters(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [parse_sorter(value) for value in values] or [DEFAULT_SORT]


def _only_with(ctx: click.Context, flag: str, options: Sequence[str]) -> None:
    """A usage error for each of ``options`` given on the command line without ``flag``."""
    for name in options:
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
            option = "--" + name.replace("_", "-")
            raise click.UsageError(f"{option} only applies with {flag}.", ctx)


# -- reading instances -----------------------------------------------------------------------------


def record_status(record: dict[str, Any]) -> Status | None:
    """The status of a FlowInstance or TaskInstance: its ``status`` code, else its status name."""
    found = status_of(record.get("status"))
    if found is None:
        found = status_of(record.get("statusDesc", record.get("stsDesc")))
    return found


def status_label(record: dict[str, Any]) -> str:
    """The status name of a record (``RUNNING``), or what it holds when that is no known status."""
    status = record_status(record)
    return status.name if status is not None else cell(record.get("statusDesc") or record.get("status"))


def _first(node: dict[str, Any], *keys: str) -> Any:
    return next((node[key] for key in keys if node.get(key) is not None), None)


@dataclass(frozen=True, slots=True)
class TaskNode:
    """A task of an instance graph (camelCase or snake_case keys read alike)."""

    name: str
    task_id: str
    task_inst_id: str
    status: str

    @classmethod
    def of(cls, node: dict[str, Any]) -> TaskNode:
        return cls(
            name=cell(_first(node, "taskName", "task_name")),
            task_id=cell(_first(node, "taskId", "task_id")),
            task_inst_id=cell(_first(node, "taskInstId", "task_inst_id", "instId", "inst_id")),
            status=cell(node.get("status")),
        )

    @property
    def key(self) -> str:
        return self.task_inst_id or self.task_id or self.name


def graph_nodes(instance: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The ``tasks`` or ``flows`` nodes of an instance's graph (a JSON string or an object)."""
    nodes = graph_of(instance).get(kind)
    return [node for node in nodes if isinstance(node, dict)] if isinstance(nodes, list) else []


def graph_tasks(instance: dict[str, Any]) -> list[TaskNode]:
    return [TaskNode.of(node) for node in graph_nodes(instance, "tasks")]


def _time_string(value: Any) -> datetime | None:
    try:
        return datetime.strptime(cell(value)[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def duration_text(seconds: float) -> str:
    """``2s``, ``3m05s``, ``1h02m03s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def summary_lines(instance_id: str, status: Status, instance: dict[str, Any]) -> Iterator[str]:
    """The end of a wait: the final status, the run time, task counts, where to read failed tasks' logs."""
    line = f"Flow instance {instance_id} finished: {status.name}"
    started, ended = _time_string(instance.get("startTime")), _time_string(instance.get("endTime"))
    if started is not None and ended is not None and ended >= started:
        line += f" in {duration_text((ended - started).total_seconds())}"
    tasks = graph_tasks(instance)
    if tasks:
        counts: dict[str, int] = {}
        for task in tasks:
            counts[task.status] = counts.get(task.status, 0) + 1
        line += " (tasks: " + ", ".join(f"{n} {name}" for name, n in counts.items()) + ")"
    yield line
    failed = {Status.FAIL.name, Status.TIMEOUT.name, Status.INTERNAL_ERROR.name}
    for task in tasks:
        if task.status in failed and task.task_inst_id:
            yield f"  {task.name} {task.status}: see `flowyard logs {task.task_inst_id}`"


class Progress:
    """Turns successive polls of an instance into one line per status change.

    The first poll reports every task; later polls only the tasks (and the
    instance itself, as ``(flow instance)``) whose status changed.
    """

    def __init__(self, zone: tzinfo | None) -> None:
        self._zone = zone
        self._seen: dict[str, str] = {}

    def lines(self, instance: dict[str, Any], now: datetime) -> list[str]:
        states = [(_INSTANCE_LABEL, _INSTANCE_LABEL, status_label(instance))]
        states += [(task.key, task.name or task.key, task.status) for task in graph_tasks(instance)]
        width = max(display_width(label) for _, label, _ in states)
        stamp = now.astimezone(self._zone).strftime("%H:%M:%S")
        changed: list[str] = []
        for key, label, status in states:
            if self._seen.get(key) != status:
                self._seen[key] = status
                padding = " " * (width - display_width(label))
                changed.append(f"{stamp}  {label}{padding}  {status}")
        return changed


# -- trigger ---------------------------------------------------------------------------------------


def _cancel_hint(instance_id: str) -> str:
    return f"It keeps running; cancel it with `flowyard instances cancel {instance_id}`."


def wait_for_instance(
    client: FlowyardClient,
    instance_id: str,
    environment: RunEnvironment,
    poll_interval: float,
    timeout: float | None,
) -> tuple[int, dict[str, Any]]:
    """Poll Get Flow Instance until its status is final; return the exit code and the last instance.

    Progress and the summary go to stderr. Once ``timeout`` seconds (by the
    environment's clock) have passed the exit code is 124. Between polls the
    environment's sleeper waits ``poll_interval`` seconds, less to meet the
    deadline.
    """
    clock = environment.clock
    deadline = None if timeout is None else clock.now() + timedelta(seconds=timeout)
    progress = Progress(environment.zone)
    while True:
        instance = client.get_flow_instance(instance_id)
        now = clock.now()
        for line in progress.lines(instance, now):
            click.echo(line, err=True)
        status = record_status(instance)
        if status is not None and status.final:
            for line in summary_lines(instance_id, status, instance):
                click.echo(line, err=True)
            return EXIT_BY_FINAL_STATUS[status], instance
        pause = poll_interval
        if deadline is not None:
            left = (deadline - now).total_seconds()
            if left <= 0:
                click.echo(
                    f"Gave up waiting after {timeout:g}s: flow instance {instance_id} is "
                    f"{status_label(instance)}. {_cancel_hint(instance_id)}",
                    err=True,
                )
                return EXIT_TIMEOUT, instance
            pause = min(pause, left)
        environment.sleep(pause)


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
    callback=_parameters,
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
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="With --wait: time between two polls.",
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
        _only_with(ctx, "--wait", ("poll_interval", "timeout"))
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
                f"\nStopped waiting for flow instance {instance_id}. {_cancel_hint(instance_id)}", err=True
            )
            ctx.exit(EXIT_INTERRUPTED)
    if as_json:
        echo_json(instance)
    ctx.exit(exit_code)


# -- instances -------------------------------------------------------------------------------------


@click.group("instances", cls=ClientGroup)
def instances_group() -> None:
    """List, inspect and cancel flow instances and task instances."""


def client_sort_keys(sorters: Sequence[tuple[str, str]]) -> list[tuple[str, bool]]:
    """``(instance field, descending)`` per sorter, to sort instances here as the server would.

    Only the fields of :data:`_SORT_KEYS` are in the instance data (their
    ``yyyy-MM-dd HH:mm:ss`` strings sort as text); others raise UsageError.
    """
    keys: list[tuple[str, bool]] = []
    for field_name, order in sorters:
        key = _SORT_KEYS.get(field_name.replace("_", "").lower())
        if key is None:
            raise click.UsageError(
                f"--sort {field_name} needs --type: merged listings cannot be sorted by it."
            )
        keys.append((key, order == "DESC"))
    return keys


def _field_text(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda item: cell(item.get(key))


def merge_listings(
    listings: Sequence[dict[str, Any]], sorters: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The ``flowInsts`` of several List Flow Instances answers in one list ordered by ``sorters``."""
    merged: list[dict[str, Any]] = [
        item
        for data in listings
        for item in (data.get("flowInsts") or [])
        if isinstance(item, dict)  # a malformed entry is dropped rather than failing the merge
    ]
    # A stable sort per key, least significant first, gives the multi-key order.
    for key, descending in reversed(client_sort_keys(sorters)):
        merged.sort(key=_field_text(key), reverse=descending)
    return merged


def list_instances(
    client: FlowyardClient,
    flow_types: Sequence[int],
    page: int | None,
    size: int,
    sorters: Sequence[tuple[str, str]],
    **filters: Any,
) -> dict[str, Any]:
    """One page of List Flow Instances over ``flow_types``: one call for one type, else a merge.

    For several types, each type is asked for its first ``(page + 1) * size``
    instances (page counted from the first), the answers are merged by
    ``sorters`` and the page is cut from the merge; ``count`` is the sum of
    the types' counts.
    """
    if len(flow_types) == 1:
        return client.list_flow_instances(
            flow_type=flow_types[0], page_no=page, page_size=size, sorters=sorters, **filters
        )
    client_sort_keys(sorters)  # refuse an unusable sort before any request
    first = _FIRST_PAGE[client.api_version]
    index = 0 if page is None else page - first
    if index < 0:
        raise click.BadParameter(f"the first page is {first}", param_hint="--page")
    listings = [
        client.list_flow_instances(
            flow_type=flow_type, page_no=first, page_size=(index + 1) * size, sorters=sorters, **filters
        )
        for flow_type in flow_types
    ]
    count = sum(data["count"] for data in listings if isinstance(data.get("count"), int))
    merged = merge_listings(listings, sorters)
    return {"flowInsts": merged[index * size : (index + 1) * size], "count": count}


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
    callback=_statuses,
    metavar="STATUSES",
    help="Only these statuses: names (success, fail, running, ...) or codes (-1..10), comma-separated "
    "or repeated. [default: any]",
)
@click.option(
    "--type",
    "flow_types",
    callback=_flow_types,
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
    callback=_sorters,
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
                _first(node, "flowName", "flow_name"),
                _first(node, "flowId", "flow_id"),
                _first(node, "flowInstId", "flow_inst_id"),
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


# -- logs ------------------------------------------------------------------------------------------


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
        _only_with(ctx, "--follow", ("poll_interval",))
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
