"""The state-change gateway and its run events: checked changes, one event per change, safe subscribers.

Runs go through the real API, scheduler thread and task processes (the
``world`` fixture); events are read back from the event table, as another
process would read them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from flowyard.domain.events import EventKind, RunEvent
from flowyard.domain.states import Status, TransitionError
from flowyard.services.events import EventService
from flowyard.services.transitions import EventBus, InstanceRef, run_changes
from flowyard.store import instances as instance_store
from flowyard.store import models as m
from flowyard.store.db import make_session_factory, transaction
from tests.integration.conftest import World, make_world, simple_flow
from tests.integration.test_api_runs import log_of, tasks_of, trigger, wait_final

pytestmark = pytest.mark.timeout(90)


def events_of(world: World, instance_id: str | None = None) -> list[RunEvent]:
    events = EventService(make_session_factory(world.app.state.engine)).read_after(0, limit=1000)
    return [e for e in events if instance_id is None or e.instance_id == instance_id]


def kinds(events: list[RunEvent], task_instance_id: str | None = None) -> list[str]:
    return [
        e.kind.value for e in events if task_instance_id is None or e.task_instance_id == task_instance_id
    ]


def world_ms(world: World) -> int:
    return int(world.clock.now().timestamp() * 1000)


def set_cmd(world: World, flow_id: int, task_name: str, cmd: str) -> None:
    """Store a command the API would refuse, as a flow stored before the edge checked it might hold."""
    sessions = make_session_factory(world.app.state.engine)
    with transaction(sessions) as session:
        session.execute(
            update(m.Task).where(m.Task.flow_id == flow_id, m.Task.name == task_name).values(cmd=cmd)
        )


def test_the_gateway_refuses_an_illegal_transition_and_writes_nothing(world: World) -> None:
    flow_id = world.api.import_flow(simple_flow("a"), "done")
    instance_id = trigger(world, flow_id)
    wait_final(world.api, instance_id)
    sessions = make_session_factory(world.app.state.engine)
    before = len(events_of(world))
    with transaction(sessions, read_only=True) as session:
        record = instance_store.get(session, instance_id)
    assert record is not None and record.status == Status.SUCCESS
    ref = InstanceRef(record.id, record.org_id, record.flow_id)
    now = world.clock.now()
    with (
        pytest.raises(TransitionError, match="SUCCESS -> RUNNING"),
        run_changes(sessions, EventBus(), now) as changes,
    ):
        changes.task(ref, record.tasks[0], Status.RUNNING)
    with (
        pytest.raises(TransitionError, match="flow instance"),
        run_changes(sessions, EventBus(), now) as changes,
    ):
        changes.instance(ref, record.status, Status.RUNNING)
    with transaction(sessions, read_only=True) as session:
        again = instance_store.get(session, instance_id)
    assert again is not None and again.status == Status.SUCCESS and again.tasks[0].status == Status.SUCCESS
    assert len(events_of(world)) == before


def test_a_run_leaves_its_events_in_order(world: World) -> None:
    flow_id = world.api.import_flow(simple_flow("a", "b", relations=(("a", "b"),)), "chain")
    instance_id = trigger(world, flow_id)
    done = wait_final(world.api, instance_id)
    tasks = tasks_of(done)
    events = events_of(world, instance_id)
    assert kinds(events, None)[:2] == ["instance.created", "instance.started"]
    assert kinds([e for e in events if e.task_instance_id is None])[-2:] == [
        "instance.succeeded",
        "instance.finished",
    ]
    a = str(tasks["a"]["taskInstId"])
    assert kinds(events, a) == ["task.ready", "task.started", "attempt.ended", "task.succeeded"]
    ended = next(e for e in events if e.kind == EventKind.ATTEMPT_ENDED and e.task_instance_id == a)
    assert ended.attempt_id == f"{a}#1"
    assert ended.payload == {"runNum": 1, "outcome": "success", "exitCode": 0, "message": "exit code 0"}
    succeeded = next(e for e in events if e.kind == EventKind.TASK_SUCCEEDED and e.task_instance_id == a)
    assert succeeded.payload["taskName"] == "a" and succeeded.payload["status"] == 1
    assert {e.org_id for e in events} == {world.admin.org_id} and {e.flow_id for e in events} == {flow_id}
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_every_path_that_ends_an_attempt_emits_exactly_one_terminal_event(world: World) -> None:
    api = world.api
    flows = {
        "ok": simple_flow("t"),
        "fails": simple_flow("t", tasks=[{"name": "t", "type": "COMMAND", "cmd": "exit 3"}]),
        "retries": simple_flow(
            "t",
            tasks=[{"name": "t", "type": "COMMAND", "cmd": "exit 4", "retryLimit": 1, "retryInterval": 0}],
        ),
        "times_out": simple_flow(
            "t", tasks=[{"name": "t", "type": "COMMAND", "cmd": "sleep 30", "timeout": 1}]
        ),
        "cancelled": simple_flow("t", tasks=[{"name": "t", "type": "COMMAND", "cmd": "sleep 30"}]),
        "unstartable": simple_flow("t"),
        "unknown_variable": simple_flow("t", tasks=[{"name": "t", "type": "COMMAND", "cmd": "echo ${nope}"}]),
    }
    ids = {name: api.import_flow(flow, name) for name, flow in flows.items()}
    set_cmd(world, ids["unstartable"], "t", "echo a\x00b")
    instances = {name: trigger(world, flow_id) for name, flow_id in ids.items()}
    deadline = time.monotonic() + 20
    while True:  # cancel once the sleeping task runs
        data = api.ok("GET", "flowInstances", "get", flowInstId=instances["cancelled"])
        if tasks_of(data)["t"]["status"] == "RUNNING":
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    api.ok("POST", "flowInstances", "cancel", {"flowInstId": instances["cancelled"]})
    expected = {
        "ok": ("task.succeeded", 1),
        "fails": ("task.failed", 1),
        "retries": ("task.failed", 2),
        "times_out": ("task.timed_out", 1),
        "cancelled": ("task.cancelled", 1),
        "unstartable": ("task.failed", 1),
        "unknown_variable": ("task.failed", 0),
    }
    for name, instance_id in instances.items():
        done = wait_final(api, instance_id)
        task_instance = str(tasks_of(done)["t"]["taskInstId"])
        counted = Counter(kinds(events_of(world, instance_id), task_instance))
        terminal, attempts = expected[name]
        assert counted[terminal] == 1, (name, counted)
        assert sum(n for kind, n in counted.items() if EventKind(kind).terminal) == 1, (name, counted)
        assert counted["attempt.ended"] == attempts, (name, counted)
        assert counted["task.retrying"] == (1 if name == "retries" else 0), (name, counted)


def test_a_task_that_cannot_start_fails_alone_beside_other_flows(world: World) -> None:
    api = world.api
    bad = api.import_flow(simple_flow("bad", "after", relations=(("bad", "after"),)), "nul")
    set_cmd(world, bad, "bad", "echo before\x00after")
    others = [api.import_flow(simple_flow("x", "y"), f"other{i}") for i in range(4)]
    bob = api.as_(world.new_org_user("bob"))  # another organisation's flow in the same scheduler step
    bobs = bob.import_flow(simple_flow("z"), "bobs")
    started = [trigger(world, bad)] + [trigger(world, f) for f in others]
    bobs_instance = bob.ok("POST", "flows", "trigger", {"flowId": bobs, "triggerTime": world_ms(world)})[
        "flowInstanceId"
    ]
    done = {i: wait_final(api, i) for i in started}
    failed = done[started[0]]
    assert failed["status"] == -1
    bad_task = tasks_of(failed)["bad"]
    assert bad_task["status"] == "FAIL" and tasks_of(failed)["after"]["status"] == "SKIP"
    log = log_of(api, str(bad_task["taskInstId"]))
    assert "Flowyard could not start this task" in log and "nul" in log.lower()
    for instance_id in started[1:]:
        assert done[instance_id]["status"] == 1, done[instance_id]
        assert {t["status"] for t in tasks_of(done[instance_id]).values()} == {"SUCCESS"}
    assert wait_final(bob, bobs_instance)["status"] == 1


def test_a_raising_subscriber_never_breaks_a_run(world: World) -> None:
    seen: list[RunEvent] = []

    def broken(event: RunEvent) -> None:
        raise RuntimeError("subscriber bug")

    bus = world.app.state.ctx.runs.bus
    unsubscribe_broken = bus.subscribe(broken)
    unsubscribe_seen = bus.subscribe(seen.append)
    try:
        flow_id = world.api.import_flow(simple_flow("a", "b", relations=(("a", "b"),)), "subscribed")
        instance_id = trigger(world, flow_id)
        assert wait_final(world.api, instance_id)["status"] == 1
        deadline = time.monotonic() + 5
        while not any(e.kind == EventKind.INSTANCE_FINISHED and e.instance_id == instance_id for e in seen):
            assert time.monotonic() < deadline, [e.kind for e in seen]
            time.sleep(0.01)
    finally:
        unsubscribe_broken()
        unsubscribe_seen()
    mine = [e for e in seen if e.instance_id == instance_id]
    assert [e.kind for e in mine] == [e.kind for e in events_of(world, instance_id)]


def test_old_events_are_purged_in_batches(world: World) -> None:
    flow_id = world.api.import_flow(simple_flow("a"), "old")
    instance_id = trigger(world, flow_id)
    wait_final(world.api, instance_id)
    service = EventService(make_session_factory(world.app.state.engine))
    count = len(events_of(world))
    assert count > 0
    assert service.purge(world.clock.now() + timedelta(hours=1), timedelta(hours=2)) == 0
    assert service.purge(world.clock.now() + timedelta(hours=3), timedelta(hours=2)) == count
    assert events_of(world) == []


READER = """
import json, sys, threading
from flowyard.services.events import EventService
from flowyard.store.db import make_engine, make_session_factory
from flowyard.store.notify import EVENTS, Listener
url, after, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
service = EventService(make_session_factory(make_engine(url)))
woken = threading.Event()
listener = Listener(url, [EVENTS], lambda channel: woken.set())
listener.start()
seen = []
print("ready", flush=True)
while len(seen) < want:
    if not woken.wait(20):
        break
    woken.clear()
    batch = service.read_after(after)
    if batch:
        after = batch[-1].id
        seen += [e.kind.value for e in batch]
