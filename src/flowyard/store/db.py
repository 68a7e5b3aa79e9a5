"""Database engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout and foreign keys on, so several
processes (a server and an admin CLI) share one file safely.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


READ_ONLY = "flowyard_read_only"


def _sqlite_on_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front: two writers queue on the
    # busy timeout instead of failing with "database is locked" on upgrade.
    # Read-only units of work use a plain BEGIN: in WAL mode they neither wait
    # for a writer nor make one wait.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the directory of a SQLite file if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception.

    ``read_only`` promises that nothing is written, which lets SQLite run it
    beside a writer; PostgreSQL ignores it.
    """
    with factory() as session, session.begin():
        if read_only:
            session.connection(execution_options={READ_ONLY: True})
        yield session


TRANSIENT_MARKERS = (
    "database is locked",  # SQLite: another writer held the lock past the busy timeout
    "could not serialize access",  # PostgreSQL serialization failure
    "deadlock detected",
    "server closed the connection",
    "connection refused",
    "terminating connection",
)


def is_transient(error: BaseException) -> bool:
    """Whether a database error is the kind that passes when the same work is simply tried again."""
    if not isinstance(error, DBAPIError | OperationalError):
        return False
    text = str(error).lower()
    return bool(getattr(error, "connection_invalidated", False)) or any(m in text for m in TRANSIENT_MARKERS)
