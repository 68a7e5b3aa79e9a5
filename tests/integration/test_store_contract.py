"""One store contract, held on SQLite and on PostgreSQL alike (``database_url`` runs each test on both).

The suite drives the real services (FlowService, DirectoryService) over a
migrated database, passing literal aware UTC datetimes as ``now``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.flows import (
    Cycle,
    Flow,
    FlowDefinition,
    FlowLink,
    FlowType,
    LinkRelation,
    Parameter,
    Placement,
    ResolvedLink,
    RunMode,
    TaskDefinition,
    TaskLink,
    TaskRelation,
)
from flowyard.domain.permissions import Caller, Rights
from flowyard.errors import InvalidParameterError, LockedError, NoPrivilegeError, StateError
from flowyard.services.directories import DirectoryNode, DirectoryService, FlowFile
from flowyard.services.flow_save import GraphEdge, GraphFlowNode, GraphTask, SaveRequest
from flowyard.services.flows import DEPENDED_ON_V20, DEPENDED_ON_V21, FlowService
from flowyard.store import counters, migrate
from flowyard.store import directories as dir_store
from flowyard.store import models as m
from flowyard.store.db import make_engine, make_session_factory, transaction
from flowyard.store.flows import FlowSummary

NOW = datetime(2026, 11, 22, 8, 0, 0, 123456, tzinfo=UTC)
LATER = datetime(2026, 11, 23, 17, 45, 30, 654321, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
FIRST_FLOW_ID = counters.FIRST_ID[counters.FLOW_IDS] + 1  # 1001
FIRST_TASK_ID = counters.FIRST_ID[counters.TASK_IDS] + 1  # 100001
T = TypeVar("T")


# --- the world every test starts from ------------------------------------------------------------


@dataclass
class World:
    engine: Engine
    sessions: sessionmaker[Session]
    flows: FlowService
    dirs: DirectoryService
    url: str
    alice: Caller  # org A
    bob: Caller  # org A
    dave: Caller  # org A, never named in owners or visitors
    carol: Caller  # org B
    root_a: str
    root_b: str

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def import_flow(
        self,
        definition: FlowDefinition,
        caller: Caller | None = None,
        *,
        dir_id: str | None = None,
        requested_id: int | None = None,
        now: datetime = NOW,
    ) -> int:
        caller = caller or self.alice
        if dir_id is None:
            dir_id = self.root_a if caller.org_id == self.alice.org_id else self.root_b
        return self.flows.import_flow(caller, definition, dir_id=dir_id, requested_id=requested_id, now=now)

    def stored(self, flow_id: int) -> Flow:
        return self.flows.view(self.alice, flow_id).flow

    def rows_of(self, flow_id: int) -> dict[str, int]:
        with self.sessions() as session:
            return {
                table.__tablename__: session.execute(
                    select(func.count()).select_from(table).where(table.flow_id == flow_id)
                ).scalar_one()
                for table in (m.Task, m.TaskRelation, m.FlowLink, m.LinkRelation)
            }

    def flow_ids(self) -> list[int]:
        with self.sessions() as session:
            return list(session.execute(select(m.Flow.id).order_by(m.Flow.id)).scalars())


def add_org(sessions: sessionmaker[Session], org_id: str, *usernames: str) -> list[Caller]:
    with transaction(sessions) as session:
        session.add(m.Organization(id=org_id, name=f"Org {org_id}", created_at=NOW))
        for username in usernames:
            session.add(m.User(id=f"u-{username}", username=username, locked=False, created_at=NOW))
        session.flush()
        for username in usernames:
            session.add(m.Membership(user_id=f"u-{username}", org_id=org_id))
    return [Caller(user_id=f"u-{name}", username=name, org_id=org_id) for name in usernames]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        alice, bob, dave = add_org(sessions, "o-a", "alice", "bob", "dave")
        (carol,) = add_org(sessions, "o-b", "carol")
        dirs = DirectoryService(sessions)
        yield World(
            engine=engine,
            sessions=sessions,
            flows=FlowService(sessions),
            dirs=dirs,
            url=database_url,
            alice=alice,
            bob=bob,
            dave=dave,
            carol=carol,
            root_a=dirs.root(alice, NOW),
            root_b=dirs.root(carol, NOW),
        )
    finally:
        engine.dispose()


def task(name: str, **fields: Any) -> TaskDefinition:
    return TaskDefinition(name=name, cmd=f"echo {name}", **fields)


def chain(name: str, *task_names: str, **fields: Any) -> FlowDefinition:
    """A flow whose tasks run one after the other."""
    relations = tuple(TaskRelation(a, b) for a, b in pairwise(task_names))
    return FlowDefinition(name=name, tasks=tuple(task(t) for t in task_names), relations=relations, **fields)


def in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` for i in range(count) in threads that start together."""
    barrier = threading.Barrier(count)

    def start(i: int) -> T:
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(start, range(count)))


# --- import and view ------------------------------------------------------------------------------