listener.stop()
print(json.dumps(seen), flush=True)
"""


@pytest.mark.postgres
def test_events_are_read_by_cursor_from_a_second_process_on_postgresql(
    tmp_path: Path, pg_reason: str | None
) -> None:
    if pg_reason:
        pytest.skip(pg_reason)
    from tests.conftest import create_pg_database, drop_pg_database

    url, name = create_pg_database()
    try:
        for world in make_world(tmp_path, url):
            flow_id = world.api.import_flow(simple_flow("a"), "watched")
            after = EventService(make_session_factory(world.app.state.engine)).last_id()
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
            reader = subprocess.Popen(
                [sys.executable, "-c", READER, url, str(after), "7"],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            try:
                assert reader.stdout is not None
                assert reader.stdout.readline().strip() == "ready"
                time.sleep(0.3)  # let the LISTEN be registered before the first notification
                instance_id = trigger(world, flow_id)
                wait_final(world.api, instance_id)
                out, _ = reader.communicate(timeout=30)
            finally:
                reader.kill()
            seen: list[Any] = json.loads(out.strip().splitlines()[-1])
            assert seen[:2] == ["instance.created", "instance.started"]
            assert "attempt.ended" in seen and seen[-2:] == ["instance.succeeded", "instance.finished"]
    finally:
        drop_pg_database(name)
