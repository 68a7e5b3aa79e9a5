"""Building a scheduler from the settings: the executor it drives, leadership, where logs go.

The embedded default is a scheduler thread and a local executor inside the
server process, on SQLite (whose file lock already makes it the only
scheduler). On PostgreSQL schedulers elect a leader through a lease, so any
number may run side by side; with ``executor=celery`` attempts run on Celery
workers and logs live in the database.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from datetime import timedelta, tzinfo

from sqlalchemy.orm import Session, sessionmaker

from flowyard.clock import Clock
from flowyard.domain.ticks import CatchUp
from flowyard.errors import InvalidParameterError
from flowyard.executor.base import Executor
from flowyard.executor.local import LocalExecutor
from flowyard.scheduler.loop import HouseKeeper, Scheduler, SchedulerConfig
from flowyard.services.attempts import AttemptService
from flowyard.services.events import EventService
from flowyard.services.instances import InstanceService
from flowyard.services.leadership import Leadership
from flowyard.services.open_view import OpenInstances
from flowyard.services.runs import RunService
from flowyard.services.task_logs import DatabaseLogs, FileLogs, TaskLogs
from flowyard.settings import Settings
from flowyard.store.notify import RESULTS, WORK, Listener

PURGE_EVERY = timedelta(minutes=10)


class ConfigurationError(InvalidParameterError):
    """Settings that cannot work together (e.g. the Celery executor without a broker)."""

    exit_code = 2


def owner_id(settings: Settings) -> str:
    """A stable name for this machine's local executor: attempts it ran are found again after a crash."""
    where = f"{socket.gethostname()}:{settings.data_dir.resolve()}"
    return "local:" + hashlib.sha1(where.encode(), usedforsecurity=False).hexdigest()[:16]


def scheduler_id(settings: Settings) -> str:
    """The owner name of a scheduler: stable for a local executor, unique per process for Celery."""
    if settings.executor == "celery":
        return f"scheduler:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    return owner_id(settings)


def task_logs(settings: Settings, sessions: sessionmaker[Session]) -> TaskLogs:
    """Logs in the database when attempts run on other machines, in files under the data dir otherwise."""
    return DatabaseLogs(sessions) if settings.executor == "celery" else FileLogs(settings.log_dir)


def check_settings(settings: Settings) -> None:
    if settings.executor == "celery" and not settings.broker_url:
        raise ConfigurationError(
            "the celery executor needs a broker: set FLOWYARD_BROKER_URL (redis://... or amqp://...)"
        )


def make_scheduler(
    settings: Settings, sessions: sessionmaker[Session], runs: RunService, clock: Clock, zone: tzinfo
) -> Scheduler:
    check_settings(settings)
    scheduler: Scheduler

    def on_result(_: object = None) -> None:
        scheduler.attempt_ended()

    executor: Executor
    if settings.executor == "celery":
        from flowyard.executor.celery_app import make_celery  # Celery loads only when used
        from flowyard.executor.remote import CeleryExecutor

        assert settings.broker_url is not None
        executor = CeleryExecutor(
            make_celery(settings.broker_url),
            sessions,
            clock,
            queue_prefix=settings.queue_prefix,
            requeue_after=timedelta(seconds=settings.requeue_seconds),
            on_result=on_result,
            # With LISTEN/NOTIFY a result wakes the scheduler at once; the poll is only a fallback.
            poll_seconds=1.0 if settings.database_backend == "postgresql" else 0.1,
        )
    else:
        executor = LocalExecutor(clock, total_cpu=settings.executor_capacity, on_result=on_result)
    lease = timedelta(seconds=settings.scheduler_lease_seconds)
    config = SchedulerConfig(
        owner=scheduler_id(settings),
        zone=zone,
        work_dir=settings.work_dir,
        lost_after=timedelta(seconds=settings.attempt_lost_seconds),
    )
    scheduler = assemble_scheduler(
        sessions,
        runs,
        executor,
        clock,
        config,
        catch_up=CatchUp(settings.catch_up),
        # SQLite's file lock already makes one scheduler; elsewhere schedulers elect a leader.
        lease_ttl=None if settings.database_backend == "sqlite" else lease,
        event_retention=timedelta(hours=settings.event_retention_hours),
    )
    runs.set_wake(scheduler.wake)
    if settings.database_backend == "postgresql":  # triggers and results from other processes
        wake = {WORK: scheduler.wake, RESULTS: scheduler.attempt_ended}
        scheduler.companions.append(
            Listener(settings.resolved_database_url, wake, lambda channel: wake[channel]())
        )
    scheduler.recover(clock.now())
    return scheduler


def assemble_scheduler(
    sessions: sessionmaker[Session],
    runs: RunService,
    executor: Executor,
    clock: Clock,
    config: SchedulerConfig,
    *,
    catch_up: CatchUp = CatchUp.LATEST,
    lease_ttl: timedelta | None = None,
    event_retention: timedelta = timedelta(days=7),
) -> Scheduler:
    """A scheduler over the run services, sharing ``runs``' event bus and logs; not started."""
    view = OpenInstances()  # the scheduler's in-memory open instances, shared by its two services
    instances = InstanceService(sessions, runs.bus, config.zone, catch_up, view)
    attempts = AttemptService(sessions, runs.bus, runs.logs, runs.log_dir, config.owner, view)
    leadership = Leadership(sessions, config.owner, lease_ttl, config.idle_wake)
    scheduler = Scheduler(instances, attempts, leadership, executor, clock, config)
    events = EventService(sessions)
    scheduler.housekeepers.append(
        HouseKeeper("purging old run events", PURGE_EVERY, lambda now: events.purge(now, event_retention))
    )
    return scheduler
