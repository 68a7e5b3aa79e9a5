"""PostgreSQL helpers for the benchmarks: a scratch database, COPY bulk loads, EXPLAIN of captured SQL.

Only the benchmarks import this module; it talks to PostgreSQL through the
engine's psycopg connection, because COPY and CREATE/DROP DATABASE are not
something the store layer offers (nor should).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Engine, Table, event
from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _libpq(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_database(server_url: str = DEFAULT_SERVER) -> Iterator[str]:
    """Create an empty database ``flowyard_bench_<random>`` next to ``server_url``'s; drop it on exit.

    Yields the SQLAlchemy URL of the new database. The drop uses ``WITH (FORCE)``
    so a connection the benchmark forgot to close cannot leave it behind.
    """
    name = f"flowyard_bench_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        print(f"dropped database {name}")


def copy_rows(engine: Engine, table: Table, rows: Iterable[dict[str, Any]], *, report_every: int) -> int:
    """COPY ``rows`` (dicts keyed by column name) into ``table`` in one transaction; returns the count.

    The schema's indexes and foreign keys stay in place, so the loaded table is
    exactly what the migrations build; only the per-row round trips go away.
    """
    columns = [c.name for c in table.columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
                count += 1
                if count % report_every == 0:
                    print(f"  copied {count:>9,}", end="\r", flush=True)
        raw.commit()
    finally:
        raw.close()
    print()
    return count


def vacuum_analyze(engine: Engine, table: Table) -> None:
    """VACUUM (ANALYZE) ``table``: fresh statistics, and a visibility map so index-only scans skip the heap.

    Autovacuum (where it is on) does the same some time after a million inserts; doing it
    here makes the numbers independent of whether and when it has run.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM (ANALYZE) {table.name}")


@contextmanager
def captured_sql(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Collect every (statement, parameters) the engine sends while the block runs."""
    captured: list[tuple[str, Any]] = []

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield captured
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def explain(engine: Engine, statements: Sequence[tuple[str, Any]]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) each SELECT statement; one plan text per statement."""
    plans = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).scalars()
            plans.append(statement + "\n" + "\n".join(rows))
        conn.rollback()
    return plans
