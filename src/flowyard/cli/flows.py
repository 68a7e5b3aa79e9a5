"""``flowyard flows``: import, export, read, search, move, delete and switch flows on a server.

A thin layer over :class:`flowyard.client.FlowyardClient`: every command is
one API call (``dirs create`` without ``--parent`` is two). ``--json`` prints
the API's ``data`` unchanged; otherwise tables for people.

FlowSpec documents go through :class:`flowyard.client.DataWorksClient` (the server's DataWorks
face): ``flows import`` of a FlowSpec file submits an import job and polls it,
``flows export --format flowspec`` prints GetWorkflowDefinition's document. Tests choose both
clients and the polling sleeper with a :class:`FlowSpecProvider` in ``ctx.obj``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click

from flowyard import flowspec
from flowyard.client import DataWorksClient, FlowyardClient
from flowyard.errors import FlowyardError, InvalidParameterError

from .output import (
    ClientGroup,
    ClientProvider,
    ConnectionOptions,
    cell,
    client_options,
    echo_json,
    json_option,
    open_client,
    render_fields,
    render_table,
)

_ORDERS = ("ASC", "DESC")
_ACTIVE = {0: "paused", 1: "scheduled"}
_FLOW_TYPES = {0: "manual", 1: "periodic", 2: "temporary"}
_POLL_SECONDS = 0.5


@click.group("flows", cls=ClientGroup)
def flows_group() -> None:
    """Manage the flows (workflows) of a Flowyard or EnOS server."""


# -- definitions in files --------------------------------------------------------------------------


def flow_definition(document: Any) -> dict[str, Any]:
    """The FlowDefinition inside what ``flows import`` was given.

    Accepted: a FlowDefinition (Export Flow's ``data``), a whole Export Flow
    answer (``{"code": 0, ..., "data": {...}}``, V2.0 ``status`` too) or an
    Import Flow request body (``{"flowName", ..., "flowJson": {...}}``).
    Raises ``ValueError`` for anything else.
    """
    if not isinstance(document, dict):
        raise ValueError("expected a JSON object")
    if "data" in document and ("code" in document or "status" in document):
        code = document.get("code", document.get("status"))
        if code != 0:
            raise ValueError(f"the file holds a failed answer (code {code}: {document.get('msg')})")
        document = document["data"]
    elif isinstance(document.get("flowJson"), dict):
        document = document["flowJson"]
    if not isinstance(document, dict) or not isinstance(document.get("tasks", []), list):
        raise ValueError("expected a flow definition (an object with name, cycle, tasks, ...)")
    return document


def parse_sorter(text: str) -> tuple[str, str]:
    """``FIELD[:asc|desc]`` as an EnOS sorter ``(field, "ASC" | "DESC")``."""
    field, _, order = text.partition(":")
    order = (order or "asc").upper()
    if not field or order not in _ORDERS:
        raise click.BadParameter(f"{text!r} is not FIELD, FIELD:asc or FIELD:desc", param_hint="--sort")
    return field, order


def _sorters(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [parse_sorter(value) for value in values]


def graph_of(flow: dict[str, Any]) -> dict[str, Any]:
    """The FlowGraph of a FlowDetail, whether it came as a JSON string or an object; ``{}`` if unreadable."""
    graph = flow.get("graph")
    if isinstance(graph, str):
        try:
            graph = json.loads(graph)
        except ValueError:
            return {}
    return graph if isinstance(graph, dict) else {}


def parameters_text(parameters: Any) -> str:
    """``key=value, ...`` of a parameter list given as a list or a JSON string."""
    if isinstance(parameters, str):
        try:
            parameters = json.loads(parameters) if parameters.strip() else []
        except ValueError:
            return str(parameters)
    if not isinstance(parameters, list):
        return ""
    pairs = (item for item in parameters if isinstance(item, dict))
    return ", ".join(f"{item.get('key')}={item.get('value')}" for item in pairs)


# Sections of the graph shown by `flows get`: (title, graph key, columns); a column is a header
# and the keys that may hold its value, camelCase first, then the snake_case some servers send.
_GRAPH_SECTIONS: tuple[tuple[str, str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "Tasks",
        "tasks",
        (
            ("NODE", ("nodeId", "node_id")),
            ("TASK ID", ("taskId", "task_id")),
            ("NAME", ("taskName", "task_name")),
        ),
    ),
    (
        "Premises",
        "flows",
        (
            ("NODE", ("nodeId", "node_id")),
            ("FLOW ID", ("flowId", "flow_id")),
            ("NAME", ("flowName", "flow_name")),
            ("VIRTUAL", ("isVirtual", "is_virtual")),
        ),
    ),
    (
        "Relations",
        "relations",
        (
            ("FROM", ("source",)),
            ("TO", ("target",)),
            ("CYCLE GAP", ("cycleGap", "cycle_gap")),
            ("RERUN", ("rerun",)),
        ),
    ),
)


def _first(node: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((node[key] for key in keys if key in node), None)


def _at_by(time: Any, user: Any) -> str:
    return " by ".join(cell(part) for part in (time, user) if part)


def _labelled(value: Any, labels: dict[int, str]) -> str:
    return f"{value} ({labels[value]})" if isinstance(value, int) and value in labels else str(value)


def describe_flow(flow: dict[str, Any]) -> Iterator[str]:
    """The human rendering of Get Flow's FlowDetail: fields, then task and relation tables."""
    yield render_fields(
        [
            ("flowId", flow.get("flowId")),
            ("flowName", flow.get("flowName")),
            ("active", _labelled(flow.get("active"), _ACTIVE)),
            ("type", _labelled(flow.get("type"), _FLOW_TYPES)),
            ("cycle", flow.get("cycle")),
            ("freq", flow.get("freq")),
            ("startTime", flow.get("startTime")),
            ("owner", flow.get("owner")),
            ("visitor", flow.get("visitor")),
            ("doAs", flow.get("doAs")),
            ("parameters", parameters_text(flow.get("parameters"))),
            ("desc", flow.get("desc")),
            ("created", _at_by(flow.get("createTime"), flow.get("creator"))),
            ("updated", _at_by(flow.get("updateTime"), flow.get("updateUser"))),
            ("locked", flow.get("locked")),
            ("hasEditPri", flow.get("hasEditPri")),
        ]
    )
    graph = graph_of(flow)
    for title, key, columns in _GRAPH_SECTIONS:
        nodes = graph.get(key)
        nodes = [node for node in nodes if isinstance(node, dict)] if isinstance(nodes, list) else []
        if nodes:
            rows = [[_first(node, aliases) for _, aliases in columns] for node in nodes]
            yield f"\n{title}\n" + render_table([header for header, _ in columns], rows)


# -- commands --------------------------------------------------------------------------------------


def is_flowspec(document: Any) -> bool:
    """True for a FlowSpec envelope: a mapping with ``version`` and ``kind`` (any case) and ``spec``."""
    if not isinstance(document, dict):
        return False
    keys = {str(key).lower() for key in document}
    return {"version", "kind", "spec"} <= keys


def read_import_file(raw: bytes) -> tuple[str, Any]:
    """``("enos", FlowDefinition)`` or ``("flowspec", FlowSpec text)`` for what FILE holds.

    JSON with ``version``, ``kind`` and ``spec`` (or YAML, which only FlowSpec uses) is FlowSpec,
    checked with :func:`flowyard.flowspec.parse`; other JSON must be an EnOS flow definition.
    Raises ``ValueError`` (or a ``FlowSpecError``) for anything else.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text: {exc}") from None
    try:
        document = json.loads(text)
    except ValueError:
        document = None
        if text.lstrip().startswith(("{", "[")):
            raise
    if document is not None and not is_flowspec(document):
        return "enos", flow_definition(document)
    spec = flowspec.parse(text)
    if not is_flowspec(spec.data):
        raise ValueError("neither an EnOS flow definition nor a FlowSpec document (version, kind, spec)")
    return "flowspec", text


def default_dataworks_factory(options: ConnectionOptions) -> DataWorksClient:
    """A DataWorks client from the credentials file (it must hold ``projectId``)."""
    return DataWorksClient.from_credentials(options.credentials, url=options.url)


@dataclass(frozen=True, slots=True)
class FlowSpecProvider(ClientProvider):
    """A :class:`ClientProvider` that also makes the DataWorks client and the job-polling sleeper."""

    dataworks_factory: Callable[[ConnectionOptions], DataWorksClient] = default_dataworks_factory
    sleeper: Callable[[float], None] = time.sleep


def _flowspec_provider() -> FlowSpecProvider:
    found = click.get_current_context().find_object(ClientProvider)
    return found if isinstance(found, FlowSpecProvider) else FlowSpecProvider()


def open_dataworks(options: ConnectionOptions) -> DataWorksClient:
    """The DataWorks client a command should use (see :class:`FlowSpecProvider`)."""
    return _flowspec_provider().dataworks_factory(options)


def _import_flowspec(text: str, timeout: float, as_json: bool, connection: ConnectionOptions) -> None:
    sleeper = _flowspec_provider().sleeper
    with open_dataworks(connection) as dw:
        job_id = dw.import_workflow(text)
        status = dw.wait_job(job_id, timeout=timeout, poll_interval=_POLL_SECONDS, sleeper=sleeper)
        if status.get("Status") != "Success":
            raise FlowyardError(f"import job {job_id} ended in {status.get('Status')}: {status.get('Error')}")
        workflow_id = str(status.get("Response") or "")
        flow_id = dw.get_workflow_definition(workflow_id).get("WorkflowId")
    if as_json:
        echo_json({"jobId": job_id, "workflowId": workflow_id, "flowId": flow_id})
        return
    click.echo(f"Imported workflow {workflow_id} as flow {flow_id} (job {job_id}).", err=True)
    if status.get("Error"):
        click.echo(f"Note: {status['Error']}", err=True)
    click.echo(flow_id)


@flows_group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--name", "flow_name", default=None, help="Name of the new flow (EnOS flow JSON only).")
@click.option(
    "--dir",
    "dir_id",
    default=None,
    metavar="DIR_ID",
    help="Directory id, see `flowyard dirs list` (EnOS flow JSON only).",
)
@click.option("--desc", default="", help="Description of the new flow (EnOS flow JSON only).")
@click.option("--flow-id", type=int, default=None, help="Ask for this flow id, used if free (EnOS only).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Seconds to wait for a FlowSpec import job.",
)
@json_option
@client_options
def import_flow(
    file: IO[bytes],
    flow_name: str | None,
    dir_id: str | None,
    desc: str,
    flow_id: int | None,
    timeout: float,
    as_json: bool,
    connection: ConnectionOptions,
) -> None:
    """Create a flow from FILE ('-' reads stdin) and print its flow id.

    FILE is an exported EnOS flow (JSON; needs --name and --dir) or a DataWorks FlowSpec
    document (JSON or YAML with version, kind and spec), imported through the server's DataWorks
    API: the command waits for the import job and fails with the job's error.
    """
    try:
        kind, content = read_import_file(file.read())
    except ValueError as exc:  # JSONDecodeError included
        raise click.BadParameter(str(exc), param_hint="FILE") from exc
    except flowspec.FlowSpecError as exc:
        raise click.BadParameter(f"not a valid FlowSpec document: {exc.message}", param_hint="FILE") from exc
    if kind == "flowspec":
        if flow_name is not None or dir_id is not None or desc or flow_id is not None:
            raise click.UsageError("--name, --dir, --desc and --flow-id are for EnOS flow JSON, not FlowSpec")
        _import_flowspec(content, timeout, as_json, connection)
        return
    if flow_name is None or dir_id is None:
        raise click.UsageError("an EnOS flow definition needs --name and --dir")
    with open_client(connection) as client:
        new_id = client.import_flow(content, flow_name=flow_name, dir_id=dir_id, desc=desc, flow_id=flow_id)
    if as_json:
        echo_json({"flowId": new_id})
    else:
        click.echo(new_id)


def _flowspec_of_flow(flow_id: int, connection: ConnectionOptions) -> str:
    """GetWorkflowDefinition's FlowSpec text of flow ``flow_id``.

    A flow created through EnOS is addressed by its flow id; one imported as FlowSpec by its
    DataWorks workflow id, found here through the flow's (unique) name.
    """
    with open_dataworks(connection) as dw:
        try:
            found = dw.get_workflow_definition(flow_id)
        except InvalidParameterError:
            found = None
        if found is not None and str(found.get("WorkflowId")) == str(flow_id):
            return str(found.get("Spec", ""))
        with open_client(connection) as client:
            name = client.get_flow(flow_id).get("flowName")
        for summary in dw.iter_workflows(name=str(name)):
            if summary.get("Name") == name:
                found = dw.get_workflow_definition(str(summary.get("Id")))
                if str(found.get("WorkflowId")) == str(flow_id):
                    return str(found.get("Spec", ""))
    raise InvalidParameterError(f"flow {flow_id} has no DataWorks workflow definition")


@flows_group.command("export")
@click.argument("flow_id", type=int)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("enos", "flowspec")),
    default="enos",
    show_default=True,
    help="enos: the EnOS FlowDefinition; flowspec: the DataWorks FlowSpec document.",
)
@client_options
def export_flow(flow_id: int, output: Path | None, fmt: str, connection: ConnectionOptions) -> None:
    """Print the portable definition of flow FLOW_ID (what `flows import` reads)."""
    if fmt == "flowspec":
        text = _flowspec_of_flow(flow_id, connection)
        text = text if text.endswith("\n") else text + "\n"
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            click.echo(f"Exported flow {flow_id} to {output}", err=True)
        return
    with open_client(connection) as client:
        definition = client.export_flow(flow_id)
    if output is None:
        echo_json(definition)
        return
    output.write_text(json.dumps(definition, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    click.echo(f"Exported flow {flow_id} to {output}", err=True)


@flows_group.command("get")
@click.argument("flow_id", type=int)
@json_option
@client_options
def get_flow(flow_id: int, as_json: bool, connection: ConnectionOptions) -> None:
    """Show flow FLOW_ID: its settings, tasks and relations."""
    with open_client(connection) as client:
        flow = client.get_flow(flow_id)
    if as_json:
        echo_json(flow)
    else:
        click.echo("\n".join(describe_flow(flow)))


@flows_group.command("search")
@click.argument("expression", default="")
@click.option(
    "--page", type=int, default=None, help="Page number [default: the first: 1 on v2.1, 0 on v2.0]."
)
@click.option("--size", type=click.IntRange(min=1), default=10, show_default=True, help="Flows per page.")
@click.option(
    "--sort",
    "sorters",
    multiple=True,
    callback=_sorters,
    metavar="FIELD[:asc|desc]",
    help="Sort by create_time, update_time or start_time; repeat to add keys.",
)
@json_option
@client_options
def search_flows(
    expression: str,
    page: int | None,
    size: int,
    sorters: list[tuple[str, str]],
    as_json: bool,
    connection: ConnectionOptions,
) -> None:
    """List the flows of the organisation whose id or name contains EXPRESSION."""
    with open_client(connection) as client:
        flows = client.search_flows(expression, page_no=page, page_size=size, sorters=sorters)
    if as_json:
        echo_json(flows)
    elif flows:
        click.echo(render_table(("FLOW ID", "NAME"), [(f.get("flowId"), f.get("flowName")) for f in flows]))
    else:
        click.echo("No flows found.", err=True)


@flows_group.command("mine")
@click.argument("expression", required=False)
@json_option
@client_options
def my_flows(expression: str | None, as_json: bool, connection: ConnectionOptions) -> None:
    """List the flows related to you (owner or visitor), optionally filtered by EXPRESSION."""
    with open_client(connection) as client:
        flows = client.get_my_flows(expression)
    if as_json:
        echo_json(flows)
    elif flows:
        rows = [(f.get("flowId"), f.get("flowName"), f.get("cycle"), f.get("editable")) for f in flows]
        click.echo(render_table(("FLOW ID", "NAME", "CYCLE", "EDITABLE"), rows))
    else:
        click.echo("No flows found.", err=True)


def _change(
    operation: Callable[[FlowyardClient, int], None],
    flow_id: int,
    as_json: bool,
    connection: ConnectionOptions,
    done: str,
) -> None:
    with open_client(connection) as client:
        operation(client, flow_id)
    if as_json:
        echo_json("")  # these APIs answer with an empty string
    else:
        click.echo(done.format(flow_id=flow_id))


@flows_group.command("delete")
@click.argument("flow_id", type=int)
@json_option
@client_options
def delete_flow(flow_id: int, as_json: bool, connection: ConnectionOptions) -> None:
    """Delete flow FLOW_ID and all its instances."""
    _change(FlowyardClient.delete_flow, flow_id, as_json, connection, "Deleted flow {flow_id}.")


@flows_group.command("enable")
@click.argument("flow_id", type=int)
@json_option
@client_options
def enable_flow(flow_id: int, as_json: bool, connection: ConnectionOptions) -> None:
    """Resume the scheduling of flow FLOW_ID."""
    _change(
        FlowyardClient.enable_flow,
        flow_id,
        as_json,
        connection,
        "Enabled flow {flow_id}: it runs on its schedule.",
    )


@flows_group.command("disable")
@click.argument("flow_id", type=int)
@json_option
@client_options
def disable_flow(flow_id: int, as_json: bool, connection: ConnectionOptions) -> None:
    """Pause the scheduling of flow FLOW_ID."""
    _change(
        FlowyardClient.disable_flow,
        flow_id,
        as_json,
        connection,
        "Disabled flow {flow_id}: its schedule is paused.",
    )


@flows_group.command("move")
@click.argument("flow_id", type=int)
@click.option("--dir", "dir_id", required=True, metavar="DIR", help="The target directory's id.")
@json_option
@client_options
def move_flow(flow_id: int, dir_id: str, as_json: bool, connection: ConnectionOptions) -> None:
    """Move flow FLOW_ID into directory DIR (a Flowyard extension; EnOS servers refuse it)."""
    with open_client(connection) as client:
        client.move_flow(flow_id, dir_id)
    if as_json:
        echo_json("")  # the API answers with an empty string
    else:
        click.echo(f"Moved flow {flow_id} into directory {dir_id}.")
