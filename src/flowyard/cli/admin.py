"""``flowyard admin``: manage organisations, users and applications directly in the database.

These commands do not talk to a server: they open the database named by
``--data-dir`` / ``--database-url`` (or ``FLOWYARD_DATA_DIR`` /
``FLOWYARD_DATABASE_URL``), bring its schema up to date and run the identity
use cases. They are safe while a server runs on the same database.

Every command prints a short human summary, or with ``--json`` one JSON
document on stdout. Errors go to stderr and exit with the error class's
``exit_code`` (see :mod:`flowyard.errors`).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from flowyard.clock import SystemClock
from flowyard.domain.identity import Application, Organization, User
from flowyard.errors import FlowyardError, InternalError, InvalidParameterError
from flowyard.services.flows import FlowService
from flowyard.services.identity import IdentityService
from flowyard.services.sessions import ConsoleSessionService
from flowyard.settings import load_settings
from flowyard.store.db import make_engine, make_session_factory
from flowyard.store.migrate import upgrade

__all__ = ["admin_group", "database_options", "emit", "open_database", "reports_errors"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_APP_NAME = "default"


def database_options(command: Callable[P, R]) -> Callable[P, R]:
    """The options every admin command shares: where the database is, and the output format."""
    command = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(command)
    command = click.option(
        "--database-url", default=None, help="SQLAlchemy URL; default: a SQLite file in the data dir."
    )(command)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Flowyard's data directory (default: $FLOWYARD_HOME or ~/.flowyard).",
    )(command)


def reports_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Turn Flowyard, database and settings errors into a message on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except FlowyardError as exc:
            _fail(exc)
        except ValidationError as exc:
            _fail(InvalidParameterError(f"Invalid settings: {exc}"))
        except SQLAlchemyError as exc:
            _fail(InternalError(f"Database error: {exc}"))
        except OSError as exc:  # e.g. the data directory cannot be created
            _fail(InternalError(f"I/O error: {exc}"))

    return wrapper


def _fail(error: FlowyardError) -> None:
    click.echo(f"Error: {error.message}", err=True)
    raise click.exceptions.Exit(error.exit_code)


@contextmanager
def open_database(data_dir: Path | None, database_url: str | None) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database the options (or the environment) name, its schema brought up to date."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    engine = make_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()


@contextmanager
def _identity(data_dir: Path | None, database_url: str | None) -> Iterator[IdentityService]:
    with open_database(data_dir, database_url) as sessions:
        yield IdentityService(sessions)


def emit(as_json: bool, document: Any, text: str) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False) if as_json else text)


def _org_json(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name}


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "locked": user.locked, "orgIds": sorted(user.org_ids)}


def _app_json(app: Application) -> dict[str, Any]:
    # Never the secret: it is printed once, by "app create", and nowhere else.
    return {"accessKey": app.access_key, "orgId": app.org_id, "name": app.name}


def _user_line(user: User) -> str:
    state = "locked" if user.locked else "active"
    return f"{user.id}\t{user.username}\t{state}\t{','.join(sorted(user.org_ids))}"


@click.group("admin")
def admin_group() -> None:
    """Manage organizations, users and applications (works on the database directly)."""


# --- organizations -------------------------------------------------------------


@admin_group.group("org")
def org_group() -> None:
    """Organizations (OUs)."""


@org_group.command("create")
@click.argument("name")
@database_options
@reports_errors
def org_create(name: str, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Create an organization called NAME and print its id."""
    with _identity(data_dir, database_url) as identity:
        org = identity.create_org(name, SystemClock().now())
    emit(as_json, _org_json(org), f"Created organization {org.id} ({org.name})")


