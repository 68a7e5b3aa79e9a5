"""The web app: routes, error rendering and the housekeeping lifespan, over services built elsewhere.

:func:`web_app` only wires what it is given to routes; opening the database,
migrating, bootstrapping and building the scheduler is the composition root's
job (:func:`flowyard.roles.embedded.create_app`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flowyard.api import console, console_api, dataworks, directories, flows, instances
from flowyard.api import sessions as session_api
from flowyard.api.context import ApiContext
from flowyard.api.dispatch import Dispatcher
from flowyard.api.envelope import failure, version_of
from flowyard.api.openapi import docs_page, openapi_document
from flowyard.api.ops import ops_routes
from flowyard.api.tokens import token_routes
from flowyard.clock import Clock
from flowyard.errors import InternalError, InvalidParameterError
from flowyard.scheduler.loop import Scheduler
from flowyard.services.auth import AuthService
from flowyard.services.dataworks import WorkflowSpecService
from flowyard.services.jobs import JobRunner
from flowyard.services.ops import OpsService
from flowyard.services.sessions import ConsoleSessionService

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
    close: Callable[[], None],
    auth: AuthService,
    clock: Clock,
    scheduler: Scheduler | None,
    jobs: JobRunner,
    console_sessions: ConsoleSessionService | None,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Housekeeping while the app runs: purge expired tokens and replay records, run DataWorks jobs
    (jobs a previous process left Running are failed first); ``close`` (the database) at the end."""

    async def purge_forever() -> None:
        while True:
            try:
                await run_in_threadpool(auth.purge_expired, clock.now())
                if console_sessions is not None:
                    await run_in_threadpool(console_sessions.purge_expired, clock.now())
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
            close()

    return lifespan


@dataclass(frozen=True, slots=True)
class WebParts:
    """What the web app serves, built by the composition root (:mod:`flowyard.roles.embedded`)."""

    ctx: ApiContext
    close: Callable[[], None]  # releases the database when the app stops
    ops: OpsService
    workflow_specs: WorkflowSpecService
    jobs: JobRunner
    scheduler: Scheduler | None  # run by the app's lifespan when this process schedules


def web_app(parts: WebParts) -> Starlette:
    """The Starlette app: the EnOS API on both prefixes, the token service, the DataWorks face,
    ``/openapi.json``, ``/health`` and ``/metrics``; its lifespan runs the housekeeping."""
    ctx = parts.ctx
    dispatcher = Dispatcher(ctx, OPERATIONS)
    console_sessions = ctx.console
    console_access = (
        None if console_sessions is None else session_api.ConsoleAccess(console_sessions, ctx.flows.view)
    )
    dataworks_rpc = dataworks.endpoint(
        parts.workflow_specs, parts.jobs, ctx.clock, auth=ctx.settings.auth, console=console_access
    )
    document = openapi_document(OPERATIONS)

    async def openapi(_: Request) -> Response:
        return JSONResponse(document)

    page = docs_page()

    async def docs(_: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    routes = [
        *token_routes(ctx.auth, ctx.clock),
        *(Route(prefix + "/{resource}", dispatcher.endpoint, methods=["GET", "POST"]) for prefix in PREFIXES),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        *ops_routes(parts.ops, ctx.clock, parts.scheduler),
        *(
            [
                *session_api.routes(console_sessions, ctx.identity, ctx.settings, ctx.clock),
                *console_api.routes(console_sessions, ctx.zone, ctx.clock),
            ]
            if console_sessions is not None
            else []
        ),
        *console.routes(console.Bundle(), dataworks_rpc),  # "/" is shared with the DataWorks RPC
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _http_error},
        lifespan=_lifespan(parts.close, ctx.auth, ctx.clock, parts.scheduler, parts.jobs, console_sessions),
    )
    app.state.ctx = ctx
    app.state.scheduler = parts.scheduler
    app.state.jobs = parts.jobs
    return app
