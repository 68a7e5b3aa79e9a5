"""Alembic environment: the engine arrives through ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from flowyard.store.models import Base

MIGRATION_LOCK_KEY = 0x466C6F77  # "Flow"
engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Table rebuilds and drops must not cascade or trip RESTRICT keys. The pragma only takes
        # effect outside a transaction, so it is set on the raw connection before Alembic begins.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several processes (api, schedulers, workers) may start at once on an empty database:
            # the first migrates, the others wait here and then find nothing left to do.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows that break foreign keys: {broken[:5]}")
    connection.commit()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]
