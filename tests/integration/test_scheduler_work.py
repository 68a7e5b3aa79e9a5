"""The shape of a scheduler step's database work: it grows with what changed, not with what exists.

A scheduler is stepped by hand over a real SQLite database and real task
processes, with a clock that does not move (so only an ended attempt wakes a
step, as in a long chain); every SQL statement is recorded. Times are never
asserted, only which statements run and how many.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from starlette.testclient import TestClient

from flowyard.clock import Clock, FakeClock, SystemClock
from flowyard.executor.local import LocalExecutor
from flowyard.roles.assembly import assemble_scheduler
from flowyard.roles.embedded import create_app
from flowyard.scheduler.loop import Scheduler, SchedulerConfig
from flowyard.settings import Settings
from flowyard.store import models as m
from flowyard.store.db import make_session_factory
from tests.integration.conftest import START, Actor, Api

pytestmark = pytest.mark.timeout(120)
BULK_TASK_LOAD = "FROM task_instances WHERE task_instances.flow_instance_id IN"


def chain(n: int) -> dict[str, Any]:
    names = [f"t{i}" for i in range(n)]
    return {
        "cycle": "D",
        "cron": "0 0 0 * * ? *",
        "tasks": [{"name": x, "type": "COMMAND", "cmd": "true"} for x in names],
        "relations": [{"sourceTaskName": a, "targetTaskName": b} for a, b in itertools.pairwise(names)],
    }


class Stepper:
    def __init__(self, tmp_path: Path, clock: Clock | None = None) -> None:
        self.clock = clock or FakeClock(START)
        self.app = create_app(Settings(data_dir=tmp_path, auth=False, scheduler=False), clock=self.clock)
        self.client = TestClient(self.app)
        creds = json.loads((tmp_path / "credentials.json").read_text())
        self.api = Api(self.client, Actor(creds["userId"], creds["orgId"], creds["username"]))
        scheduler: Scheduler | None = None

        def woken(_: object) -> None:
            assert scheduler is not None
            scheduler.attempt_ended()

        self.executor = LocalExecutor(self.clock, total_cpu=4, on_result=woken)
        config = SchedulerConfig(owner="stepper", zone=ZoneInfo("UTC"), work_dir=tmp_path / "work")
        sessions = make_session_factory(self.app.state.engine)
        scheduler = assemble_scheduler(sessions, self.app.state.ctx.runs, self.executor, self.clock, config)
        self.scheduler = scheduler
        self.statements: list[str] = []
        event.listen(self.app.state.engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(" ".join(statement.split()))

    def run_chain(self, n: int) -> list[list[str]]:
        """Trigger a chain of ``n`` and step until it succeeds; the statements of each step."""
        flow_id = self.api.import_flow(chain(n), f"chain{n}")
        self.clock.advance(timedelta(minutes=2))  # the 1-minute repeat rule, across chains
        body = {"flowId": flow_id, "triggerTime": int(self.clock.now().timestamp() * 1000)}
        instance_id = self.api.ok("POST", "flows", "trigger", body)["flowInstanceId"]
        steps: list[list[str]] = []
        deadline = time.monotonic() + 60
        while True:
            mark = len(self.statements)
            wait = self.scheduler.step(self.clock.now())
            steps.append(self.statements[mark:])
            data = self.api.ok("GET", "flowInstances", "get", flowInstId=instance_id)
            if data["status"] == 1 and data["endTime"]:
                return steps
            assert data["status"] in (0, 2), data
            assert time.monotonic() < deadline, "the chain did not finish"
            self.scheduler.sleep(min(wait, timedelta(seconds=0.2)))

    def close(self) -> None:
        self.executor.shutdown()
        self.client.close()


@pytest.fixture
def stepper(tmp_path: Path) -> Iterator[Stepper]:
    s = Stepper(tmp_path)
    yield s
    s.close()


def link_steps(steps: list[list[str]]) -> list[list[str]]:
    """The steps that recorded an ended attempt and dispatched the next task: one per chain link."""
    return [s for s in steps if any("UPDATE task_attempts SET state" in q for q in s)]


def test_a_chain_step_reads_no_task_back_and_costs_the_same_at_any_length(stepper: Stepper) -> None:
    short = link_steps(stepper.run_chain(10))
    long = link_steps(stepper.run_chain(60))
    assert len(short) >= 9 and len(long) >= 59
    # Steps woken by an ended attempt use the in-memory view: no step reloads the instance's tasks.
    for step in short[1:] + long[1:]:
        assert not any(BULK_TASK_LOAD in q for q in step), step
    # ... and the work per link is the same for 10 tasks as for 60: statements and transactions.
    per_link = {len(s) for s in short[1:-1] + long[1:-1]}
    assert len(per_link) == 1, per_link
    # One transaction per link, four statements: the ended attempt, the next attempt, both tasks (one
    # executemany) and the events.
    for step in long[1:-1]:
        assert sum(q.startswith("BEGIN") for q in step) == 1, step
        assert len(step) <= 5, step  # BEGIN + 4: the ended attempt, the new one, both tasks, the events


def test_a_tasks_start_and_end_are_its_process_s_own(tmp_path: Path) -> None:
    stepper = Stepper(tmp_path, SystemClock())
    try:
        marks = tmp_path / "marks"
        cmd = f"date +%s.%N >> {marks}; sleep 0.2; date +%s.%N >> {marks}"
        flow = {
            "cycle": "D",
            "cron": "0 0 0 * * ? *",
            "tasks": [{"name": "t", "type": "COMMAND", "cmd": cmd}],
        }
        flow_id = stepper.api.import_flow(flow, "stamped")
        body = {"flowId": flow_id, "triggerTime": int(stepper.clock.now().timestamp() * 1000)}
        instance_id = stepper.api.ok("POST", "flows", "trigger", body)["flowInstanceId"]
        deadline = time.monotonic() + 30
        while not stepper.api.ok("GET", "flowInstances", "get", flowInstId=instance_id)["endTime"]:
            assert time.monotonic() < deadline
            stepper.scheduler.step(stepper.clock.now())
            stepper.scheduler.sleep(timedelta(seconds=0.05))
        with make_session_factory(stepper.app.state.engine)() as session:
            task = session.execute(select(m.TaskInstance)).scalars().one()
            attempt = session.execute(select(m.TaskAttempt)).scalars().one()
        began, ended = (float(line) for line in marks.read_text().split())
        assert task.started_at is not None and task.ended_at is not None
        assert task.started_at.timestamp() <= began and task.ended_at.timestamp() >= ended
        # Stamped by the executor when it started the process, not by the step that dispatched it.
        assert attempt.started_at is not None and attempt.started_at > attempt.queued_at
        assert task.started_at == attempt.started_at and task.ended_at == attempt.ended_at
    finally:
        stepper.close()


def test_an_attempt_settled_by_recovery_and_then_reported_ends_once(stepper: Stepper, tmp_path: Path) -> None:
    """A restarted scheduler settles its predecessor's running attempt as LOST; when the old
    executor's result arrives after that, nothing is recorded twice: one ``attempt.ended``."""
    from flowyard.services.events import EventService

    started = tmp_path / "started"
    task = {"name": "t", "type": "COMMAND", "cmd": f"touch {started}; sleep 30"}
    flow = {"cycle": "D", "cron": "0 0 0 * * ? *", "tasks": [task]}
    flow_id = stepper.api.import_flow(flow, "interrupted")
    body = {"flowId": flow_id, "triggerTime": int(stepper.clock.now().timestamp() * 1000)}
    instance_id = stepper.api.ok("POST", "flows", "trigger", body)["flowInstanceId"]
    deadline = time.monotonic() + 30
    while not started.exists():  # the task's process runs
        assert time.monotonic() < deadline
        stepper.scheduler.step(stepper.clock.now())
        stepper.scheduler.sleep(timedelta(seconds=0.05))
    sessions = make_session_factory(stepper.app.state.engine)
    config = SchedulerConfig(owner="stepper", zone=ZoneInfo("UTC"), work_dir=tmp_path / "work")
    other = LocalExecutor(stepper.clock, total_cpu=4)
    try:
        restarted = assemble_scheduler(sessions, stepper.app.state.ctx.runs, other, stepper.clock, config)
        assert restarted.recover(stepper.clock.now()) == 1  # kills the orphan, settles it LOST
        deadline = time.monotonic() + 30
        while stepper.executor.running():  # the old executor sees its process die and reports it
            assert time.monotonic() < deadline
            time.sleep(0.02)
        stepper.scheduler.step(stepper.clock.now())  # records that late report: a duplicate
        restarted.step(stepper.clock.now())  # the restarted scheduler ends the instance
    finally:
        other.shutdown()
    events = [e for e in EventService(sessions).read_after(0, limit=1000) if e.instance_id == instance_id]
    assert [e.kind.value for e in events].count("attempt.ended") == 1
    ended = next(e for e in events if e.kind.value == "attempt.ended")
    assert ended.payload["outcome"] == "lost"
    assert [e.kind.value for e in events if e.kind.terminal] == ["task.failed", "instance.failed"]