def rich_definition() -> FlowDefinition:
    """Every field away from its default, in an order no sort would produce."""
    return FlowDefinition(
        name="日次集計 – flow",
        cycle=Cycle.HOUR,
        cron="0 0 * * * ? *",
        type=FlowType.PERIODIC,
        parameters=(
            Parameter("地域", "東京"),
            Parameter("empty", ""),
            Parameter("quoted", 'say "hi" \\ 100% _ok_'),
        ),
        alert_mode=2,
        submitter="svc-account",
        owners="alice;bob",
        visitors="carol; dave ",
        sync_type=0,
        desc="",
        start_date=None,
        tasks=(
            task(
                "zeta",
                type="PYTHON",
                run_mode=RunMode(
                    task_mode=2,
                    cpu=0.30000000000000004,
                    memory=1.7,
                    max_parallel=3,
                    key_type=2,
                    datasource_id=42,
                    path="",
                    content="k1\nk2\n分区",
                ),
            ),
            TaskDefinition(
                name="alpha",
                type="SHELL",
                cmd="",
                resource="",
                sync_type=0,
                submitter="ops",
                file_package="pkg.zip",
                cron="",
                priority_level=2,
                timeout=60,
                retry_limit=3,
                retry_interval=5,
                success_code="0,1",
                wait_code="",
                as_link=True,
                run_mode=RunMode(cpu=2.0, memory=0.3),
            ),
            task("mid", run_mode=RunMode(cpu=0.1, memory=4.0, path="/keys.txt")),
        ),
        relations=(TaskRelation("zeta", "mid", rerun=False, cycle_gap="D-1"), TaskRelation("alpha", "mid")),
        flow_links=(FlowLink("fl-b", "side"), FlowLink("fl-a", "up")),
        task_links=(TaskLink("tl", "up", "u2"),),
        link_relations=(
            LinkRelation("tl", "alpha", rerun=True, cycle_gap="H0"),
            LinkRelation("fl-b", "zeta"),
            LinkRelation("fl-a", "zeta", cycle_gap="mi-15"),
        ),
        alert_to="ops@example.com",
        app_id="app-1",
    )


def test_import_then_view_gives_back_the_same_definition(world: World) -> None:
    up = world.import_flow(chain("up", "u1", "u2"))
    side = world.import_flow(chain("side", "s1"))
    definition = rich_definition()

    flow_id = world.import_flow(definition)

    view = world.flows.view(world.alice, flow_id)
    flow = view.flow
    assert flow.definition == definition
    assert (up, side) == (FIRST_FLOW_ID, FIRST_FLOW_ID + 1)
    # The task premise's virtual node takes a flow id before the flow itself does.
    virtual = FIRST_FLOW_ID + 2
    assert flow.id == FIRST_FLOW_ID + 3
    assert flow.org_id == "o-a"
    assert flow.dir_id == world.root_a
    assert flow.task_ids == (FIRST_TASK_ID + 3, FIRST_TASK_ID + 4, FIRST_TASK_ID + 5)
    assert flow.task_placements == (Placement(), Placement(), Placement())
    assert flow.links == (
        ResolvedLink("fl-b", side, side, "side"),
        ResolvedLink("fl-a", up, up, "up"),
        ResolvedLink("tl", virtual, up, "up", FIRST_TASK_ID + 1, "u2"),
    )
    assert flow.links[2].node_name == f"{FIRST_TASK_ID + 1}(u2)"
    assert (flow.active, flow.locked, flow.entry, flow.queue) == (0, False, 1, "")
    assert (flow.creator, flow.update_user) == ("alice", "alice")
    assert flow.created_at == NOW
    assert flow.updated_at == NOW
    assert flow.created_at is not None and flow.created_at.tzinfo is UTC
    assert view.rights == Rights(read=True, edit=True)
    assert view.caller_locked is False
    # The float that JSON must not round.
    assert flow.definition.tasks[0].run_mode.cpu == 0.30000000000000004


def test_start_date_and_an_offset_now_round_trip(world: World) -> None:
    dated = chain("dated", "t", start_date=date(2028, 2, 29))
    undated = chain("undated", "t")
    written_at = datetime(2026, 11, 22, 16, 30, 0, 999999, tzinfo=CST)

    dated_id = world.import_flow(dated, now=written_at)
    undated_id = world.import_flow(undated)

    assert world.stored(dated_id).definition.start_date == date(2028, 2, 29)
    assert world.stored(undated_id).definition.start_date is None
    created = world.stored(dated_id).created_at
    assert created == written_at
    assert created is not None and created.tzinfo is UTC
    assert (created.hour, created.minute, created.microsecond) == (8, 30, 999999)


