"""What the client commands (``flowyard flows``, ``flowyard dirs``) share.

* :func:`client_options` adds ``--credentials``, ``--url`` and
  ``--api-version`` to a command and hands it a :class:`ConnectionOptions`;
  :func:`open_client` turns those into a :class:`FlowyardClient` through the
  :class:`ClientProvider` found in ``ctx.obj`` (tests put one there with a
  mock transport), else through :func:`default_client_factory`.
* :func:`json_option` adds ``--json``: print exactly the API's ``data``, for
  scripts. Without it commands print tables (:func:`render_table`).
* :class:`ClientGroup` is the one place where a :class:`FlowyardError` becomes
  a message on stderr and the exit code of its class (2 invalid parameter,
  3 authentication, 4 user or permission, 5 flow state, 6 connection,
  1 anything else).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from flowyard.client import API_VERSIONS, FlowyardClient
from flowyard.errors import FlowyardError

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """Where to find the server and who to be, as given on the command line.

    ``credentials=None`` means the default credentials file; ``url`` overrides
    the file's URL.
    """

    credentials: Path | None = None
    url: str | None = None
    api_version: str = "v2.1"


ClientFactory = Callable[[ConnectionOptions], FlowyardClient]


def default_client_factory(options: ConnectionOptions) -> FlowyardClient:
    """A client from the credentials file (raises InvalidParameterError if there is none)."""
    return FlowyardClient.from_credentials(
        options.credentials, url=options.url, api_version=options.api_version
    )


@dataclass(frozen=True, slots=True)
class ClientProvider:
    """Put one in ``ctx.obj`` (``CliRunner().invoke(..., obj=ClientProvider(f))``) to choose the client."""

    factory: ClientFactory = default_client_factory


def open_client(options: ConnectionOptions) -> FlowyardClient:
    """The client a command should use, from the current click context's :class:`ClientProvider`."""
    provider = click.get_current_context().find_object(ClientProvider)
    factory = provider.factory if provider is not None else default_client_factory
    return factory(options)


def client_options(command: Callable[..., R]) -> Callable[..., R]:
    """Add the connection options; the command receives them as ``connection: ConnectionOptions``."""

    @click.option(
        "--credentials",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Credentials file [default: credentials.json in $FLOWYARD_HOME, else in ~/.flowyard].",
    )
    @click.option("--url", default=None, metavar="URL", help="Server URL, instead of the credentials file's.")
    @click.option(
        "--api-version",
        type=click.Choice(API_VERSIONS),
        default="v2.1",
        show_default=True,
        help="EnOS API version to speak.",
    )
    @functools.wraps(command)
    def with_connection(
        *args: Any, credentials: Path | None, url: str | None, api_version: str, **kwargs: Any
    ) -> R:
        connection = ConnectionOptions(credentials=credentials, url=url, api_version=api_version)
        return command(*args, connection=connection, **kwargs)

    return with_connection


def json_option(command: Callable[..., R]) -> Callable[..., R]:
    """Add ``--json``; the command receives ``as_json: bool``."""
    return click.option("--json", "as_json", is_flag=True, help="Print the API's data as JSON.")(command)


class ClientGroup(click.Group):
    """A command group whose commands' :class:`FlowyardError` ends the program with its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlowyardError as error:
            # As `flowyard admin` does: the server's message, the class's exit code.
            click.echo(f"Error: {error.message}", err=True)
            ctx.exit(error.exit_code)


# -- rendering -------------------------------------------------------------------------------------


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON, non-ASCII characters kept."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def cell(value: Any) -> str:
    """How a JSON value reads in a table: no quotes, ``yes``/``no``, ``3381.0`` as ``3381``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns aligned with two spaces, a dashed line under the headers, no trailing spaces."""
    lines = [list(headers), *([cell(value) for value in row] for row in rows)]
    widths = [max(display_width(line[index]) for line in lines) for index in range(len(headers))]
    rendered = [
        "  ".join(_pad(text, width) for text, width in zip(line, widths, strict=True)) for line in lines
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in rendered)


def render_fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column ``name  value`` listing (one record), names aligned."""
    items = [(name, cell(value)) for name, value in pairs]
    width = max((len(name) for name, _ in items), default=0)
    return "\n".join(f"{name.ljust(width)}  {value}".rstrip() for name, value in items)
