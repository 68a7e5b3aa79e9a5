"""Operations endpoints shared by the API and scheduler processes: ``/health`` and ``/metrics``."""

from __future__ import annotations

from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from flowyard.clock import Clock
from flowyard.metrics import CONTENT_TYPE, Exposition, database_metrics, scheduler_metrics
from flowyard.scheduler.loop import Scheduler
from flowyard.services.ops import OpsService

STUCK_AFTER = timedelta(seconds=30)  # a scheduler loop silent this long is unhealthy


def ops_routes(ops: OpsService, clock: Clock, scheduler: Scheduler | None) -> list[Route]:
    def check() -> tuple[int, dict[str, object]]:
        body: dict[str, object] = {"status": "ok"}
        problem = ops.database_problem()
        if problem is not None:
            return 503, {"status": "unavailable", "database": problem}
        body["database"] = "ok"
        if scheduler is not None:
            age = _step_age(scheduler, clock)
            body["scheduler"] = {"leader": scheduler.is_leader, "lastStepAgeSeconds": round(age, 3)}
            if age > STUCK_AFTER.total_seconds():
                body["status"] = "stuck"
                return 503, body
        return 200, body

    def render() -> str:
        out = Exposition()
        now = clock.now()
        database_metrics(out, ops.stats(now), now)
        if scheduler is not None:
            scheduler_metrics(
                out, scheduler.metrics, leader=scheduler.is_leader, last_step_age=_step_age(scheduler, clock)
            )
        return out.text()

    async def health(_: Request) -> Response:
        status, body = await run_in_threadpool(check)
        return JSONResponse(body, status_code=status)

    async def metrics(_: Request) -> Response:
        try:
            body = await run_in_threadpool(render)
        except Exception as error:
            return PlainTextResponse(f"# metrics unavailable: {type(error).__name__}\n", status_code=503)
        return Response(body, media_type=CONTENT_TYPE)

    return [Route("/health", health, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]


def _step_age(scheduler: Scheduler, clock: Clock) -> float:
    last = scheduler.last_step_at
    return 0.0 if last is None else max((clock.now() - last).total_seconds(), 0.0)
