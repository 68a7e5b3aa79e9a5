"""The store primitives of scale-out, on both backends: the scheduler lease and attempt claims."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from flowyard.store import attempts, leases
from flowyard.store import logs as log_store
from flowyard.store import models as m
from flowyard.store.db import make_engine, make_session_factory, transaction
from flowyard.store.migrate import upgrade

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
TTL = timedelta(seconds=15)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine: Engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def acquire(sessions: sessionmaker[Session], holder: str, now: datetime) -> bool:
    with transaction(sessions) as session:
        return leases.acquire(session, holder, now, TTL)


def test_one_leader_at_a_time_and_a_standby_takes_over_after_expiry(sessions: sessionmaker[Session]) -> None:
    assert acquire(sessions, "s1", T0)
    assert not acquire(sessions, "s2", T0 + timedelta(seconds=1))
    assert acquire(sessions, "s1", T0 + timedelta(seconds=10))  # renewal: expires at T0+25s now
    assert not acquire(sessions, "s2", T0 + timedelta(seconds=24))
    assert acquire(sessions, "s2", T0 + timedelta(seconds=25))  # s1 went silent
    assert not acquire(sessions, "s1", T0 + timedelta(seconds=26))  # and cannot come back while s2 renews
    with transaction(sessions) as session:
        assert leases.holder(session, T0 + timedelta(seconds=26)) == "s2"
        leases.release(session, "s2")
    assert acquire(sessions, "s1", T0 + timedelta(seconds=27))  # a clean stop hands over at once


def seed_attempt(sessions: sessionmaker[Session], attempt_id: str = "t1#1") -> None:
    with transaction(sessions) as session:
        session.add(m.Organization(id="o1", name="o", created_at=T0))
        session.flush()
        session.add(m.Directory(id="d1", org_id="o1", parent_id=None, name="root", created_at=T0))
        session.flush()
        session.add(
            m.Flow(
                id=1,
                org_id="o1",
                dir_id="d1",
                name="f",
                type=0,
                cycle="D",
                cron="",
                created_at=T0,
                updated_at=T0,
            )
        )
        session.add(m.FlowSnapshot(id="s", body="{}"))
        session.flush()
        session.add(
            m.FlowInstance(
                id="i1", flow_id=1, org_id="o1", flow_name="f", type=0, trigger_kind="manual", status=2,
                trigger_at=T0, cal_dt=T0.date(), created_at=T0, updated_at=T0, snapshot_id="s",
            )
        )  # fmt: skip
        session.flush()
        session.add(
            m.TaskInstance(
                id="t1", flow_instance_id="i1", task_id=1, name="a", position=0, status=2, updated_at=T0
            )
        )
        session.flush()
        attempts.add_queued(session, attempt_id, "t1", 1, queue="default", spec="{}", now=T0)


def test_only_one_claim_wins_and_a_lost_worker_cannot_report(sessions: sessionmaker[Session]) -> None:
    seed_attempt(sessions)
    with transaction(sessions) as session:
        assert attempts.claim(session, "t1#1", "w1", T0) is not None
        assert attempts.claim(session, "t1#1", "w2", T0) is None
        assert attempts.heartbeat(session, "w1", T0 + timedelta(seconds=5)) == []
        assert attempts.stale(session, T0 + timedelta(seconds=4), exclude_owner="sched") == []
    cutoff = T0 + timedelta(seconds=40)
    with transaction(sessions) as session:
        (stale,) = attempts.stale(session, cutoff, exclude_owner="sched")
        assert stale.owner == "w1"
        assert attempts.declare_lost(session, "t1#1", cutoff, "lost: silent", cutoff)
    with transaction(sessions) as session:  # the worker comes back and reports: too late
        assert not attempts.end(session, "t1#1", "w1", outcome="success", exit_code=0, message="", now=cutoff)
        (ended,) = attempts.ended(session)
        assert (ended.outcome, ended.message) == ("lost", "lost: silent")


def test_resend_backs_off_and_cancel_wins_over_a_late_claim(sessions: sessionmaker[Session]) -> None:
    seed_attempt(sessions)
    with transaction(sessions) as session:
        assert attempts.to_resend(session, T0 + timedelta(seconds=1), 60) == []
        assert [u.id for u in attempts.to_resend(session, T0 + timedelta(seconds=5), 60)] == ["t1#1"]
        attempts.mark_sent(session, ["t1#1"], T0 + timedelta(seconds=5))
        assert attempts.to_resend(session, T0 + timedelta(seconds=64), 60) == []
        assert len(attempts.to_resend(session, T0 + timedelta(seconds=65), 60)) == 1
        attempts.mark_sent(session, ["t1#1"], T0 + timedelta(seconds=65))
        assert attempts.to_resend(session, T0 + timedelta(seconds=184), 60) == []  # doubled: 120 s
        assert len(attempts.to_resend(session, T0 + timedelta(seconds=185), 60)) == 1
        assert attempts.cancel_queued(session, "t1#1", T0 + timedelta(seconds=70))
        assert attempts.claim(session, "t1#1", "w1", T0 + timedelta(seconds=71)) is None


def test_log_chunks_read_in_order_up_to_a_limit(sessions: sessionmaker[Session]) -> None:
    seed_attempt(sessions)
    with transaction(sessions) as session:
        for part in ("héllo ", "wörld", "\n"):
            log_store.append(session, "t1", part, T0, "t1#1")
        log_store.append(session, "t1", "", T0)  # nothing to add: no row
    with transaction(sessions, read_only=True) as session:
        assert log_store.read(session, "t1", 1000) == "héllo wörld\n"
        assert log_store.read(session, "t1", 3) == "hél"
        assert log_store.read(session, "unknown", 10) == ""


def test_leadership_renews_hands_over_on_release_and_on_silence(sessions: sessionmaker[Session]) -> None:
    from flowyard.services.leadership import Leadership

    one = Leadership(sessions, "s1", TTL, timedelta(seconds=1))
    two = Leadership(sessions, "s2", TTL, timedelta(seconds=1))
    assert one.check(T0) == (True, True)
    assert two.check(T0) == (False, False)
    assert one.check(T0 + timedelta(seconds=2)) == (True, False)  # cached: no database round trip
    assert two.check(T0 + timedelta(seconds=14)) == (False, False)
    assert two.check(T0 + timedelta(seconds=16)) == (True, True)  # s1 fell silent past its lease
    assert one.check(T0 + timedelta(seconds=17)) == (False, False)
    two.release()
    assert one.check(T0 + timedelta(seconds=18)) == (True, True)  # a clean stop hands over at once
    assert Leadership(sessions, "solo", None, timedelta(seconds=1)).check(T0) == (True, False)


def test_admin_cluster_shows_the_leader_and_the_workers(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    import json

    from click.testing import CliRunner

    from flowyard.cli import cli
    from flowyard.clock import SystemClock
    from flowyard.store import workers

    now = SystemClock().now()
    seed_attempt(sessions)
    with transaction(sessions) as session:
        workers.register(session, "w-alive", "host-a", 11, ("default", "gpu"), 4, now)
        workers.register(session, "w-silent", "host-b", 12, ("default",), 2, now - timedelta(minutes=5))
        assert attempts.claim(session, "t1#1", "w-alive", now) is not None
        assert leases.acquire(session, "scheduler:host-a:1", now, TTL)
    result = CliRunner().invoke(cli, ["admin", "cluster", "--database-url", database_url, "--json"])
    assert result.exit_code == 0, result.output
    state = json.loads(result.output)
    assert state["leader"] == "scheduler:host-a:1" and state["queued"] == 0
    by_name = {w["name"]: w for w in state["workers"]}
    assert by_name["w-alive"]["alive"] and by_name["w-alive"]["running"] == 1
    assert by_name["w-alive"]["queues"] == ["default", "gpu"]
    assert not by_name["w-silent"]["alive"] and by_name["w-silent"]["running"] == 0
    text = CliRunner().invoke(cli, ["admin", "cluster", "--database-url", database_url]).output
    assert "scheduler leader: scheduler:host-a:1" in text and "1/4 running" in text and "silent for" in text


def test_stats_and_the_lag_gauge_follow_overdue_ticks_and_waiting_tasks(
    sessions: sessionmaker[Session],
) -> None:
    from flowyard.domain.states import Status
    from flowyard.metrics import Exposition, database_metrics
    from flowyard.store import stats

    def lag_and_depth(now: datetime) -> tuple[str, str]:
        out = Exposition()
        with transaction(sessions, read_only=True) as session:
            database_metrics(out, stats.read(session, now), now)
        lines = out.text().splitlines()
        lag = next(line for line in lines if line.startswith("flowyard_scheduling_lag_seconds "))
        depth = next(line for line in lines if line.startswith('flowyard_queue_depth{queue="default"}'))
        return lag, depth

    seed_attempt(sessions)  # one queued attempt in "default", its instance RUNNING
    assert lag_and_depth(T0) == (
        "flowyard_scheduling_lag_seconds 0",
        'flowyard_queue_depth{queue="default"} 1',
    )
    with transaction(sessions) as session:
        session.add(m.FlowSchedule(flow_id=1, cursor_at=T0, next_tick_at=T0 + timedelta(seconds=10)))
        session.execute(
            m.TaskInstance.__table__.update().values(
                status=int(Status.READY), updated_at=T0 + timedelta(seconds=4)
            )
        )
    assert lag_and_depth(T0 + timedelta(seconds=9))[0] == "flowyard_scheduling_lag_seconds 5"  # a task waits
    assert lag_and_depth(T0 + timedelta(seconds=17))[0] == "flowyard_scheduling_lag_seconds 13"
    with transaction(sessions) as session:
        session.execute(m.TaskInstance.__table__.update().values(status=int(Status.SUCCESS)))
    assert (
        lag_and_depth(T0 + timedelta(seconds=17))[0] == "flowyard_scheduling_lag_seconds 7"
    )  # the tick is due
    with transaction(sessions, read_only=True) as session:
        read = stats.read(session, T0)
    assert read.open_instances[Status.RUNNING] == 1 and read.workers_alive == 0