def test_view_applies_organisation_and_read_rights(world: World) -> None:
    flow_id = world.import_flow(chain("guarded", "t", owners="bob", visitors="carol"))

    assert world.flows.view(world.bob, flow_id).rights == Rights(read=True, edit=True)
    with pytest.raises(NoPrivilegeError):
        world.flows.view(world.dave, flow_id)
    # carol is a visitor by name, but of another organisation: the flow does not exist for her.
    with pytest.raises(InvalidParameterError, match=r"^Flow not found$"):
        world.flows.view(world.carol, flow_id)
    with pytest.raises(InvalidParameterError, match=r"^Flow not found$"):
        world.flows.view(world.alice, 999_999)
    locked = replace(world.alice, locked=True)
    assert world.flows.view(locked, flow_id).caller_locked is True
    with pytest.raises(LockedError, match=r"^Your account has been locked$"):
        world.import_flow(chain("by-locked", "t"), locked)


def test_requested_flow_id_is_used_when_free_and_replaced_when_taken(world: World) -> None:
    assert world.import_flow(chain("a", "t"), requested_id=5000) == 5000
    assert world.import_flow(chain("b", "t"), requested_id=5000) == FIRST_FLOW_ID
    # A free id above the counter is used; the counter then skips it.
    assert world.import_flow(chain("c", "t"), requested_id=FIRST_FLOW_ID + 1) == FIRST_FLOW_ID + 1
    assert world.import_flow(chain("d", "t")) == FIRST_FLOW_ID + 2
    # A task premise's virtual node id is taken as well.
    e = world.import_flow(
        chain("e", "t", task_links=(TaskLink("0", "a", "t"),), link_relations=(LinkRelation("0", "t"),))
    )
    virtual = FIRST_FLOW_ID + 3
    assert e == FIRST_FLOW_ID + 4
    assert world.stored(e).links[0].node_flow_id == virtual
    assert world.import_flow(chain("f", "t"), requested_id=virtual) == FIRST_FLOW_ID + 5
    assert world.import_flow(chain("g", "t"), requested_id=0) == FIRST_FLOW_ID + 6
    assert world.import_flow(chain("h", "t"), requested_id=-7) == FIRST_FLOW_ID + 7
    assert world.flow_ids() == [
        *range(FIRST_FLOW_ID, FIRST_FLOW_ID + 3),
        *range(FIRST_FLOW_ID + 4, FIRST_FLOW_ID + 8),
        5000,
    ]


# --- id counters ----------------------------------------------------------------------------------


def test_counter_allocations_are_consecutive_and_skip_taken_numbers(world: World) -> None:
    with transaction(world.sessions) as session:
        assert counters.current(session, counters.FLOW_IDS) == FIRST_FLOW_ID - 1
        got = [counters.allocate(session, counters.FLOW_IDS, lambda n: False) for _ in range(200)]
    assert got == list(range(FIRST_FLOW_ID, FIRST_FLOW_ID + 200))
    with transaction(world.sessions) as session:
        taken = {FIRST_FLOW_ID + 200, FIRST_FLOW_ID + 201}
        assert counters.allocate(session, counters.FLOW_IDS, taken.__contains__) == FIRST_FLOW_ID + 202
        assert counters.current(session, counters.FLOW_IDS) == FIRST_FLOW_ID + 202
        # Counters are independent of each other.
        assert counters.current(session, counters.TASK_IDS) == FIRST_TASK_ID - 1
        assert counters.allocate(session, counters.TASK_IDS, lambda n: False) == FIRST_TASK_ID


def test_counter_allocations_are_unique_across_sessions_and_connections(world: World) -> None:
    other_engine = make_engine(world.url)
    try:
        factories = [world.sessions, make_session_factory(other_engine)]
        got: list[int] = []
        for round_ in range(20):
            with transaction(factories[round_ % 2]) as session:
                got.extend(counters.allocate(session, counters.FLOW_IDS, lambda n: False) for _ in range(5))
    finally:
        other_engine.dispose()
    assert got == list(range(FIRST_FLOW_ID, FIRST_FLOW_ID + 100))


def test_concurrent_counter_allocations_never_collide(world: World) -> None:
    """Two threads on two connections, starting before the counter row exists."""
    engines = [make_engine(world.url) for _ in range(2)]

    def allocate_many(i: int) -> list[int]:
        factory = make_session_factory(engines[i])
        got = []
        for _ in range(60):
            with transaction(factory) as session:
                got.append(counters.allocate(session, counters.FLOW_IDS, lambda n: False))
        return got

    try:
        first, second = in_threads(2, allocate_many)
    finally:
        for engine in engines:
            engine.dispose()
    assert first == sorted(first)
    assert second == sorted(second)
    assert sorted(first + second) == list(range(FIRST_FLOW_ID, FIRST_FLOW_ID + 120))


def test_counter_row_created_by_two_overlapping_transactions(world: World) -> None:
    """The second transaction meets the first one's uncommitted counter row and must not fail or repeat."""
    engines = [make_engine(world.url) for _ in range(2)]
    first_has_allocated = threading.Event()

    def allocate(i: int) -> int:
        if i == 1:
            assert first_has_allocated.wait(timeout=30)
        with transaction(make_session_factory(engines[i])) as session:
            value = counters.allocate(session, counters.FLOW_IDS, lambda n: False)
            if i == 0:
                first_has_allocated.set()
                time.sleep(0.3)  # keep the row uncommitted while the second transaction reaches it
            return value

    try:
        results = in_threads(2, allocate)
    finally:
        for engine in engines:
            engine.dispose()
    assert results == [FIRST_FLOW_ID, FIRST_FLOW_ID + 1]


