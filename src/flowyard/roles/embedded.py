"""The composition root of a Flowyard process that serves the API: database, services, scheduler, web app.

:func:`create_app` opens the database, applies migrations, bootstraps the first
organisation on an empty database (writing ``credentials.json``), builds the
services and, unless ``settings.scheduler`` is off, the scheduler with its
executor, and hands them to :func:`flowyard.api.app.web_app`. It does this
synchronously, so a caller (the server, a test) can read the credentials as
soon as it returns.
"""

from __future__ import annotations

from starlette.applications import Starlette

from flowyard.api.app import WebParts, web_app
from flowyard.api.context import ApiContext
from flowyard.clock import Clock, SystemClock
from flowyard.roles.assembly import make_scheduler, task_logs
from flowyard.services.auth import AuthService
from flowyard.services.dataworks import WorkflowSpecService
from flowyard.services.directories import DirectoryService
from flowyard.services.flows import FlowService
from flowyard.services.identity import IdentityService
from flowyard.services.jobs import JobRunner
from flowyard.services.ops import OpsService
from flowyard.services.runs import RunService
from flowyard.services.sessions import ConsoleSessionService
from flowyard.settings import Settings
from flowyard.store.db import make_engine, make_session_factory
from flowyard.store.migrate import upgrade
from flowyard.timezones import server_zone


def create_app(settings: Settings, *, clock: Clock | None = None) -> Starlette:
    clock = clock or SystemClock()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    zone = server_zone(settings.timezone)
    identity = IdentityService(sessions)
    console_sessions = ConsoleSessionService(sessions, settings)
    credentials = identity.bootstrap(settings, clock.now(), initial_password=console_sessions.new_password)
    ctx = ApiContext(
        settings=settings,
        clock=clock,
        zone=zone,
        identity=identity,
        auth=AuthService(sessions, settings),
        flows=FlowService(sessions),
        directories=DirectoryService(sessions),
        runs=RunService(sessions, zone, settings.log_dir, logs=task_logs(settings, sessions)),
        console=console_sessions,
    )
    scheduler = make_scheduler(settings, sessions, ctx.runs, clock, zone) if settings.scheduler else None
    workflow_specs = WorkflowSpecService(sessions, max_tasks=settings.max_tasks_per_flow)
    jobs = JobRunner(workflow_specs, workflow_specs.org_id_of, clock.now)
    app = web_app(WebParts(ctx, engine.dispose, OpsService(sessions), workflow_specs, jobs, scheduler))
    app.state.credentials = credentials
    app.state.engine = engine
    return app
