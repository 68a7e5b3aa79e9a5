"""The embedded default: a scheduler thread and a local executor inside the server process."""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import tzinfo

from sqlalchemy.orm import Session, sessionmaker

from flowyard.clock import Clock
from flowyard.domain.ticks import CatchUp
from flowyard.executor.local import LocalExecutor
from flowyard.scheduler.loop import Scheduler, SchedulerConfig
from flowyard.services.runs import RunService
from flowyard.settings import Settings


def owner_id(settings: Settings) -> str:
    """A stable name for this machine's local executor: attempts it ran are found again after a crash."""
    where = f"{socket.gethostname()}:{settings.data_dir.resolve()}"
    return "local:" + hashlib.sha1(where.encode(), usedforsecurity=False).hexdigest()[:16]


def make_scheduler(
    settings: Settings, sessions: sessionmaker[Session], runs: RunService, clock: Clock, zone: tzinfo
) -> Scheduler:
    capacity = settings.executor_cpu or 2.0 * (os.cpu_count() or 1)
    scheduler: Scheduler

    def on_result(_: object) -> None:
        scheduler.attempt_ended()

    executor = LocalExecutor(clock, total_cpu=capacity, on_result=on_result)
    config = SchedulerConfig(
        owner=owner_id(settings), zone=zone, work_dir=settings.work_dir, catch_up=CatchUp(settings.catch_up)
    )
    scheduler = Scheduler(sessions, runs, executor, clock, config)
    runs.set_wake(scheduler.wake)
    scheduler.recover(clock.now())
    return scheduler
