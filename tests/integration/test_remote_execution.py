"""Celery execution, in process: the real scheduler publishes to the real Redis, a WorkerRuntime claims.

The broker is Redis at 127.0.0.1:6379 (skipped with the reason when absent); each
test uses its own queue prefix and deletes its queues. Messages are taken off the
queue with kombu and handed to a :class:`WorkerRuntime`, which is exactly what the
Celery task in ``flowyard worker`` does, so duplicates and losses can be staged.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import select
from starlette.testclient import TestClient

from flowyard.clock import FakeClock
from flowyard.executor.worker import WorkerRuntime
from flowyard.roles.embedded import create_app
from flowyard.settings import Settings
from flowyard.store import attempts as attempt_store
from flowyard.store import models as m
from flowyard.store.db import make_session_factory, transaction
from tests.integration.conftest import START, Actor, Api, World, simple_flow
from tests.integration.test_api_runs import log_of, tasks_of, trigger, wait_final

REDIS = "redis://127.0.0.1:6379/0"


def redis_unavailable() -> str | None:
    try:
        with Connection(REDIS, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return None
    except Exception as exc:
        return f"Redis at {REDIS} is not reachable: {exc}"


class Broker:
    """Reads what the scheduler published; deliver() hands attempt ids to a worker runtime."""

    def __init__(self, prefix: str, resource: str = "default") -> None:
        self.prefix = prefix
        self.queue = f"{prefix}{resource}"
        self.conn = Connection(REDIS)

    def take(self, timeout: float = 10.0) -> list[str]:
        """Every attempt id on the queue, waiting up to ``timeout`` for the first."""
        ids: list[str] = []
        deadline = time.monotonic() + timeout
        with self.conn.SimpleQueue(self.queue) as queue:
            while True:
                try:
                    message = queue.get(block=not ids, timeout=0.05)
                except queue.Empty:
                    if ids or time.monotonic() > deadline:
                        return ids
                    continue
                args = message.payload[0]
                ids.append(str(args[0]))
                message.ack()

    def close(self) -> None:
        with self.conn.channel() as channel:
            channel.queue_delete(self.queue)
        self.conn.release()


@pytest.fixture
def remote(tmp_path: Path, database_url: str) -> Iterator[tuple[World, Broker, WorkerRuntime]]:
    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    prefix = f"flowyard-test-{uuid.uuid4().hex[:8]}."
    settings = Settings(
        data_dir=tmp_path / "server",
        auth=False,
        database_url=database_url,
        timezone="Asia/Shanghai",
        executor="celery",
        broker_url=REDIS,
        queue_prefix=prefix,
        attempt_lost_seconds=30,
        requeue_seconds=60,
    )
    clock = FakeClock(START)
    app = create_app(settings, clock=clock)
    creds = json.loads((tmp_path / "server" / "credentials.json").read_text())
    admin = Actor(creds["userId"], creds["orgId"], creds["username"])
    runtime = WorkerRuntime(
        make_session_factory(app.state.engine),
        clock,
        name="worker-a",
        queues=("default",),
        concurrency=4,
        cpu=8,
        work_root=tmp_path / "worker" / "work",
        log_root=tmp_path / "worker" / "logs",
        heartbeat_seconds=3600,  # beats are driven by the tests
    )
    runtime.start()
    broker = Broker(prefix)
    try:
        with TestClient(app) as client:
            yield World(Api(client, admin), app, clock, admin), broker, runtime
    finally:
        runtime.stop()
        broker.close()


def run_all(broker: Broker, runtime: WorkerRuntime, api: Api, instance_id: str) -> dict[str, Any]:
    """Deliver messages until the instance ends."""
    deadline = time.monotonic() + 30
    while True:
        for attempt_id in broker.take(timeout=0.5):
            runtime.run_attempt(attempt_id)
        data: dict[str, Any] = api.ok("GET", "flowInstances", "get", flowInstId=instance_id)
        if data["status"] in (1, -1, 8, 10, 7, 4) and data["endTime"]:
            return data
        assert time.monotonic() < deadline, data


def test_a_chain_runs_on_the_worker_and_its_log_is_in_the_database(remote: Any) -> None:
    world, broker, runtime = remote
    flow = simple_flow("a", "b", relations=(("a", "b"),))
    flow["tasks"][0]["cmd"] = "echo from-a; echo oops >&2"
    flow["tasks"][1]["cmd"] = 'echo "attempt=$FLOWYARD_ATTEMPT_ID"'
    instance_id = trigger(world, world.api.import_flow(flow, "chain"))
    done = run_all(broker, runtime, world.api, instance_id)
    assert done["statusDesc"] == "SUCCESS"
    tasks = tasks_of(done)
    log_a = log_of(world.api, tasks["a"]["taskInstId"])
    assert "from-a" in log_a and "oops" in log_a and "run  num:\t1" in log_a
    assert f"attempt={tasks['b']['taskInstId']}#1" in log_of(world.api, tasks["b"]["taskInstId"])
    with transaction(make_session_factory(world.app.state.engine), read_only=True) as session:
        rows = session.execute(select(m.TaskAttempt.state, m.TaskAttempt.owner, m.TaskAttempt.spec)).all()
    assert sorted(rows) == [("done", "worker-a", ""), ("done", "worker-a", "")]  # specs freed once recorded
    # The server's data dir holds no log file: the worker shipped everything to the database.
    assert not list((world.app.state.ctx.runs.log_dir).glob("**/*.log"))


def test_a_message_delivered_twice_runs_the_attempt_once(remote: Any, tmp_path: Path) -> None:
    world, broker, runtime = remote
    record = tmp_path / "ran.txt"
    flow = simple_flow("a")
    flow["tasks"][0]["cmd"] = f"echo $FLOWYARD_ATTEMPT_ID >> {record}"
    instance_id = trigger(world, world.api.import_flow(flow, "twice"))
    (attempt_id,) = broker.take()
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(runtime.run_attempt(attempt_id))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["skipped", "skipped", "success"]
    assert wait_final(world.api, instance_id)["statusDesc"] == "SUCCESS"
    assert record.read_text().split() == [attempt_id]


def test_an_attempt_whose_worker_died_is_retried(remote: Any) -> None:
    world, broker, runtime = remote
    flow = simple_flow("a")
    flow["tasks"][0].update(cmd="echo second-time-lucky", retryLimit=1)
    instance_id = trigger(world, world.api.import_flow(flow, "lost"))
    (attempt_id,) = broker.take()
    sessions = make_session_factory(world.app.state.engine)
    with transaction(sessions) as session:  # a worker claims it, then dies without a word
        assert attempt_store.claim(session, attempt_id, "ghost", world.clock.now()) is not None
    world.clock.advance(timedelta(seconds=31))
    world.app.state.scheduler.wake()
    done = run_all(broker, runtime, world.api, instance_id)
    assert done["statusDesc"] == "SUCCESS"
    task = tasks_of(done)["a"]
    log = log_of(world.api, task["taskInstId"])
    assert "attempt 1 lost: no heartbeat from ghost" in log
    assert "second-time-lucky" in log and "run  num:\t2" in log


def test_a_lost_worker_without_retries_fails_the_task_with_the_reason(remote: Any) -> None:
    world, broker, _ = remote
    instance_id = trigger(world, world.api.import_flow(simple_flow("a"), "lost-for-good"))
    (attempt_id,) = broker.take()
    sessions = make_session_factory(world.app.state.engine)
    with transaction(sessions) as session:
        assert attempt_store.claim(session, attempt_id, "ghost", world.clock.now()) is not None
    world.clock.advance(timedelta(seconds=31))
    world.app.state.scheduler.wake()
    done = wait_final(world.api, instance_id)
    assert done["statusDesc"] == "FAIL"
    task = tasks_of(done)["a"]
    assert "lost: no heartbeat from ghost" in log_of(world.api, task["taskInstId"])


def test_a_lost_message_is_published_again(remote: Any) -> None:
    world, broker, runtime = remote
    instance_id = trigger(world, world.api.import_flow(simple_flow("a"), "republished"))
    (first,) = broker.take()  # taken off the queue and dropped: the message is lost
    assert broker.take(timeout=0.3) == []
    world.clock.advance(timedelta(seconds=61))
    world.app.state.scheduler.wake()
    (again,) = broker.take()
    assert again == first
    assert runtime.run_attempt(again) == "success"
    assert wait_final(world.api, instance_id)["statusDesc"] == "SUCCESS"


def test_cancel_reaches_a_task_running_on_a_worker(remote: Any) -> None:
    world, broker, runtime = remote
    flow = simple_flow("a")
    flow["tasks"][0]["cmd"] = "sleep 30"
    instance_id = trigger(world, world.api.import_flow(flow, "cancelled"))
    (attempt_id,) = broker.take()
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(runtime.run_attempt(attempt_id)))
    thread.start()
    deadline = time.monotonic() + 10
    while not runtime._executor.running():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    world.api.ok("POST", "flowInstances", "cancel", {"flowInstId": instance_id})
    deadline = time.monotonic() + 10
    while thread.is_alive():
        runtime.beat()  # the heartbeat relays the cancel request
        thread.join(0.1)
        assert time.monotonic() < deadline
    assert outcome == ["cancelled"]
    assert wait_final(world.api, instance_id)["statusDesc"] in ("CANCEL", "CANCELED", "CANCELLED")


def test_a_tasks_resource_names_its_queue(remote: Any) -> None:
    world, broker, runtime = remote
    flow = simple_flow("a")
    flow["tasks"][0]["resource"] = "gpu"
    instance_id = trigger(world, world.api.import_flow(flow, "routed"))
    gpu = Broker(broker.prefix, "gpu")
    try:
        (attempt_id,) = gpu.take()
        assert broker.take(timeout=0.2) == []
        assert runtime.run_attempt(attempt_id) == "success"
    finally:
        gpu.close()
    assert wait_final(world.api, instance_id)["statusDesc"] == "SUCCESS"


def test_the_log_of_a_running_task_is_readable_from_the_database(remote: Any, tmp_path: Path) -> None:
    world, broker, runtime = remote
    gate = tmp_path / "gate"
    flow = simple_flow("a")
    flow["tasks"][0]["cmd"] = (
        f"echo one-$((40+2)); while [ ! -e {gate} ]; do sleep 0.02; done; echo two-$((40+2))"
    )
    instance_id = trigger(world, world.api.import_flow(flow, "followed"))
    (attempt_id,) = broker.take()
    thread = threading.Thread(target=runtime.run_attempt, args=(attempt_id,))
    thread.start()
    task_id = attempt_id.split("#")[0]
    deadline = time.monotonic() + 10
    while "one-42" not in log_of(world.api, task_id):
        runtime.beat()  # what the heartbeat thread does every few seconds
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "two-42" not in log_of(world.api, task_id)
    gate.touch()
    thread.join(10)
    assert wait_final(world.api, instance_id)["statusDesc"] == "SUCCESS"
    log = log_of(world.api, task_id)
    assert log.count("one-42") == 1 and log.count("two-42") == 1  # nothing shipped twice


def test_the_worker_enforces_the_memory_limit(remote: Any) -> None:
    world, broker, runtime = remote
    flow = simple_flow("a")
    flow["tasks"][0]["cmd"] = "python3 -c 'x = bytearray(900 * 1024 * 1024); import time; time.sleep(5)'"
    flow["tasks"][0]["runMode"] = {"cpu": 0.5, "memory": 0.3}
    instance_id = trigger(world, world.api.import_flow(flow, "hungry"))
    (attempt_id,) = broker.take()
    assert runtime.run_attempt(attempt_id) == "failed"
    done = wait_final(world.api, instance_id)
    assert done["statusDesc"] == "FAIL"
    task = world.api.ok("GET", "taskInstances", "get", taskInstId=attempt_id.split("#")[0])
    assert "memory" in json.dumps(task).lower(), task


def test_a_restarted_worker_reports_an_attempt_that_ended_before_it_died_with_its_real_result(
    remote: Any, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from flowyard.executor.base import Outcome
    from flowyard.executor.exits import ExitRecord, exit_record_path, write_exit_record
    from flowyard.services.task_logs import log_file
    from flowyard.store import instances as instance_store

    world, broker, _ = remote
    flow = simple_flow("a")
    flow["tasks"][0].update(cmd="echo must-not-run-again", retryLimit=1)
    instance_id = trigger(world, world.api.import_flow(flow, "ended-unreported"))
    (attempt_id,) = broker.take()
    sessions = make_session_factory(world.app.state.engine)
    with transaction(sessions) as session:  # worker-b ran it; its launcher recorded the exit, then -9
        assert attempt_store.claim(session, attempt_id, "worker-b", world.clock.now()) is not None
        task = instance_store.get_task(session, attempt_id.rsplit("#", 1)[0])
    assert task is not None
    log_root = tmp_path / "worker-b" / "logs"
    record = exit_record_path(log_file(log_root, task.flow_instance_id, task.id), 1)
    record.parent.mkdir(parents=True)
    ended_at = datetime.now(UTC)
    write_exit_record(record, ExitRecord(attempt_id, Outcome.SUCCESS, 0, None, "exit code 0", 4242, ended_at))
    restarted = WorkerRuntime(
        sessions,
        world.clock,
        name="worker-b",
        queues=("default",),
        concurrency=1,
        cpu=1,
        work_root=tmp_path / "worker-b" / "work",
        log_root=log_root,
        heartbeat_seconds=3600,
    )
    restarted.start()
    try:
        world.app.state.scheduler.wake()
        done = wait_final(world.api, instance_id)
    finally:
        restarted.stop()
    assert done["statusDesc"] == "SUCCESS"
    assert broker.take(timeout=0.5) == []  # no retry was published
    with transaction(sessions, read_only=True) as session:
        rows = session.execute(select(m.TaskAttempt.outcome, m.TaskAttempt.exit_code)).all()
    assert rows == [("success", 0)]