# --- import refusals ------------------------------------------------------------------------------


def test_flow_name_is_unique_per_organisation(world: World) -> None:
    world.import_flow(chain("same", "t"))

    for caller in (world.alice, world.bob):
        with pytest.raises(
            InvalidParameterError, match=r"^Workflow validation failed: Flow name must be unique$"
        ) as exc:
            world.import_flow(chain("same", "other"), caller)
        assert exc.value.code == 62102
    # Another organisation may use the name.
    theirs = world.import_flow(chain("same", "t"), world.carol)
    assert world.flows.view(world.carol, theirs).flow.org_id == "o-b"
    assert len(world.flow_ids()) == 2


def test_import_into_an_unknown_or_foreign_directory_is_refused(world: World) -> None:
    for dir_id in ("0" * 32, world.root_b):
        with pytest.raises(InvalidParameterError, match=r"^Directory does not exist$") as exc:
            world.import_flow(chain("lost", "t"), dir_id=dir_id)
        assert exc.value.code == 62102
    assert world.flow_ids() == []


PREMISE_REFUSALS = [
    ((FlowLink("x", "nope"),), (), "flowLink x references unknown upstream flow 'nope'"),
    ((FlowLink("x", "theirs"),), (), "flowLink x references unknown upstream flow 'theirs'"),
    ((), (TaskLink("y", "nope", "u1"),), "taskLink y references unknown upstream flow 'nope'"),
    ((), (TaskLink("y", "up", "zz"),), "taskLink y references unknown task 'zz' of flow 'up'"),
    ((), (TaskLink("y", "theirs", "t"),), "taskLink y references unknown upstream flow 'theirs'"),
]


def test_premise_on_something_unknown_is_refused(world: World) -> None:
    world.import_flow(chain("up", "u1"))
    world.import_flow(chain("theirs", "t"), world.carol)  # another organisation's flow is unknown too
    for flow_links, task_links, message in PREMISE_REFUSALS:
        link_id = (flow_links or task_links)[0].link_id
        definition = chain(
            "down",
            "d1",
            flow_links=flow_links,
            task_links=task_links,
            link_relations=(LinkRelation(link_id, "d1"),),
        )
        with pytest.raises(InvalidParameterError, match=rf"^Workflow validation failed: {message}$") as exc:
            world.import_flow(definition)
        assert exc.value.code == 62102
    assert len(world.flow_ids()) == 2


# --- delete ---------------------------------------------------------------------------------------


def test_delete_refuses_a_flow_others_rely_on_and_so_does_the_database(world: World) -> None:
    up = world.import_flow(chain("up", "u1", "u2"))
    by_flow = world.import_flow(
        chain("by-flow", "d", flow_links=(FlowLink("0", "up"),), link_relations=(LinkRelation("0", "d"),))
    )
    by_task = world.import_flow(
        chain(
            "by-task", "d", task_links=(TaskLink("0", "up", "u2"),), link_relations=(LinkRelation("0", "d"),)
        )
    )
    u2 = world.stored(up).task_id("u2")

    with pytest.raises(StateError, match=rf"^{DEPENDED_ON_V21}$") as exc:
        world.flows.delete(world.alice, up)
    assert exc.value.code == 62104
    assert exc.value.message_for("v2.0") == DEPENDED_ON_V20

    # RESTRICT foreign keys: the rows cannot go even behind the service's back.
    for statement, params in (
        ("DELETE FROM flows WHERE id = :id", {"id": up}),
        ("DELETE FROM tasks WHERE id = :id", {"id": u2}),
    ):
        with world.engine.connect() as conn, pytest.raises(IntegrityError), conn.begin():
            conn.execute(text(statement), params)
    assert world.rows_of(up) == {"tasks": 2, "task_relations": 1, "flow_links": 0, "link_relations": 0}

    # Only a flow premise gone is not enough: the task premise still holds.
    world.flows.delete(world.alice, by_flow)
    with pytest.raises(StateError):
        world.flows.delete(world.alice, up)
    world.flows.delete(world.alice, by_task)
    world.flows.delete(world.alice, up)
    assert world.flow_ids() == []


def test_delete_of_an_independent_flow_removes_everything_it_owns(world: World) -> None:
    up = world.import_flow(chain("up", "u1", "u2"))
    down_definition = chain(
        "down",
        "d1",
        "d2",
        "d3",
        flow_links=(FlowLink("f", "up"),),
        task_links=(TaskLink("t", "up", "u1"),),
        link_relations=(LinkRelation("f", "d1"), LinkRelation("t", "d2")),
    )
    down = world.import_flow(down_definition)
    assert world.rows_of(down) == {"tasks": 3, "task_relations": 2, "flow_links": 2, "link_relations": 2}

    with pytest.raises(NoPrivilegeError):
        world.flows.delete(world.dave, down)
    with pytest.raises(InvalidParameterError, match=r"^Flow not found$"):
        world.flows.delete(world.carol, down)
    world.flows.delete(world.alice, down)

    assert world.rows_of(down) == {"tasks": 0, "task_relations": 0, "flow_links": 0, "link_relations": 0}
    assert world.rows_of(up) == {"tasks": 2, "task_relations": 1, "flow_links": 0, "link_relations": 0}
    with pytest.raises(InvalidParameterError, match=r"^Flow not found$"):
        world.flows.view(world.alice, down)
    # Nothing relies on "up" any more.
    world.flows.delete(world.alice, up)
    assert world.flow_ids() == []


