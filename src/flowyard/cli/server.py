"""The long-running roles: ``server`` (all in one), ``api``, ``scheduler`` and ``worker``.

Every role takes the same settings (options here, or ``FLOWYARD_*`` variables),
so one environment file configures a whole deployment.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from flowyard.errors import FlowyardError
from flowyard.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def process_options(function: F) -> F:
    """The options every Flowyard process accepts."""
    options = [
        click.option("--host", default=None, help="Address to bind (default 127.0.0.1, env FLOWYARD_HOST)."),
        click.option("--port", type=int, default=None, help="Port (default 8080, env FLOWYARD_PORT)."),
        click.option(
            "--data-dir",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            help="Data directory (default $FLOWYARD_HOME or ~/.flowyard).",
        ),
        click.option(
            "--database-url",
            default=None,
            help="SQLAlchemy URL (default sqlite:///<data-dir>/flowyard.db; postgresql+psycopg://... works).",
        ),
        click.option(
            "--timezone", default=None, help="IANA time zone for EnOS time strings (default: the machine's)."
        ),
        click.option(
            "--executor",
            type=click.Choice(["local", "celery"]),
            default=None,
            help="Where tasks run: in this process (local, default) or on Celery workers "
            "(env FLOWYARD_EXECUTOR).",
        ),
        click.option(
            "--broker-url",
            default=None,
            help="Celery broker, redis://... or amqp://... (env FLOWYARD_BROKER_URL).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def settings_from(options: dict[str, Any], **extra: Any) -> Settings:
    return load_settings(**{**options, **{k: v for k, v in extra.items() if v is not None}})


def run_role(start: Callable[[], None]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        start()
    except FlowyardError as error:
        click.echo(f"flowyard: {error.message}", err=True)
        sys.exit(error.exit_code)
    except ValueError as error:  # e.g. an unknown --timezone or a bad FLOWYARD_* value
        click.echo(f"flowyard: {error}", err=True)
        sys.exit(2)


NO_AUTH = click.option(
    "--no-auth", is_flag=True, help="Trust every request: no apim-* signature check. Trusted networks only."
)


@click.command("server")
@process_options
@NO_AUTH
def server_command(no_auth: bool, **options: Any) -> None:
    """Start Flowyard in one process: the API and the scheduler (with the local executor by default)."""

    def start() -> None:
        from flowyard.server import serve  # uvicorn and the app load only for this command

        serve(settings_from(options, auth=False if no_auth else None))

    run_role(start)


@click.command("api")
@process_options
@NO_AUTH
def api_command(no_auth: bool, **options: Any) -> None:
    """Start the API alone (no scheduler); the first start on an empty database bootstraps credentials."""

    def start() -> None:
        from flowyard.server import serve

        serve(settings_from(options, auth=False if no_auth else None, scheduler=False))

    run_role(start)


@click.command("scheduler")
@process_options
def scheduler_command(**options: Any) -> None:
    """Start a scheduler, with /health and /metrics on --port; several elect a leader on PostgreSQL."""

    def start() -> None:
        from flowyard.roles.scheduler import serve_scheduler

        serve_scheduler(settings_from(options))

    run_role(start)


@click.command("worker")
@process_options
@click.option(
    "--queues",
    default="default",
    show_default=True,
    help="Comma-separated resource groups (a task's `resource`) this worker runs.",
)
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Parallel tasks."
)
@click.option("--name", default=None, help="Worker name (default: worker-<host>-<hash of data dir>).")
@click.option(
    "--ping", is_flag=True, help="Do not start: exit 0 if the named worker answers through the broker."
)
@click.option(
    "--ping-timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for --ping."
)
def worker_command(
    queues: str, concurrency: int, name: str | None, ping: bool, ping_timeout: float, **options: Any
) -> None:
    """Start a Celery worker that runs task attempts (needs --executor celery settings and a broker)."""
    groups = tuple(q.strip() for q in queues.split(",") if q.strip()) or ("default",)

    def start() -> None:
        from flowyard.roles.worker import ping_worker, run_worker

        settings = settings_from(options, executor="celery")
        if ping:
            alive = ping_worker(settings, name, timeout=ping_timeout)
            click.echo("pong" if alive else "no answer")
            sys.exit(0 if alive else 1)
        run_worker(settings, queues=groups, concurrency=concurrency, name=name)

    run_role(start)
