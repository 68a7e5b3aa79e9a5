"""``flowyard scheduler``: the scheduler alone, with ``/health`` and ``/metrics`` on its own port.

Any number may run against one PostgreSQL database: they elect a leader
through a lease; the others stand by and take over within one lease period.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from flowyard.api.ops import ops_routes
from flowyard.clock import Clock, SystemClock
from flowyard.roles.assembly import make_scheduler, task_logs
from flowyard.roles.process import Server, lock_embedded_database
from flowyard.services.ops import OpsService
from flowyard.services.runs import RunService
from flowyard.settings import Settings
from flowyard.store.db import make_engine, make_session_factory
from flowyard.store.migrate import upgrade
from flowyard.timezones import server_zone

log = logging.getLogger("flowyard.scheduler")


def scheduler_app(settings: Settings, clock: Clock | None = None) -> Starlette:
    clock = clock or SystemClock()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    zone = server_zone(settings.timezone)
    runs = RunService(sessions, zone, settings.log_dir, logs=task_logs(settings, sessions))
    scheduler = make_scheduler(settings, sessions, runs, clock, zone)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        scheduler.start()
        try:
            yield
        finally:
            await run_in_threadpool(scheduler.stop)
            engine.dispose()

    app = Starlette(routes=ops_routes(OpsService(sessions), clock, scheduler), lifespan=lifespan)
    app.state.scheduler = scheduler
    return app


def serve_scheduler(settings: Settings) -> None:
    lock = lock_embedded_database(settings)
    try:
        app = scheduler_app(settings)
        print(
            f"Flowyard scheduler {app.state.scheduler.owner}: health and metrics on "
            f"http://{settings.host}:{settings.port}",
            flush=True,
        )
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False
        )
        Server(config).run()
    finally:
        if lock is not None:
            lock.close()