# --- search ---------------------------------------------------------------------------------------

SEARCH_FLOWS = [
    # (requested id, name, created at, start date)
    (7001, "alpha_1", NOW + timedelta(hours=1), date(2026, 3, 1)),
    (7002, "alphaX1", NOW + timedelta(hours=1), date(2026, 1, 1)),
    (7013, "alpha%2", NOW + timedelta(hours=2), date(2026, 2, 1)),
    (8001, "alphaYY2", NOW + timedelta(hours=3), date(2026, 5, 1)),
    (9001, "be\\ta", NOW + timedelta(hours=4), date(2026, 4, 1)),
]


@pytest.fixture
def searchable(world: World) -> World:
    for flow_id, name, created_at, start in SEARCH_FLOWS:
        assert (
            world.import_flow(chain(name, "t", start_date=start), requested_id=flow_id, now=created_at)
            == flow_id
        )
    # The same name in another organisation never shows up.
    world.import_flow(chain("alpha_1", "t"), world.carol, requested_id=7500)
    return world


def search_ids(
    world: World,
    expression: str,
    sorters: list[tuple[str, bool]] | None = None,
    page: int = 0,
    size: int = 50,
) -> list[int]:
    return [s.id for s in world.flows.search(world.alice, expression, sorters or [], page, size)]


SEARCH_EXPRESSIONS = {
    "": [7001, 7002, 7013, 8001, 9001],
    "alpha": [7001, 7002, 7013, 8001],
    "a_1": [7001],  # "_" is not a wildcard: "alphaX1" does not match
    "a%2": [7013],  # "%" is not a wildcard: "alphaYY2" does not match
    "_": [7001],
    "%": [7013],
    "\\": [9001],
    "e\\t": [9001],
    "700": [7001, 7002],  # id substring
    "01": [7001, 7013, 8001, 9001],
    "13": [7013],
    "X1": [7002],
    "nothing": [],
}


def test_search_matches_name_or_id_substring_literally(searchable: World) -> None:
    got = {expression: search_ids(searchable, expression) for expression in SEARCH_EXPRESSIONS}
    assert got == SEARCH_EXPRESSIONS


def test_search_sorters(searchable: World) -> None:
    def ids(*sorters: tuple[str, bool]) -> list[int]:
        return search_ids(searchable, "", list(sorters))

    assert ids(("create_time", True)) == [9001, 8001, 7013, 7001, 7002]  # ties keep id order
    assert ids(("create_time", False), ("start_time", True)) == [7001, 7002, 7013, 8001, 9001]
    assert ids(("create_time", False), ("start_time", False)) == [7002, 7001, 7013, 8001, 9001]
    assert ids(("start_time", False)) == [7002, 7013, 7001, 9001, 8001]
    assert ids(("start_time", True)) == [8001, 9001, 7001, 7013, 7002]


def test_search_paging_and_summaries(searchable: World) -> None:
    assert [search_ids(searchable, "", page=page, size=2) for page in range(4)] == [
        [7001, 7002],
        [7013, 8001],
        [9001],
        [],
    ]
    assert search_ids(searchable, "", [("create_time", True)], page=1, size=2) == [7013, 7001]
    assert searchable.flows.search(searchable.alice, "a_1", [], 0, 10) == [
        FlowSummary(
            id=7001,
            org_id="o-a",
            dir_id=searchable.root_a,
            name="alpha_1",
            cycle="D",
            owners="",
            visitors="",
            creator="alice",
            locked=False,
        )
    ]


def test_search_by_update_time_follows_set_active(searchable: World) -> None:
    searchable.flows.set_active(searchable.alice, 7013, True, LATER)
    assert search_ids(searchable, "", [("update_time", True)]) == [7013, 9001, 8001, 7001, 7002]


def test_search_ignores_case_on_every_backend(searchable: World) -> None:
    # EnOS calls both searches "fuzzy"; a user typing ALPHA expects to find alpha, on any backend.
    assert search_ids(searchable, "ALPHA") == [7001, 7002, 7013, 8001]
    assert search_ids(searchable, "x1") == [7002]
    mine = searchable.flows.mine(searchable.alice, "ALPHAyy")
    assert [item.summary.id for item in mine] == [8001]


