"""Running the API server process: the single-writer lock for SQLite, and uvicorn."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import FrameType
from typing import IO

import uvicorn
from sqlalchemy.engine import make_url

from flowyard.api.app import create_app
from flowyard.errors import FlowyardError
from flowyard.settings import Settings

log = logging.getLogger("flowyard.server")


class AlreadyRunningError(FlowyardError):
    """Another Flowyard server holds the embedded database."""

    exit_code = 7


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser().resolve()


def lock_embedded_database(settings: Settings) -> IO[str] | None:
    """Hold an exclusive lock on ``<db>.lock`` while a server uses a SQLite file.

    SQLite itself keeps the file consistent under concurrent writers (WAL,
    busy timeout); the lock stops a second *server* from running a second
    scheduler on the same file. The lock dies with the process, even on
    kill -9, so a crash never leaves a stale lock behind.
    """
    path = sqlite_path(settings.resolved_database_url)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 - held for the process lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunningError(
            f"another Flowyard server is already using {path}; stop it first, "
            "or give this one its own --data-dir or a PostgreSQL --database-url"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


class Server(uvicorn.Server):
    """uvicorn's server, except that SIGINT/SIGTERM mean "stop cleanly, exit 0".

    uvicorn drains requests on a signal and then raises the signal again, so
    the process would die with -15; a stop that was asked for and completed
    is a success, for systemd and for scripts alike.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def serve(settings: Settings) -> None:
    """Start the API and block until SIGINT or SIGTERM; uvicorn drains requests and exits cleanly."""
    lock = lock_embedded_database(settings)
    try:
        app = create_app(settings)
        if app.state.credentials is not None:
            print(f"Created the first organisation and admin; credentials in {settings.credentials_path}")
            if app.state.credentials.password:
                print(
                    f"Console sign-in: user admin, one-time password {app.state.credentials.password} "
                    "(change it with: flowyard admin user passwd admin)"
                )
        else:
            print(
                f"Using the existing database; credentials (if it made them) in {settings.credentials_path}"
            )
        if not settings.auth:
            log.warning(
                "AUTHENTICATION IS OFF (--no-auth): anyone who can reach %s:%s can act as any user. "
                "Use this only on a trusted network.",
                settings.host,
                settings.port,
            )
            print("WARNING: authentication is OFF (--no-auth); every request is trusted.")
        print(f"Flowyard API listening on http://{settings.host}:{settings.port}", flush=True)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False
        )
        Server(config).run()
    finally:
        if lock is not None:
            lock.close()