@org_group.command("list")
@database_options
@reports_errors
def org_list(data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List every organization."""
    with _identity(data_dir, database_url) as identity:
        orgs = identity.list_orgs()
    emit(as_json, [_org_json(org) for org in orgs], "\n".join(f"{org.id}\t{org.name}" for org in orgs))


# --- users ---------------------------------------------------------------------


@admin_group.group("user")
def user_group() -> None:
    """Users and their organizations."""


@user_group.command("create")
@click.argument("username")
@click.option("--org", "org_ids", multiple=True, required=True, help="Organization id; repeat for several.")
@database_options
@reports_errors
def user_create(
    username: str, org_ids: tuple[str, ...], data_dir: Path | None, database_url: str | None, as_json: bool
) -> None:
    """Create user USERNAME as a member of the given organizations."""
    with _identity(data_dir, database_url) as identity:
        user = identity.create_user(username, org_ids, SystemClock().now())
    orgs = ", ".join(sorted(user.org_ids))
    emit(as_json, _user_json(user), f"Created user {user.id} ({user.username}) in {orgs}")


def _set_locked(user_ref: str, locked: bool, data_dir: Path | None, database_url: str | None) -> User:
    with _identity(data_dir, database_url) as identity:
        return identity.set_user_locked(user_ref, locked)


@user_group.command("lock")
@click.argument("user_ref", metavar="USER")
@database_options
@reports_errors
def user_lock(user_ref: str, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Lock USER (id or username): it may still read, but not change or run flows."""
    user = _set_locked(user_ref, True, data_dir, database_url)
    emit(as_json, _user_json(user), f"Locked user {user.id} ({user.username})")


@user_group.command("unlock")
@click.argument("user_ref", metavar="USER")
@database_options
@reports_errors
def user_unlock(user_ref: str, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Unlock USER (id or username)."""
    user = _set_locked(user_ref, False, data_dir, database_url)
    emit(as_json, _user_json(user), f"Unlocked user {user.id} ({user.username})")


@user_group.command("passwd")
@click.argument("user_ref", metavar="USER")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@database_options
@reports_errors
def user_passwd(
    user_ref: str, password_stdin: bool, data_dir: Path | None, database_url: str | None, as_json: bool
) -> None:
    """Set the console password of USER (id or username); prompts twice unless --password-stdin.

    The user's console sessions end, and its failed sign-ins are forgotten.
    """
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
    else:
        password = str(click.prompt("New password", hide_input=True, confirmation_prompt=True))
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    with open_database(data_dir, database_url) as sessions:
        user = ConsoleSessionService(sessions, settings).set_password(user_ref, password, SystemClock().now())
    emit(as_json, _user_json(user), f"Set the password of user {user.id} ({user.username})")


@user_group.command("list")
@click.option("--org", "org_id", default=None, help="Only the members of this organization.")
@database_options
@reports_errors
def user_list(org_id: str | None, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List users: id, username, state and organizations."""
    with _identity(data_dir, database_url) as identity:
        users = identity.list_users(org_id)
    emit(as_json, [_user_json(user) for user in users], "\n".join(_user_line(user) for user in users))


# --- applications ----------------------------------------------------------------


@admin_group.group("app")
def app_group() -> None:
    """Applications: the accessKey/secretKey pairs that sign API requests."""


@app_group.command("create")
@click.option("--org", "org_id", required=True, help="Organization the application belongs to.")
@click.option("--name", default=DEFAULT_APP_NAME, show_default=True, help="A label for the application.")
@database_options
@reports_errors
def app_create(
    org_id: str, name: str, data_dir: Path | None, database_url: str | None, as_json: bool
) -> None:
    """Register an application and print its accessKey and secretKey."""
    with _identity(data_dir, database_url) as identity:
        app = identity.create_app(org_id, name, SystemClock().now())
    document = {**_app_json(app), "secretKey": app.secret_key}
    emit(as_json, document, f"accessKey: {app.access_key}\nsecretKey: {app.secret_key}")
    click.echo("Warning: the secretKey is shown only once. Store it now.", err=True)


@app_group.command("list")
@click.option("--org", "org_id", default=None, help="Only the applications of this organization.")
@database_options
@reports_errors
def app_list(org_id: str | None, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List applications (without their secrets)."""
    with _identity(data_dir, database_url) as identity:
        apps = identity.list_apps(org_id)
    emit(
        as_json,
        [_app_json(app) for app in apps],
        "\n".join(f"{app.access_key}\t{app.org_id}\t{app.name}" for app in apps),
    )


@admin_group.group("flow")
def flow_group() -> None:
    """Lock and unlock flows (a locked flow cannot be changed, enabled, disabled or run)."""


def _set_flow_locked(flow_id: int, locked: bool, data_dir: Path | None, database_url: str | None) -> None:
    with open_database(data_dir, database_url) as sessions:
        FlowService(sessions).set_locked(flow_id, locked)


@flow_group.command("lock")
@click.argument("flow_id", type=int)
@database_options
@reports_errors
def flow_lock(flow_id: int, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Lock flow FLOW_ID: every change or run is refused with 62105 until it is unlocked."""
    _set_flow_locked(flow_id, True, data_dir, database_url)
    emit(as_json, {"flowId": flow_id, "locked": True}, f"Locked flow {flow_id}")


@flow_group.command("unlock")
@click.argument("flow_id", type=int)
@database_options
@reports_errors
def flow_unlock(flow_id: int, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """Unlock flow FLOW_ID."""
    _set_flow_locked(flow_id, False, data_dir, database_url)
    emit(as_json, {"flowId": flow_id, "locked": False}, f"Unlocked flow {flow_id}")