def test_flows_without_start_date_sort_last_on_every_backend(world: World) -> None:
    world.import_flow(chain("undated", "t"), requested_id=10)
    world.import_flow(chain("dated", "t", start_date=date(2026, 1, 1)), requested_id=20)
    world.import_flow(chain("later", "t", start_date=date(2026, 2, 1)), requested_id=30)
    assert search_ids(world, "", [("start_time", False)]) == [20, 30, 10]
    assert search_ids(world, "", [("start_time", True)]) == [30, 20, 10]


# --- enable and disable ---------------------------------------------------------------------------


def test_set_active_switches_the_flow_and_records_who_and_when(world: World) -> None:
    flow_id = world.import_flow(chain("periodic", "t", owners="bob"))

    world.flows.set_active(world.bob, flow_id, True, LATER)
    flow = world.stored(flow_id)
    assert (flow.active, flow.update_user, flow.updated_at, flow.created_at) == (1, "bob", LATER, NOW)
    assert flow.updated_at is not None and flow.updated_at.tzinfo is UTC

    later_still = LATER + timedelta(minutes=1)
    world.flows.set_active(world.alice, flow_id, False, later_still.astimezone(CST))
    flow = world.stored(flow_id)
    assert (flow.active, flow.update_user, flow.updated_at) == (0, "alice", later_still)

    with pytest.raises(NoPrivilegeError):
        world.flows.set_active(world.dave, flow_id, True, LATER)
    world.flows.set_locked(flow_id, True)
    with pytest.raises(LockedError, match=r"^This workflow is locked$"):
        world.flows.set_active(world.alice, flow_id, True, LATER)
    assert world.stored(flow_id).active == 0


# --- Save Flow ------------------------------------------------------------------------------------


def save_request(flow: Flow, **changes: Any) -> SaveRequest:
    """A request that changes nothing, then ``changes``."""
    d = flow.definition
    unchanged = SaveRequest(
        flow_id=flow.id,
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
        tasks=None,
        flows=None,
        relations=None,
    )
    return replace(unchanged, **changes)


def test_save_renames_drops_rewires_and_adds_premises(world: World) -> None:
    up = world.import_flow(chain("up", "u1", "u2"))
    side = world.import_flow(chain("side", "s1"))
    main_definition = chain(
        "main",
        "a",
        "b",
        "c",
        task_links=(TaskLink("tl", "up", "u2"),),
        link_relations=(LinkRelation("tl", "b"),),
    )
    main = world.import_flow(main_definition)
    stored = world.stored(main)
    ta, tb, tc = stored.task_ids
    old_virtual = stored.links[0].node_flow_id
    u1, u2 = world.stored(up).task_ids
    assert (up, side, old_virtual, main) == (1001, 1002, 1003, 1004)

    request = save_request(
        stored,
        name="main renamed",
        desc="new desc",
        queue="q1",
        parameters=(Parameter("p", "v"),),
        start_date=date(2026, 1, 1),
        tasks=(GraphTask(tc, None, Placement(0.5, 0.6)), GraphTask(ta, "a2", Placement(0.1, 0.2))),
        flows=(
            GraphFlowNode(
                old_virtual, "ignored for a known node", True, f"f_{old_virtual}", Placement(0.9, 0.1)
            ),
            GraphFlowNode(side, "side", False, f"f_{side}", Placement(0.3, 0.3)),
            GraphFlowNode(424242, f"{u1}(u1)", True, "f_424242", Placement(0.7, 0.7)),
        ),
        relations=(
            GraphEdge(f"t_{ta}", f"t_{tc}", False, "D0"),
            GraphEdge(f"f_{old_virtual}", f"t_{ta}", True, ""),
            GraphEdge(f"f_{side}", f"t_{tc}", False, ""),
            GraphEdge("f_424242", f"t_{tc}", False, "H-1"),
        ),
    )

    assert world.flows.save(world.alice, request, LATER) == main

    saved = world.stored(main)
    a, _, c = main_definition.tasks
    assert saved.definition == replace(
        main_definition,
        name="main renamed",
        desc="new desc",
        parameters=(Parameter("p", "v"),),
        start_date=date(2026, 1, 1),
        tasks=(c, replace(a, name="a2")),
        relations=(TaskRelation("a2", "c", rerun=False, cycle_gap="D0"),),
        flow_links=(FlowLink("0", "side"),),
        task_links=(TaskLink("tl", "up", "u2"), TaskLink("1", "up", "u1")),
        link_relations=(
            LinkRelation("tl", "a2", rerun=True),
            LinkRelation("0", "c"),
            LinkRelation("1", "c", cycle_gap="H-1"),
        ),
    )
    assert saved.task_ids == (tc, ta)
    assert saved.task_placements == (Placement(0.5, 0.6), Placement(0.1, 0.2))
    new_virtual = 1005
    assert saved.links == (
        ResolvedLink("0", side, side, "side", placement=Placement(0.3, 0.3)),
        ResolvedLink("tl", old_virtual, up, "up", u2, "u2", Placement(0.9, 0.1)),
        ResolvedLink("1", new_virtual, up, "up", u1, "u1", Placement(0.7, 0.7)),
    )
    assert saved.links[2].node_name == f"{u1}(u1)"
    assert (saved.queue, saved.update_user, saved.created_at, saved.updated_at) == ("q1", "alice", NOW, LATER)
    assert world.rows_of(main) == {"tasks": 2, "task_relations": 1, "flow_links": 3, "link_relations": 3}
    with world.sessions() as session:
        assert session.get(m.Task, tb) is None
    # "up" now has two dependents through main.
    with pytest.raises(StateError):
        world.flows.delete(world.alice, up)


