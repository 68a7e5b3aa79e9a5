"""The ASGI application factory.

``create_app`` opens the database, applies migrations, bootstraps the first
organisation on an empty database (writing ``credentials.json``) and wires
services to routes. It does this synchronously, so a caller (the server, a
test) can read the credentials as soon as it returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flowyard.api import dataworks, directories, flows, instances
from flowyard.api.context import ApiContext
from flowyard.api.dispatch import Dispatcher
from flowyard.api.envelope import failure, version_of
from flowyard.api.openapi import docs_page, openapi_document
from flowyard.api.ops import ops_routes
from flowyard.api.tokens import token_routes
from flowyard.clock import Clock, SystemClock
from flowyard.errors import InternalError, InvalidParameterError
from flowyard.scheduler.embedded import make_scheduler, task_logs
from flowyard.scheduler.loop import Scheduler
from flowyard.services.auth import AuthService
from flowyard.services.dataworks import WorkflowSpecService
from flowyard.services.directories import DirectoryService
from flowyard.services.flows import FlowService
from flowyard.services.identity import IdentityService
from flowyard.services.jobs import JobRunner
from flowyard.services.runs import RunService
from flowyard.settings import Settings
from flowyard.store.db import make_engine, make_session_factory
from flowyard.store.migrate import upgrade
from flowyard.timezones import server_zone

log = logging.getLogger("flowyard.api")

OPERATIONS = flows.OPERATIONS + directories.OPERATIONS + instances.OPERATIONS
PREFIXES = ("/dataflow-batch-service/v2.0", "/batch-processing-service/v2.1")


async def _http_error(request: Request, exc: Exception) -> Response:
    version = version_of(request.url.path)
    if isinstance(exc, HTTPException):
        if exc.status_code == 404:
            return failure(
                version, InvalidParameterError(f"Invalid parameter: no API at {request.url.path}"), 404
            )
        if exc.status_code == 405:
            return failure(
                version, InvalidParameterError(f"Invalid parameter: method {request.method} not allowed"), 405
            )
        return failure(version, InvalidParameterError(str(exc.detail)), exc.status_code)
    return failure(version, InternalError(), 500)


PURGE_INTERVAL_SECONDS = 600.0


def _lifespan(
    engine: Engine, auth: AuthService, clock: Clock, scheduler: Scheduler | None, jobs: JobRunner
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Housekeeping while the app runs: purge expired tokens and replay records, run DataWorks jobs
    (jobs a previous process left Running are failed first); dispose the engine."""

    async def purge_forever() -> None:
        while True:
            try:
                await run_in_threadpool(auth.purge_expired, clock.now())
            except Exception:  # housekeeping must never take the server down
                log.exception("purging expired tokens and nonces failed")
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(purge_forever())
        await run_in_threadpool(jobs.start)
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            task.cancel()
            if scheduler is not None:
                await run_in_threadpool(scheduler.stop)
            await run_in_threadpool(jobs.stop)
            engine.dispose()

    return lifespan


def create_app(settings: Settings, *, clock: Clock | None = None) -> Starlette:
    clock = clock or SystemClock()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    zone = server_zone(settings.timezone)
    identity = IdentityService(sessions)
    credentials = identity.bootstrap(settings, clock.now())
    auth = AuthService(sessions, settings)
    ctx = ApiContext(
        settings=settings,
        clock=clock,
        zone=zone,
        identity=identity,
        auth=auth,
        flows=FlowService(sessions),
        directories=DirectoryService(sessions),
        runs=RunService(sessions, zone, settings.log_dir, logs=task_logs(settings, sessions)),
    )
    scheduler = make_scheduler(settings, sessions, ctx.runs, clock, zone) if settings.scheduler else None
    dispatcher = Dispatcher(ctx, OPERATIONS)
    workflow_specs = WorkflowSpecService(sessions, max_tasks=settings.max_tasks_per_flow)
    jobs = JobRunner(workflow_specs, workflow_specs.org_id_of, clock.now)
    dataworks_rpc = dataworks.endpoint(workflow_specs, jobs, clock, auth=settings.auth)
    document = openapi_document(OPERATIONS)

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    page = docs_page()

    async def docs(_: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    routes = [
        *token_routes(auth, clock),
        *(Route(prefix + "/{resource}", dispatcher.endpoint, methods=["GET", "POST"]) for prefix in PREFIXES),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        *ops_routes(sessions, clock, scheduler),
        Route("/", dataworks_rpc, methods=["GET", "POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _http_error},
        lifespan=_lifespan(engine, auth, clock, scheduler, jobs),
    )
    app.state.ctx = ctx
    app.state.credentials = credentials
    app.state.engine = engine
    app.state.scheduler = scheduler
    app.state.jobs = jobs
    return app
