"""Console helpers that are not EnOS operations: the cron preview.

``GET /ui/api/cron?expr=&zone=&count=`` (signed-in browsers only, CSRF header
required like every console call) answers ``{"zone", "fireTimes": [epoch ms]}``
or ``{"code": 62102, "msg", "field": "freq"}`` for an expression the scheduler
would refuse. It is the same cron the scheduler and ``flowyard cron next`` use,
so the designer's live preview cannot disagree with the runs. It reads nothing
from the database but the session.
"""

from __future__ import annotations

from datetime import tzinfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flowyard.api.sessions import COOKIE_NAME, CsrfError, check_csrf
from flowyard.clock import Clock
from flowyard.cron import CronError, next_fire_times
from flowyard.domain.cron.expression import to_epoch_ms
from flowyard.domain.cron.zones import resolve_zone, zone_name
from flowyard.services.sessions import ConsoleSessionService

__all__ = ["routes"]

MAX_COUNT = 20


def routes(console: ConsoleSessionService, server_zone: tzinfo, clock: Clock) -> list[Route]:
    async def cron_preview(request: Request) -> Response:
        now = clock.now()
        signed = await run_in_threadpool(console.resolve, request.cookies.get(COOKIE_NAME, ""), now)
        if signed is None:
            return JSONResponse({"code": 401, "msg": "Not signed in"}, status_code=401)
        try:
            check_csrf(request, signed)
        except CsrfError as error:
            return JSONResponse({"code": error.code, "msg": error.message}, status_code=403)
        expression = request.query_params.get("expr", "")
        try:
            count = max(0, min(MAX_COUNT, int(request.query_params.get("count", "3"))))
            name = request.query_params.get("zone") or zone_name(server_zone)
            zone = resolve_zone(name)
        except ValueError as exc:
            return JSONResponse({"code": 62102, "msg": f"Invalid parameter: {exc}", "field": "zone"})
        try:
            times = await run_in_threadpool(next_fire_times, expression, now, count, name)
        except CronError as exc:
            return JSONResponse({"code": 62102, "msg": f"Invalid cron: {exc}", "field": "freq"})
        return JSONResponse(
            {"code": 0, "zone": zone_name(zone), "fireTimes": [to_epoch_ms(t) for t in times]},
            headers={"Cache-Control": "no-store"},
        )

    return [Route("/ui/api/cron", cron_preview, methods=["GET"])]
