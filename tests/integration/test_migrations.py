"""Alembic migrations: one head, a schema equal to the models, down and up again with data in place."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, update
from sqlalchemy.orm import Session

from flowyard.store import migrate
from flowyard.store import models as m
from flowyard.store.db import make_engine, make_session_factory

REPO = Path(__file__).resolve().parents[2]
CREATED_AT = datetime(2026, 11, 22, 8, 30, 15, 123456, tzinfo=UTC)
# Written with a +08:00 offset on purpose: it must come back as the same instant in UTC.
UPDATED_AT = datetime(2026, 11, 23, 9, 0, 0, 654321, tzinfo=timezone(timedelta(hours=8)))
APP_TABLES = sorted(m.Base.metadata.tables)
HEAD = "0010"
REVISION_FILES = [
    "0001_initial_schema.py",
    "0002_flow_instances.py",
    "0003_dataworks_projects_specs_jobs.py",
    "0004_dataworks_job_leases.py",
    "0005_flow_schedule_options.py",
    "0006_scale_out.py",
    "0007_run_events.py",
    "0008_python_names_in_stored_json.py",
    "0009_console_sessions.py",
    "0010_task_reference_indexes.py",
]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, m.Base.metadata))


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def insert_data(engine: Engine, *, nested_directories: bool = True) -> None:
    """One organisation with a user, an application, directories and two flows, one relying on the other."""
    with make_session_factory(engine)() as session, session.begin():
        session.add(m.Organization(id="o1", name="Org One", created_at=CREATED_AT))
        session.add(m.User(id="u1", username="alice", locked=False, created_at=CREATED_AT))
        session.flush()
        session.add(m.Membership(user_id="u1", org_id="o1"))
        session.add(
            m.Application(access_key="ak1", secret_key="sk1", org_id="o1", name="app", created_at=CREATED_AT)
        )
        session.flush()
        session.add(
            m.AccessToken(
                token="tok1",
                access_key="ak1",
                issued_at=CREATED_AT,
                expires_at=CREATED_AT + timedelta(hours=2),
            )
        )
        session.add(m.UsedNonce(scope="sig", value="n1", expires_at=CREATED_AT))
        session.add(m.Counter(name="flow", value=1003))
        session.add(m.Counter(name="task", value=100004))
        session.add(
            m.Directory(id="d-root", org_id="o1", parent_id=None, name="Workflow", created_at=CREATED_AT)
        )
        session.flush()
        parent = "d-root" if nested_directories else None
        session.add(m.Directory(id="d-sub", org_id="o1", parent_id=parent, name="etl", created_at=CREATED_AT))
        session.flush()
        for flow_id, name, start in ((1001, "upstream", None), (1002, "downstream", date(2026, 12, 1))):
            session.add(
                m.Flow(
                    id=flow_id,
                    org_id="o1",
                    dir_id="d-sub",
                    name=name,
                    desc="déjà vu",
                    type=1,
                    cycle="D",
                    cron="0 0 0 * * ? *",
                    parameters='[{"key": "k", "value": "温度"}]',
                    start_date=start,
                    creator="alice",
                    update_user="alice",
                    created_at=CREATED_AT,
                    updated_at=UPDATED_AT,
                )
            )
        session.flush()
        run_mode = '{"taskMode": 1, "cpu": 0.5, "memory": 1.0}'
        for task_id, flow_id, position, name in (
            (100001, 1001, 0, "u1"),
            (100002, 1002, 0, "d1"),
            (100003, 1002, 1, "d2"),
        ):
            session.add(
                m.Task(
                    id=task_id,
                    flow_id=flow_id,
                    position=position,
                    name=name,
                    type="COMMAND",
                    run_mode=run_mode,
                )
            )
        session.flush()
        session.add(
            m.TaskRelation(
                flow_id=1002, position=0, source_task_id=100002, target_task_id=100003, cycle_gap="D0"
            )
        )
        flow_premise = m.FlowLink(
            flow_id=1002, position=0, link_key="0", node_flow_id=1001, upstream_flow_id=1001
        )
        task_premise = m.FlowLink(
            flow_id=1002,
            position=1,
            link_key="1",
            node_flow_id=1003,
            upstream_flow_id=1001,
            upstream_task_id=100001,
            x=0.25,
            y=0.75,
        )
        session.add_all([flow_premise, task_premise])
        session.flush()
        session.add(
            m.LinkRelation(flow_id=1002, position=0, link_row_id=flow_premise.id, target_task_id=100002)
        )
        session.add(
            m.LinkRelation(flow_id=1002, position=1, link_row_id=task_premise.id, target_task_id=100003)
        )


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in m.Base.metadata.tables.items()
        }


EXPECTED_COUNTS = {
    "organizations": 1,
    "users": 1,
    "memberships": 1,
    "applications": 1,
    "access_tokens": 1,
    "used_nonces": 1,
    "counters": 2,
    "directories": 2,
    "flows": 2,
    "tasks": 3,
    "task_relations": 1,
    "flow_links": 2,
    "link_relations": 2,
}


def assert_data_intact(engine: Engine) -> None:
    assert row_counts(engine) == {**dict.fromkeys(m.Base.metadata.tables, 0), **EXPECTED_COUNTS}
    with Session(engine) as session:
        flow = session.get(m.Flow, 1002)
        assert flow is not None
        assert (flow.name, flow.desc, flow.parameters, flow.start_date) == (
            "downstream",
            "déjà vu",
            '[{"key": "k", "value": "温度"}]',
            date(2026, 12, 1),
        )
        assert flow.created_at == CREATED_AT
        assert flow.updated_at == UPDATED_AT
        assert flow.updated_at.tzinfo is UTC
        assert flow.updated_at.hour == 1  # 09:00 at +08:00
        links = session.execute(select(m.FlowLink).order_by(m.FlowLink.position)).scalars().all()
        assert [(lk.link_key, lk.upstream_task_id, lk.x, lk.y) for lk in links] == [
            ("0", None, 0.0, 0.0),
            ("1", 100001, 0.25, 0.75),
        ]
        counters = {name: value for name, value in session.execute(select(m.Counter.name, m.Counter.value))}
        assert counters == {"flow": 1003, "task": 100004}


def test_exactly_one_head(engine: Engine) -> None:
    assert migrate.heads(engine) == (HEAD,)


def test_upgrade_from_empty_matches_the_models(engine: Engine) -> None:
    assert table_names(engine) == []
    assert migrate.current_revision(engine) is None

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == HEAD
    assert table_names(engine) == sorted([*APP_TABLES, "alembic_version"])
    assert schema_differences(engine) == []


@pytest.mark.parametrize("nested_directories", [False, True], ids=["flat-dirs", "nested-dirs"])
def test_downgrade_to_base_and_upgrade_again_with_data(engine: Engine, nested_directories: bool) -> None:
    migrate.upgrade(engine)
    insert_data(engine, nested_directories=nested_directories)
    assert_data_intact(engine)

    migrate.downgrade(engine, "base")

    assert migrate.current_revision(engine) is None
    assert table_names(engine) == ["alembic_version"]

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == HEAD
    assert schema_differences(engine) == []
    assert row_counts(engine) == dict.fromkeys(APP_TABLES, 0)
    # The recreated schema takes the same data again (keys, uniques and foreign keys all in place).
    insert_data(engine, nested_directories=nested_directories)
    assert_data_intact(engine)


def test_upgrade_of_an_upgraded_database_is_a_no_op_that_keeps_the_data(engine: Engine) -> None:
    migrate.upgrade(engine)
    insert_data(engine)

    migrate.upgrade(engine)
    migrate.upgrade(engine, HEAD)

    assert migrate.current_revision(engine) == HEAD
    assert schema_differences(engine) == []
    assert_data_intact(engine)


def test_revision_files_ship_with_the_package() -> None:
    versions = migrate.MIGRATIONS_DIR / "versions"
    assert (versions / "0001_initial_schema.py").is_file()
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()
    revisions = sorted(p.name for p in versions.glob("*.py") if p.name != "__init__.py")
    assert revisions == REVISION_FILES
    # Every Python file Alembic loads at run time is covered by the package data of pyproject.toml.
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "flowyard"
    ]
    package_root = REPO / "src" / "flowyard"
    needed = [
        path.relative_to(package_root).as_posix()
        for path in migrate.MIGRATIONS_DIR.rglob("*.py")
        if "__pycache__" not in path.parts
    ]
    assert "store/migrations/versions/0001_initial_schema.py" in needed
    assert [path for path in needed if not any(fnmatch.fnmatch(path, p) for p in patterns)] == []


def test_0008_renames_the_keys_of_stored_run_modes_and_options_both_ways(engine: Engine) -> None:
    from flowyard.domain.flows import FailureStrategy, RerunMode
    from flowyard.store import flows as flow_store

    migrate.upgrade(engine, "0007")
    insert_data(engine)
    camel_mode = (
        '{"taskMode": 2, "cpu": 0.5, "memory": 1.0, "maxParallel": 3, "keyType": 2, '
        '"datasourceId": 7, "path": "", "content": "a,b"}'
    )
    camel_options = (
        '{"failureStrategy": "Continue", "tasks": {"u1": {"nodeId": "n-1", "rerunMode": "Denied"}}, '
        '"timeZone": "Asia/Shanghai"}'
    )
    with engine.begin() as conn:
        conn.execute(update(m.Task).where(m.Task.id == 100001).values(run_mode=camel_mode))
        conn.execute(update(m.Flow).where(m.Flow.id == 1001).values(options=camel_options))

    migrate.upgrade(engine)

    with make_session_factory(engine)() as session:
        flow = flow_store.load_flow(session, 1001)
    assert flow is not None
    task = flow.definition.tasks[0]
    assert (task.run_mode.task_mode, task.run_mode.max_parallel, task.run_mode.datasource_id) == (2, 3, 7)
    assert (task.node_id, task.rerun_mode) == ("n-1", RerunMode.DENIED)
    assert flow.definition.options.time_zone == "Asia/Shanghai"
    assert flow.definition.options.failure_strategy == FailureStrategy.CONTINUE

    migrate.downgrade(engine, "0007")

    with engine.connect() as conn:
        mode = conn.execute(select(m.Task.run_mode).where(m.Task.id == 100001)).scalar_one()
        options = conn.execute(select(m.Flow.options).where(m.Flow.id == 1001)).scalar_one()
    assert json.loads(mode) == json.loads(camel_mode) and json.loads(options) == json.loads(camel_options)
