"""The FlowSpec fields of a flow (FlowOptions, node ids, task rerun modes) in the database, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from flowyard.domain.flows import (
    FailureStrategy,
    FlowDefinition,
    FlowOptions,
    InstanceMode,
    Placement,
    RerunMode,
    TaskDefinition,
    TaskRelation,
)
from flowyard.domain.permissions import Caller
from flowyard.services.directories import DirectoryService
from flowyard.services.flow_save import GraphTask, SaveRequest
from flowyard.services.flows import FlowService
from flowyard.store import flows as flow_store
from flowyard.store import migrate
from flowyard.store import models as m
from flowyard.store.db import make_engine, make_session_factory, transaction

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
OPTIONS = FlowOptions(
    time_zone="Asia/Shanghai",
    schedule_start=datetime(1970, 1, 1),
    schedule_end=datetime(9999, 1, 1),
    rerun_mode=RerunMode.FAILURE_ALLOWED,
    failure_strategy=FailureStrategy.CONTINUE,
    instance_mode=InstanceMode.T_PLUS_1,
)
DEFINITION = FlowDefinition(
    name="dw flow",
    tasks=(
        TaskDefinition(name="a", type="SHELL", cmd="true", node_id="7322159560488851894"),
        TaskDefinition(
            name="b", type="SHELL", cmd="true", node_id="9221517664676278215", rerun_mode=RerunMode.DENIED
        ),
        TaskDefinition(name="c", type="SHELL", cmd="true"),
    ),
    relations=(TaskRelation("a", "b"),),
    options=OPTIONS,
)


@dataclass
class Store:
    engine: Engine
    flows: FlowService
    alice: Caller
    root: str


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            session.add(m.Organization(id="o", name="Org", created_at=NOW))
            session.add(m.User(id="u", username="alice", locked=False, created_at=NOW))
            session.flush()
            session.add(m.Membership(user_id="u", org_id="o"))
        alice = Caller(user_id="u", username="alice", org_id="o")
        yield Store(engine, FlowService(sessions), alice, DirectoryService(sessions).root(alice, NOW))
    finally:
        engine.dispose()


def test_options_node_ids_and_rerun_modes_are_stored(store: Store) -> None:
    flow_id = store.flows.import_flow(store.alice, DEFINITION, dir_id=store.root, requested_id=None, now=NOW)
    assert store.flows.view(store.alice, flow_id).flow.definition == DEFINITION


def test_a_plain_enos_flow_stores_an_empty_options_object(store: Store) -> None:
    plain = FlowDefinition(name="plain", tasks=(TaskDefinition(name="t"),))
    flow_id = store.flows.import_flow(store.alice, plain, dir_id=store.root, requested_id=None, now=NOW)
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT options FROM flows WHERE id = :id"), {"id": flow_id}).scalar_one()
    assert stored == "{}"
    assert store.flows.view(store.alice, flow_id).flow.definition == plain


def test_save_keeps_node_ids_through_a_rename_and_replaces_options_when_given(store: Store) -> None:
    flow_id = store.flows.import_flow(store.alice, DEFINITION, dir_id=store.root, requested_id=None, now=NOW)
    flow = store.flows.view(store.alice, flow_id).flow
    d = flow.definition
    request = SaveRequest(
        flow_id=flow_id,
        type=d.type,
        name=d.name,
        cron=d.cron,
        cycle=d.cycle,
        alert_mode=d.alert_mode,
        do_as=d.submitter,
        owners=d.owners,
        visitors=d.visitors,
        active=flow.active,
        start_date=d.start_date,
        parameters=None,
        desc=None,
        queue=None,
        tasks=tuple(
            GraphTask(tid, "b renamed" if task.name == "b" else None, Placement())
            for task, tid in zip(d.tasks, flow.task_ids, strict=True)
        ),
        flows=None,
        relations=None,
    )
    store.flows.save(store.alice, request, NOW)
    saved = store.flows.view(store.alice, flow_id).flow.definition
    renamed = saved.task("b renamed")
    assert renamed is not None
    assert (renamed.node_id, renamed.rerun_mode) == ("9221517664676278215", RerunMode.DENIED)
    assert saved.options == OPTIONS  # not given: kept

    store.flows.save(store.alice, replace(request, options=FlowOptions()), NOW)
    assert store.flows.view(store.alice, flow_id).flow.definition.options == FlowOptions()


def test_flows_stored_before_migration_0005_read_with_enos_defaults(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO organizations (id, name, created_at) VALUES ('o', 'Org', :t)"), {"t": NOW}
            )
            conn.execute(
                text(
                    "INSERT INTO directories (id, org_id, parent_id, name, created_at) "
                    "VALUES ('d', 'o', NULL, 'Workflow', :t)"
                ),
                {"t": NOW},
            )
            conn.execute(
                text(
                    'INSERT INTO flows (id, org_id, dir_id, name, "desc", type, cycle, cron, parameters, alert_mode,'
                    " alert_to, app_id, submitter, owners, visitors, sync_type, active, locked, entry, queue,"
                    " creator, update_user, created_at, updated_at) VALUES (1001, 'o', 'd', 'old', '', 1, 'D',"
                    " '0 0 0 * * ? *', '[]', 0, '', '', '', '', '', 1, 0, :f, 1, '', '', '', :t, :t)"
                ),
                {"t": NOW, "f": False},
            )
        migrate.upgrade(engine)
        with make_session_factory(engine)() as session:
            flow = flow_store.load_flow(session, 1001)
        assert flow is not None and flow.definition.options == FlowOptions()
        migrate.downgrade(engine, "0004")
        migrate.upgrade(engine)
    finally:
        engine.dispose()
