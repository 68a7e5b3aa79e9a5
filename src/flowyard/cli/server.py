"""``flowyard server``: the API (and, from the next milestone, scheduler and executor) in one process."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from flowyard.errors import FlowyardError
from flowyard.settings import load_settings


@click.command("server")
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, env FLOWYARD_HOST).")
@click.option("--port", type=int, default=None, help="Port (default 8080, env FLOWYARD_PORT).")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data directory (default $FLOWYARD_HOME or ~/.flowyard).",
)
@click.option(
    "--database-url",
    default=None,
    help="SQLAlchemy URL (default sqlite:///<data-dir>/flowyard.db; postgresql+psycopg://... works).",
)
@click.option(
    "--no-auth", is_flag=True, help="Trust every request: no apim-* signature check. Trusted networks only."
)
@click.option(
    "--timezone", default=None, help="IANA time zone for EnOS time strings (default: the machine's)."
)
def server_command(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    database_url: str | None,
    no_auth: bool,
    timezone: str | None,
) -> None:
    """Start the Flowyard server on the embedded database (or the one given)."""
    from flowyard.server import serve  # uvicorn and the app load only for this command

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(
            host=host,
            port=port,
            data_dir=data_dir,
            database_url=database_url,
            auth=False if no_auth else None,
            timezone=timezone,
        )
        serve(settings)
    except FlowyardError as error:
        click.echo(f"flowyard: {error.message}", err=True)
        sys.exit(error.exit_code)
    except ValueError as error:  # e.g. an unknown --timezone
        click.echo(f"flowyard: {error}", err=True)
        sys.exit(2)
