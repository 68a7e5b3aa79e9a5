"""``flowyard worker``: a Celery worker that claims and runs task attempts from the database.

It consumes the broker queues of the given resource groups with a thread pool
of ``--concurrency`` slots; every message is an attempt id that
:class:`~flowyard.executor.worker.WorkerRuntime` claims, runs and reports.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import socket
from typing import IO

from flowyard.clock import SystemClock
from flowyard.errors import FlowyardError
from flowyard.executor.celery_app import RUN_ATTEMPT, make_celery, queue_name
from flowyard.executor.worker import WorkerRuntime
from flowyard.roles.assembly import check_settings
from flowyard.settings import Settings
from flowyard.store.db import make_engine, make_session_factory
from flowyard.store.migrate import upgrade

log = logging.getLogger("flowyard.worker")


class WorkerAlreadyRunningError(FlowyardError):
    """Another worker with this name runs on this machine."""

    exit_code = 7


def default_name(settings: Settings) -> str:
    """Stable per machine and data dir, so a restarted worker finds the attempts it left behind."""
    digest = hashlib.sha1(str(settings.data_dir.resolve()).encode(), usedforsecurity=False).hexdigest()[:8]
    return f"worker-{socket.gethostname()}-{digest}"


def node_name(name: str) -> str:
    """The Celery node name: host-independent, so a ping from any machine finds the worker by name."""
    return f"{name}@flowyard"


def lock_name(settings: Settings, name: str) -> IO[str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(settings.data_dir / f"{name}.lock", "a+")  # noqa: SIM115 - held for the process lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WorkerAlreadyRunningError(
            f"a worker named {name} already runs with this data dir; give this one --name or --data-dir"
        ) from None
    return handle


def run_worker(settings: Settings, *, queues: tuple[str, ...], concurrency: int, name: str | None) -> None:
    check_settings(settings)
    assert settings.broker_url is not None
    name = name or default_name(settings)
    lock = lock_name(settings, name)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    runtime = WorkerRuntime(
        make_session_factory(engine),
        SystemClock(),
        name=name,
        queues=queues,
        concurrency=concurrency,
        cpu=settings.executor_capacity,
        work_root=settings.work_dir,
        log_root=settings.log_dir,
        heartbeat_seconds=settings.heartbeat_seconds,
    )
    app = make_celery(settings.broker_url)

    @app.task(name=RUN_ATTEMPT, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_attempt(attempt_id: str) -> str:
        return runtime.run_attempt(attempt_id)

    runtime.start()
    print(f"Flowyard worker {name}: queues {', '.join(queues)}, concurrency {concurrency}", flush=True)
    try:
        app.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={concurrency}",
                f"--queues={','.join(queue_name(settings.queue_prefix, q) for q in queues)}",
                f"--hostname={node_name(name)}",
                "--without-gossip",
                "--without-mingle",
                f"--loglevel={settings.log_level.upper()}",
            ]
        )
    finally:
        runtime.stop()
        engine.dispose()
        lock.close()


def ping_worker(settings: Settings, name: str | None, timeout: float = 5.0) -> bool:
    """True when the named worker answers a Celery ping through the broker within ``timeout``."""
    check_settings(settings)
    assert settings.broker_url is not None
    name = name or default_name(settings)
    app = make_celery(settings.broker_url)
    try:
        replies = app.control.ping(destination=[node_name(name)], timeout=timeout)
    finally:
        app.close()
    return bool(replies)