def test_save_refuses_to_drop_a_task_another_flow_relies_on(world: World) -> None:
    main = world.import_flow(chain("main", "a", "b", "c"))
    ta, tb, tc = world.stored(main).task_ids
    other = world.import_flow(
        chain(
            "other", "o", task_links=(TaskLink("0", "main", "c"),), link_relations=(LinkRelation("0", "o"),)
        )
    )
    before = world.stored(main)

    request = save_request(
        before,
        tasks=(GraphTask(ta, None, Placement()), GraphTask(tb, None, Placement())),
        relations=(GraphEdge(f"t_{ta}", f"t_{tb}", True, ""),),
    )
    with pytest.raises(
        StateError, match=rf"^Task {tc} cannot be removed: workflow {other} \(other\) relies on it$"
    ) as exc:
        world.flows.save(world.alice, request, LATER)
    assert exc.value.code == 62104
    assert world.stored(main) == before
    with pytest.raises(
        InvalidParameterError, match=r"^Workflow validation failed: Flow name must be unique$"
    ):
        world.flows.save(world.alice, save_request(before, name="other"), LATER)
    with pytest.raises(NoPrivilegeError):
        world.flows.save(world.dave, save_request(before, name="dave's"), LATER)
    assert world.stored(main) == before

    # Renaming the task the premise points at is fine, and the premise follows the rename.
    kept = tuple(GraphTask(tid, "c2" if tid == tc else None, Placement()) for tid in (ta, tb, tc))
    rename = save_request(before, tasks=kept, relations=None)
    world.flows.save(world.alice, rename, LATER)
    assert world.stored(other).definition.task_links == (TaskLink("0", "main", "c2"),)


def test_save_refuses_an_unknown_task_premise(world: World) -> None:
    main = world.import_flow(chain("main", "a"))
    request = save_request(
        world.stored(main), flows=(GraphFlowNode(77, "999999(ghost)", True, "f_77", Placement()),)
    )
    with pytest.raises(
        InvalidParameterError, match=r"^Incorrect parameter: task premise f_77: task 999999 does not exist$"
    ):
        world.flows.save(world.alice, request, LATER)


def test_save_rename_without_relations_keeps_the_edges(world: World) -> None:
    main = world.import_flow(chain("main", "a", "b", "c"))
    stored = world.stored(main)
    ta, tb, tc = stored.task_ids
    request = save_request(
        stored,
        tasks=(
            GraphTask(ta, "a2", Placement()),
            GraphTask(tb, None, Placement()),
            GraphTask(tc, None, Placement()),
        ),
    )

    world.flows.save(world.alice, request, LATER)

    assert world.stored(main).definition.relations == (TaskRelation("a2", "b"), TaskRelation("b", "c"))


def test_save_keeps_the_link_id_of_an_existing_flow_premise(world: World) -> None:
    up = world.import_flow(chain("up", "u1"))
    main = world.import_flow(
        chain(
            "main",
            "a",
            flow_links=(FlowLink("up-link", "up"),),
            link_relations=(LinkRelation("up-link", "a"),),
        )
    )
    stored = world.stored(main)
    request = save_request(
        stored,
        flows=(GraphFlowNode(up, "up", False, f"f_{up}", Placement(0.2, 0.2)),),
        relations=(GraphEdge(f"f_{up}", f"t_{stored.task_ids[0]}", False, ""),),
    )

    world.flows.save(world.alice, request, LATER)

    assert world.stored(main).definition.flow_links == (FlowLink("up-link", "up"),)


# --- directories ----------------------------------------------------------------------------------


