"""DataWorks import jobs shared by several processes: owners, leases, take-over, progress and purge.

Two :class:`JobRunner` instances stand for two API processes on one database (both backends).
Nothing runs in the background: the tests call ``tick`` (the heartbeat) and ``drain`` (the worker)
themselves and move a :class:`FakeClock`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from flowyard.clock import FakeClock
from flowyard.credentials import Credentials
from flowyard.roles.embedded import create_app
from flowyard.services.dataworks import WorkflowSpecService
from flowyard.services.jobs import GAVE_UP, LEASE, MAX_ATTEMPTS, RETENTION, JobRunner
from flowyard.settings import Settings
from flowyard.store import jobs as job_store
from flowyard.store.db import make_engine, make_session_factory, transaction
from tests.integration.test_dataworks_api import SHELL_SPEC

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
SPEC = json.dumps(SHELL_SPEC)


@dataclass
class Shared:
    """One database, one clock, and what each process builds over them."""

    engine: Engine
    sessions: sessionmaker[Session]
    clock: FakeClock
    project_id: int

    def service(self) -> WorkflowSpecService:
        return WorkflowSpecService(self.sessions)

    def runner(self, owner: str, now: Callable[[], datetime] | None = None) -> JobRunner:
        service = self.service()
        return JobRunner(service, service.org_id_of, now or self.clock.now, owner=owner)

    def job(self, job_id: str) -> job_store.Job:
        return self.service().job(job_id)

    def submit(self, runner: JobRunner, spec: str = SPEC) -> str:
        job = self.service().submit_import(self.project_id, spec, self.clock.now(), owner=runner.owner)
        runner.submit(job.id)
        return job.id

    def crash_while_running(self, job_id: str, owner: str) -> None:
        """What a process that started the job and died leaves behind."""
        now = self.clock.now()
        with transaction(self.sessions) as session:
            assert job_store.start(session, job_id, owner, 10, now, now + LEASE) is not None


@pytest.fixture
def shared(tmp_path: Path, database_url: str) -> Iterator[Shared]:
    settings = Settings(data_dir=tmp_path, auth=True, scheduler=False, database_url=database_url)
    create_app(settings, clock=FakeClock(START))  # migrations and bootstrap; no lifespan, no runner
    project_id = Credentials.load(settings.credentials_path).project_id
    assert project_id is not None
    engine = make_engine(settings.resolved_database_url)
    try:
        yield Shared(engine, make_session_factory(engine), FakeClock(START), project_id)
    finally:
        engine.dispose()


def test_a_live_owner_keeps_its_job_and_a_dead_ones_job_is_taken_over(shared: Shared) -> None:
    a, b = shared.runner("process-a"), shared.runner("process-b")
    job_id = shared.submit(a)
    assert shared.job(job_id).lease_expires_at == START + LEASE

    shared.clock.advance(LEASE - timedelta(seconds=10))
    assert a.tick().renewed == 1  # A's heartbeat
    shared.clock.advance(timedelta(seconds=30))  # past the first lease, within the renewed one
    assert b.tick().taken_over == ()
    assert shared.job(job_id).owner == "process-a"

    shared.clock.advance(LEASE)  # A stopped beating
    assert b.tick().taken_over == (job_id,)
    assert a.tick().taken_over == ()  # a second runner finds nothing left to take
    b.drain()
    done = shared.job(job_id)
    assert (done.status, done.owner, done.response, done.attempts) == ("Success", "process-b", "700001", 1)
    a.drain()  # A's stale queue entry is not its job any more: nothing happens
    assert shared.job(job_id) == done


def test_a_job_cut_short_mid_run_is_completed_by_another_runner(shared: Shared) -> None:
    a, b = shared.runner("process-a"), shared.runner("process-b")
    job_id = shared.submit(a)
    shared.crash_while_running(job_id, "process-a")
    assert (shared.job(job_id).status, shared.job(job_id).progress) == ("Running", 10)

    shared.clock.advance(LEASE + timedelta(seconds=1))
    assert b.tick().taken_over == (job_id,)
    b.drain()
    done = shared.job(job_id)
    assert (done.status, done.type, done.progress, done.attempts) == ("Success", "Create", 100, 2)
    assert done.lease_expires_at is None


def test_a_job_that_keeps_killing_its_runners_ends_as_fail(shared: Shared) -> None:
    job_id = shared.submit(shared.runner("process-0"))
    shared.crash_while_running(job_id, "process-0")
    for attempt in range(1, MAX_ATTEMPTS):
        shared.clock.advance(LEASE + timedelta(seconds=1))
        owner = f"process-{attempt}"
        assert shared.runner(owner).tick().taken_over == (job_id,)
        shared.crash_while_running(job_id, owner)
    shared.clock.advance(LEASE + timedelta(seconds=1))
    report = shared.runner("process-last").tick()
    assert (report.taken_over, report.failed) == ((), 1)
    failed = shared.job(job_id)
    assert (failed.status, failed.error) == ("Fail", GAVE_UP.format(attempts=MAX_ATTEMPTS))


def test_a_run_that_lost_its_job_midway_is_rolled_back(shared: Shared) -> None:
    b = shared.runner("process-b")

    def slow_clock() -> datetime:
        # Process A is paused after converting the document (progress 50) for longer than its
        # lease, and B takes the job over in the meantime.
        if shared.job(job_id).progress == 50 and shared.job(job_id).owner == "process-a":
            shared.clock.advance(LEASE + timedelta(seconds=1))
            assert b.tick().taken_over == (job_id,)
        return shared.clock.now()

    a = shared.runner("process-a", now=slow_clock)
    job_id = shared.submit(a)
    a.drain()
    lost = shared.job(job_id)
    assert (lost.status, lost.owner, lost.progress) == ("Running", "process-b", 50)
    assert shared.service().list(
        shared.service().org_id_of(shared.project_id), periodic=None, name="", offset=0, limit=10
    ) == (0, [])
    b.drain()
    assert shared.job(job_id).status == "Success"


def test_progress_moves_through_the_steps(shared: Shared) -> None:
    seen: list[int] = []

    def watching_clock() -> datetime:
        seen.append(shared.job(job_id).progress)
        return shared.clock.now()

    runner = shared.runner("process-a", now=watching_clock)
    job_id = shared.submit(runner)
    runner.drain()
    seen.append(shared.job(job_id).progress)
    assert sorted(set(seen)) == [0, 10, 50, 100] and seen == sorted(seen)


def test_a_clean_stop_hands_queued_jobs_over_at_once(shared: Shared) -> None:
    a, b = shared.runner("process-a"), shared.runner("process-b")
    job = shared.service().submit_import(shared.project_id, SPEC, START, owner=a.owner)  # not queued
    a.start()
    a.stop()
    assert b.tick().taken_over == (job.id,)
    b.drain()
    assert shared.job(job.id).status == "Success"


def test_finished_jobs_are_purged_after_the_retention(shared: Shared) -> None:
    runner = shared.runner("process-a")
    done_id = shared.submit(runner)
    runner.drain()
    shared.clock.advance(RETENTION - timedelta(seconds=1))
    running_id = shared.submit(runner)  # never run: renewed on every tick, never purged
    assert runner.tick().purged == 0
    shared.clock.advance(timedelta(seconds=2))
    assert runner.tick().purged == 1
    with pytest.raises(Exception, match="Not Found"):
        shared.job(done_id)
    shared.clock.advance(RETENTION * 2)
    assert runner.tick().purged == 0
    assert shared.job(running_id).status == "Running"
