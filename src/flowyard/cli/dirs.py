"""``flowyard dirs``: the workflow directory tree of the organisation.

``dirs list`` draws the tree (directories with their ids, flows with their
flow ids); ``dirs create`` adds a directory, under the root ``Workflow``
directory unless ``--parent`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import click

from .output import ClientGroup, ConnectionOptions, cell, client_options, echo_json, json_option, open_client

ROOT_TITLE = "Workflow"


@click.group("dirs", cls=ClientGroup)
def dirs_group() -> None:
    """Manage the workflow directories of a Flowyard or EnOS server."""


def node_label(node: dict[str, Any]) -> str:
    """``title/  <dir id>`` for a directory, ``title  (flow <id>)`` for a flow."""
    title = cell(node.get("title"))
    if node.get("isDirectory", True):
        return f"{title}/  {cell(node.get('key'))}"
    return f"{title}  (flow {cell(node.get('key'))})"


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    children = node.get("children")
    return [child for child in children if isinstance(child, dict)] if isinstance(children, list) else []


def render_tree(roots: Sequence[dict[str, Any]]) -> str:
    """The List Workflow Directories answer as a tree drawn with box characters, in answer order."""

    def lines(node: dict[str, Any], prefix: str) -> Iterator[str]:
        children = _children(node)
        for index, child in enumerate(children):
            last = index == len(children) - 1
            yield f"{prefix}{'└── ' if last else '├── '}{node_label(child)}"
            yield from lines(child, prefix + ("    " if last else "│   "))

    out: list[str] = []
    for root in roots:
        out.append(node_label(root))
        out.extend(lines(root, ""))
    return "\n".join(out)


def find_root(roots: Sequence[dict[str, Any]]) -> str | None:
    """The id of the root directory: the top-level one titled ``Workflow``, else the only one."""
    directories = [node for node in roots if node.get("isDirectory", True)]
    for node in directories:
        if node.get("title") == ROOT_TITLE:
            return str(node.get("key"))
    return str(directories[0].get("key")) if len(directories) == 1 else None


@dirs_group.command("list")
@json_option
@client_options
def list_dirs(as_json: bool, connection: ConnectionOptions) -> None:
    """Show the directory tree with directory ids and the flows in each directory."""
    with open_client(connection) as client:
        roots = client.list_directories()
    if as_json:
        echo_json(roots)
    elif roots:
        click.echo(render_tree(roots))
    else:
        click.echo("No directories.", err=True)


@dirs_group.command("create")
@click.argument("name")
@click.option(
    "--parent", "parent_id", default=None, metavar="DIR_ID", help="Parent directory id [default: the root]."
)
@json_option
@client_options
def create_dir(name: str, parent_id: str | None, as_json: bool, connection: ConnectionOptions) -> None:
    """Create directory NAME and print its id."""
    with open_client(connection) as client:
        if parent_id is None:
            parent_id = find_root(client.list_directories())
            if parent_id is None:
                raise click.ClickException(f"no root {ROOT_TITLE!r} directory found; give --parent DIR_ID")
        dir_id = client.create_directory(parent_id, name)
    if as_json:
        echo_json({"dirId": dir_id})
    else:
        click.echo(dir_id)