def test_directories_tree_nesting_and_flow_files(world: World) -> None:
    minute = timedelta(minutes=1)
    etl = world.dirs.create(world.alice, world.root_a, "etl", NOW + minute)
    daily = world.dirs.create(world.alice, etl, "daily", NOW + 2 * minute)
    adhoc = world.dirs.create(world.bob, world.root_a, "adhoc", NOW + 3 * minute)
    etl_adhoc = world.dirs.create(world.alice, etl, "adhoc", NOW + 4 * minute)  # same name, other parent
    assert all(len(d) == 32 and int(d, 16) >= 0 for d in (etl, daily, adhoc, etl_adhoc))
    assert len({etl, daily, adhoc, etl_adhoc, world.root_a}) == 5

    world.import_flow(chain("mine", "t"), world.alice, dir_id=etl, requested_id=1)
    world.import_flow(chain("visited", "t", visitors="alice"), world.bob, dir_id=etl, requested_id=2)
    world.import_flow(chain("owned", "t", owners="x;alice"), world.bob, dir_id=daily, requested_id=3)
    world.import_flow(chain("private", "t"), world.bob, dir_id=world.root_a, requested_id=4)
    world.import_flow(chain("theirs", "t"), world.carol, requested_id=5)

    assert world.dirs.tree(world.alice, LATER) == DirectoryNode(
        id=world.root_a,
        title="Workflow",
        children=[
            DirectoryNode(
                id=etl,
                title="etl",
                children=[
                    DirectoryNode(id=daily, title="daily", files=[FlowFile(3, "owned", True)]),
                    DirectoryNode(id=etl_adhoc, title="adhoc"),
                ],
                files=[FlowFile(1, "mine", True), FlowFile(2, "visited", False)],
            ),
            DirectoryNode(id=adhoc, title="adhoc"),
        ],
        files=[FlowFile(4, "private", False)],
    )
    assert world.dirs.tree(world.carol, LATER) == DirectoryNode(
        id=world.root_b, title="Workflow", files=[FlowFile(5, "theirs", True)]
    )
    with world.sessions() as session:
        row = session.get(m.Directory, daily)
        assert row is not None
        assert (row.org_id, row.parent_id, row.name, row.created_at) == (
            "o-a",
            etl,
            "daily",
            NOW + 2 * minute,
        )
        assert row.created_at.tzinfo is UTC


def test_directory_refusals(world: World) -> None:
    world.dirs.create(world.alice, world.root_a, "etl", NOW)

    with pytest.raises(InvalidParameterError, match=r"^A directory of the same name already exists$") as exc:
        world.dirs.create(world.bob, world.root_a, "etl", LATER)
    assert exc.value.code == 62102
    for parent in ("f" * 32, world.root_b):
        with pytest.raises(InvalidParameterError, match=r"^parentId not found$") as exc:
            world.dirs.create(world.alice, parent, "new", LATER)
        assert exc.value.code == 62102
    with world.sessions() as session:
        names = session.execute(select(m.Directory.name).order_by(m.Directory.name)).scalars().all()
    assert names == ["Workflow", "Workflow", "etl"]


def root_rows(world: World, org_id: str) -> list[tuple[str, str | None, str, datetime]]:
    with world.sessions() as session:
        rows = session.execute(
            select(m.Directory).where(m.Directory.org_id == org_id, m.Directory.parent_id.is_(None))
        ).scalars()
        return [(r.id, r.parent_id, r.name, r.created_at) for r in rows]


def test_ensure_root_is_idempotent(world: World) -> None:
    (erin,) = add_org(world.sessions, "o-c", "erin")
    root = dir_store.root_id("o-c")

    assert world.dirs.root(erin, NOW) == root
    assert world.dirs.root(erin, LATER) == root
    other_engine = make_engine(world.url)
    try:
        with transaction(make_session_factory(other_engine)) as session:
            assert dir_store.ensure_root(session, "o-c", LATER) == dir_store.DirectoryRow(
                root, "o-c", None, "Workflow"
            )
    finally:
        other_engine.dispose()

    assert root_rows(world, "o-c") == [(root, None, "Workflow", NOW)]
    assert world.dirs.tree(erin, LATER) == DirectoryNode(id=root, title="Workflow")


def test_ensure_root_from_two_overlapping_transactions(world: World) -> None:
    """The second transaction finds no root, then meets the first one's insert: it must return that root."""
    add_org(world.sessions, "o-e", "gina")
    engines = [make_engine(world.url) for _ in range(2)]
    first_has_inserted = threading.Event()

    def ensure(i: int) -> dir_store.DirectoryRow:
        if i == 1:
            assert first_has_inserted.wait(timeout=30)
        with transaction(make_session_factory(engines[i])) as session:
            row = dir_store.ensure_root(session, "o-e", NOW if i == 0 else LATER)
            if i == 0:
                first_has_inserted.set()
                time.sleep(0.3)  # keep the insert uncommitted while the second transaction reaches it
            return row

    try:
        first, second = in_threads(2, ensure)
    finally:
        for engine in engines:
            engine.dispose()
    root = dir_store.root_id("o-e")
    assert first == second == dir_store.DirectoryRow(root, "o-e", None, "Workflow")
    assert root_rows(world, "o-e") == [(root, None, "Workflow", NOW)]


def test_ensure_root_from_two_sessions_at_once(world: World) -> None:
    add_org(world.sessions, "o-d", "frank")
    engines = [make_engine(world.url) for _ in range(2)]

    def ensure(i: int) -> dir_store.DirectoryRow:
        with transaction(make_session_factory(engines[i])) as session:
            return dir_store.ensure_root(session, "o-d", NOW + timedelta(seconds=i))

    try:
        first, second = in_threads(2, ensure)
    finally:
        for engine in engines:
            engine.dispose()
    expected = dir_store.DirectoryRow(dir_store.root_id("o-d"), "o-d", None, "Workflow")
    assert first == second == expected
    assert len(root_rows(world, "o-d")) == 1
