"""Cron ticks with a fake clock: exactly one instance per tick, across restarts and schedulers side by side."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from flowyard.clock import FakeClock
from flowyard.cron import next_fire_times
from flowyard.domain.ticks import CatchUp
from flowyard.executor.local import LocalExecutor
from flowyard.roles.assembly import assemble_scheduler
from flowyard.roles.embedded import create_app
from flowyard.scheduler.loop import Scheduler, SchedulerConfig
from flowyard.settings import Settings
from flowyard.store import models as m
from flowyard.store.db import make_session_factory
from tests.integration.conftest import Actor, Api, simple_flow

BERLIN = ZoneInfo("Europe/Berlin")


class Rig:
    """The app without its own scheduler thread, plus schedulers the test steps by hand."""

    def __init__(self, tmp_path: Path, database_url: str | None = None) -> None:
        self.clock = FakeClock(datetime(2024, 3, 29, 23, 30, tzinfo=UTC))
        settings = Settings(
            data_dir=tmp_path,
            auth=False,
            scheduler=False,
            timezone="Europe/Berlin",
            database_url=database_url,
        )
        self.app = create_app(settings, clock=self.clock)
        self.client = TestClient(self.app)
        creds = json.loads((tmp_path / "credentials.json").read_text())
        self.api = Api(self.client, Actor(creds["userId"], creds["orgId"], creds["username"]))
        self.sessions = make_session_factory(self.app.state.engine)
        self.work = tmp_path / "work"
        self.executors: list[LocalExecutor] = []

    def scheduler(self, policy: CatchUp = CatchUp.LATEST, owner: str = "test") -> Scheduler:
        executor = LocalExecutor(self.clock, total_cpu=4)
        self.executors.append(executor)
        config = SchedulerConfig(owner=owner, zone=BERLIN, work_dir=self.work)
        runs = self.app.state.ctx.runs
        scheduler = assemble_scheduler(self.sessions, runs, executor, self.clock, config, catch_up=policy)
        self.app.state.ctx.runs.set_wake(scheduler.wake)  # triggers through the API reach this scheduler
        return scheduler

    def periodic(self, name: str, cron: str, **extra: Any) -> int:
        flow_id = self.api.import_flow(simple_flow("t", type=1, cron=cron, **extra), name)
        self.api.ok("POST", "flows", "enable", {"flowId": flow_id})
        return flow_id

    def ticks(self, flow_id: int) -> list[datetime]:
        with self.sessions() as session:
            rows = session.execute(
                select(m.FlowInstance.scheduled_at)
                .where(m.FlowInstance.flow_id == flow_id)
                .order_by(m.FlowInstance.scheduled_at)
            ).scalars()
            return [r.astimezone(BERLIN) for r in rows if r is not None]

    def close(self) -> None:
        for executor in self.executors:
            executor.shutdown()
        self.client.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_each_tick_creates_exactly_one_instance(rig: Rig) -> None:
    flow_id = rig.periodic("daily", "0 0 2 * * ?")
    scheduler = rig.scheduler()
    rig.clock.set(at("2024-03-30T01:00"))
    scheduler.tick(rig.clock.now())
    assert rig.ticks(flow_id) == []  # enabling starts the schedule now: nothing is due yet
    rig.clock.set(at("2024-03-30T02:00"))
    scheduler.tick(rig.clock.now())
    scheduler.tick(rig.clock.now())
    rig.scheduler(owner="second").tick(rig.clock.now())  # a second scheduler on the same database
    assert rig.ticks(flow_id) == [at("2024-03-30T02:00")]
    instances = rig.api.ok("POST", "flowInstances", "search", {"type": 1})
    assert instances["count"] == 1
    assert instances["flowInsts"][0]["instanceId"] == f"{flow_id}-20240330"  # daily: yyyyMMdd in UTC
    # 02:00 does not exist on 2024-03-31 in Berlin; Quartz 2.3.2 skips that day, and so do we.
    rig.clock.set(at("2024-03-31T03:30"))
    scheduler.tick(rig.clock.now())
    assert rig.ticks(flow_id) == [at("2024-03-30T02:00")]
    rig.clock.set(at("2024-04-01T02:00"))
    scheduler.tick(rig.clock.now())
    assert rig.ticks(flow_id) == [at("2024-03-30T02:00"), at("2024-04-01T02:00")]


@pytest.mark.parametrize("night", ["2024-03-31T00:30", "2024-10-27T00:30"], ids=["spring", "autumn"])
def test_hourly_ticks_across_dst_changes_neither_skip_nor_repeat(rig: Rig, night: str) -> None:
    flow_id = rig.periodic("hourly", "0 0 * * * ?", cycle="H")
    scheduler = rig.scheduler(CatchUp.ALL)
    start = datetime.fromisoformat(night).replace(tzinfo=BERLIN).astimezone(UTC)
    rig.clock.set(start)
    scheduler.tick(rig.clock.now())
    for _ in range(8):  # walk through the night in 20-minute steps of real (UTC) time
        for _ in range(3):
            rig.clock.advance(timedelta(minutes=20))
            scheduler.tick(rig.clock.now())
    end = rig.clock.now()
    # Exactly the Quartz chain of fire times, each once; Quartz itself drops one real hour on the
    # autumn night (the first 02:00 CEST resolves to the later 02:00 CET), so we do too.
    expected = [t for t in next_fire_times("0 0 * * * ?", start, 12, "Europe/Berlin") if t <= end]
    assert rig.ticks(flow_id) == expected
    utc = [t.astimezone(UTC) for t in expected]
    assert len(set(utc)) == len(utc)
    assert len(utc) == (8 if night.startswith("2024-03") else 7)


def test_missed_ticks_follow_the_catch_up_policy(tmp_path: Path) -> None:
    for policy, expected in ((CatchUp.LATEST, 1), (CatchUp.ALL, 5), (CatchUp.NONE, 0)):
        rig = Rig(tmp_path / policy.value)
        try:
            flow_id = rig.periodic("daily", "0 0 2 * * ?")
            scheduler = rig.scheduler(policy)
            rig.clock.set(at("2024-04-01T01:00"))
            scheduler.tick(rig.clock.now())
            rig.clock.set(at("2024-04-05T03:00"))  # the scheduler was down for five ticks
            scheduler.tick(rig.clock.now())
            ticks = rig.ticks(flow_id)
            assert len(ticks) == expected, policy
            if policy == CatchUp.LATEST:
                assert ticks == [at("2024-04-05T02:00")]
            scheduler.tick(rig.clock.now())
            assert len(rig.ticks(flow_id)) == expected  # repeating the step changes nothing
        finally:
            rig.close()


def test_start_date_and_disabled_flows(rig: Rig) -> None:
    later = rig.periodic("later", "0 0 2 * * ?", startTime="2024-04-10")
    disabled = rig.api.import_flow(simple_flow("t", type=1, cron="0 0 2 * * ?"), "off")
    scheduler = rig.scheduler(CatchUp.ALL)
    rig.clock.set(at("2024-04-01T00:00"))
    scheduler.tick(rig.clock.now())
    rig.clock.set(at("2024-04-11T03:00"))
    scheduler.tick(rig.clock.now())
    assert rig.ticks(later) == [at("2024-04-10T02:00"), at("2024-04-11T02:00")]
    assert rig.ticks(disabled) == []


def test_a_scheduled_instance_waits_for_its_upstream_of_the_same_business_date(rig: Rig) -> None:
    up = rig.periodic("upstream", "0 0 2 * * ?")
    down = rig.periodic(
        "downstream",
        "0 30 2 * * ?",
        flowLinks=[{"linkId": "0", "sourceFlowName": "upstream"}],
        linkRelations=[{"linkId": "0", "targetTaskName": "t"}],
    )
    rig.api.ok("POST", "flows", "disable", {"flowId": up})  # upstream will not run by itself
    scheduler = rig.scheduler()
    rig.clock.set(at("2024-04-01T00:00"))
    scheduler.tick(rig.clock.now())
    rig.clock.set(at("2024-04-01T02:31"))
    scheduler.tick(rig.clock.now())
    scheduler.start_instances(rig.clock.now())
    (inst,) = rig.api.ok("POST", "flowInstances", "search", {"type": 1})["flowInsts"]
    assert (inst["flowId"], inst["statusDesc"]) == (down, "WAIT")
    # The upstream runs by hand for another day: still waiting.
    body = {"flowId": up, "triggerTime": int(at("2024-03-05T02:00").timestamp() * 1000)}
    other_day = rig.api.ok("POST", "flows", "trigger", body)["flowInstanceId"]
    # Then for the same business date (trigger 2024-04-01 => calDt 2024-03-31).
    rig.clock.advance(timedelta(minutes=2))
    body = {"flowId": up, "triggerTime": int(at("2024-04-01T02:00").timestamp() * 1000)}
    same_day = rig.api.ok("POST", "flows", "trigger", body)["flowInstanceId"]
    deadline = rig.clock.now()
    for _ in range(200):
        scheduler.step(rig.clock.now())
        statuses = {
            i: rig.api.ok("GET", "flowInstances", "get", flowInstId=i)["statusDesc"]
            for i in (other_day, same_day, inst["instanceId"])
        }
        if statuses[inst["instanceId"]] == "SUCCESS":
            break
        time.sleep(0.02)  # the tasks are real processes; step() collects their results
    assert statuses == {other_day: "SUCCESS", same_day: "SUCCESS", inst["instanceId"]: "SUCCESS"}, deadline


def test_a_flow_ticks_in_its_own_time_zone_within_its_schedule_window(rig: Rig) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    flow_id = rig.periodic(
        "tokyo",
        "0 0 2 * * ?",
        timeZone="Asia/Tokyo",
        scheduleStartTime="2024-04-02 00:00:00",
        scheduleEndTime="2024-04-04 12:00:00",
    )
    scheduler = rig.scheduler(CatchUp.ALL)
    rig.clock.set(at("2024-04-01T00:00"))
    scheduler.tick(rig.clock.now())
    rig.clock.set(at("2024-04-08T00:00"))
    scheduler.tick(rig.clock.now())
    expected = [datetime(2024, 4, d, 2, 0, tzinfo=tokyo) for d in (2, 3, 4)]  # 02:00 Tokyo, not Berlin
    assert rig.ticks(flow_id) == expected
    with rig.sessions() as session:
        assert session.execute(
            select(m.FlowSchedule.next_tick_at).where(m.FlowSchedule.flow_id == flow_id)
        ).scalar_one() > datetime(9000, 1, 1, tzinfo=UTC)  # past the window's end: never again


def test_continue_lets_independent_branches_finish_and_denied_forbids_retries(rig: Rig) -> None:
    flow = simple_flow(
        "bad",
        "after_bad",
        "slow",
        "free",
        relations=(("bad", "after_bad"), ("slow", "free")),
        failureStrategy="Continue",
    )
    flow["tasks"][0].update(cmd="exit 3", retryLimit=3, rerunMode="Denied")
    flow["tasks"][2]["cmd"] = "sleep 0.3"  # still running when "bad" fails: "free" has not started yet
    flow_id = rig.api.import_flow(flow, "continue")
    scheduler = rig.scheduler()
    now_ms = int(rig.clock.now().timestamp() * 1000)
    instance_id = rig.api.ok("POST", "flows", "trigger", {"flowId": flow_id, "triggerTime": now_ms})[
        "flowInstanceId"
    ]
    deadline = time.monotonic() + 20
    while True:
        scheduler.step(rig.clock.now())
        data = rig.api.ok("GET", "flowInstances", "get", flowInstId=instance_id)
        if data["endTime"]:
            break
        assert time.monotonic() < deadline, data
        time.sleep(0.02)
    tasks = {t["taskName"]: t for t in json.loads(data["graph"])["tasks"]}
    assert data["statusDesc"] == "FAIL"
    assert tasks["free"]["status"] == "SUCCESS"  # started after the failure: Break would have skipped it
    assert tasks["after_bad"]["status"] == "SKIP"
    assert tasks["bad"]["status"] == "FAIL"
    detail = rig.api.ok("GET", "taskInstances", "get", taskInstId=tasks["bad"]["taskInstId"])
    assert detail["runNum"] == 1  # rerun mode Denied: no automatic retry despite retryLimit 3


def test_a_cron_finer_than_its_cycle_has_second_ids_from_its_first_tick(rig: Rig) -> None:
    flow_id = rig.periodic("every5s", "0/5 * * * * ?", cycle="mi")
    daily = rig.periodic("daily", "0 0 2 * * ?")
    scheduler = rig.scheduler(CatchUp.ALL)
    rig.clock.set(at("2024-03-30T01:59:58"))
    scheduler.tick(rig.clock.now())  # enabling starts both schedules now
    for moment in ("2024-03-30T02:00:00", "2024-03-30T02:00:05", "2024-03-30T02:00:10"):
        rig.clock.set(at(moment))
        scheduler.tick(rig.clock.now())
    listed = rig.api.ok("POST", "flowInstances", "search", {"type": 1, "pagination": {"pageSize": 50}})
    ids = sorted(i["instanceId"] for i in listed["flowInsts"] if i["flowId"] == flow_id)
    assert ids == [
        f"{flow_id}-20240330010000",
        f"{flow_id}-20240330010005",
        f"{flow_id}-20240330010010",
    ]  # UTC
    assert [i["instanceId"] for i in listed["flowInsts"] if i["flowId"] == daily] == [f"{daily}-20240330"]
