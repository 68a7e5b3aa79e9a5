"""EnOS ``action`` dispatch: one endpoint per (version, resource), the operation chosen by ``action``.

Order of checks for every call: read the body (size-limited), authenticate
the signature over the raw query and body, find the operation, check the
acting user against the organisation, parse, run the handler in a worker
thread. Every outcome, including a crash, is an EnOS envelope.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from flowyard.api.auth import authenticate, signed_query
from flowyard.api.context import ApiContext, Call, Operation
from flowyard.api.envelope import failure, success, version_of
from flowyard.api.limits import check_query
from flowyard.api.sessions import authenticate_session, is_console_request
from flowyard.api.wire import Reader, parse_json_body
from flowyard.domain.identity import AppPrincipal
from flowyard.domain.permissions import Caller
from flowyard.errors import FlowyardError, InternalError, InvalidParameterError, NoPrivilegeError

log = logging.getLogger("flowyard.api")

MAX_BODY_BYTES = 16 * 1024 * 1024


class BodyTooLargeError(InvalidParameterError):
    """A request body over MAX_BODY_BYTES: 62102 in the envelope, HTTP 413 like the EnOS gateway."""

    default_message = "Request size limit exceeded"


class Dispatcher:
    def __init__(self, ctx: ApiContext, operations: tuple[Operation, ...]) -> None:
        self.ctx = ctx
        self.table = {(op.resource, op.method, op.action): op for op in operations}
        self.resources = {op.resource for op in operations}
        # The signature covers neither path nor method, so a signature made for one resource can be
        # presented at another with the same query: an action may repeat a signature only when
        # every operation of that name changes nothing.
        self.replayable_actions = frozenset(
            op.action for op in operations if all(o.read_only for o in operations if o.action == op.action)
        )

    async def endpoint(self, request: Request) -> Response:
        version = version_of(request.url.path)
        try:
            return success(version, await self._handle(request, version))
        except FlowyardError as error:
            status = 413 if isinstance(error, BodyTooLargeError) else getattr(error, "http_status", None)
            return failure(version, error, status)
        except Exception:
            log.exception("internal error on %s %s", request.method, request.url.path)
            return failure(version, self._internal_error(request))

    async def _handle(self, request: Request, version: str) -> object:
        body = await self._read_body(request)
        principal = None
        pairs = signed_query(request)  # parsed exactly as the signature check parsed it
        query = dict(pairs)
        if self.ctx.console is not None and is_console_request(request):
            # A browser: the console session (with its CSRF token) stands in for the signature.
            await authenticate_session(request, self.ctx.console, self.ctx.clock, query)
        elif self.ctx.settings.auth:
            replayable = request.query_params.get("action", "") in self.replayable_actions
            principal = await authenticate(
                request, body, self.ctx.auth, self.ctx.clock, replay_allowed=replayable
            )
        check_query(pairs)
        op = self._operation(request, version)
        reader = Reader(parse_json_body(body) if request.method == "POST" else {}, "")
        now = self.ctx.clock.now()
        caller = None
        if op.needs_user:
            caller = await run_in_threadpool(self._caller, query, principal)
        call = Call(ctx=self.ctx, version=version, query=query, body=reader, caller_or_none=caller, now=now)
        return await run_in_threadpool(op.handler, call)

    async def _read_body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise BodyTooLargeError()
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLargeError()
            chunks.append(chunk)
        return b"".join(chunks)

    def _internal_error(self, request: Request) -> InternalError:
        op = self.table.get(
            (request.path_params.get("resource", ""), request.method, request.query_params.get("action", ""))
        )
        if op is None or op.internal_message is None:
            return InternalError()
        return InternalError(op.internal_message[0], v20_message=op.internal_message[1])

    def _operation(self, request: Request, version: str) -> Operation:
        resource = request.path_params["resource"]
        action = request.query_params.get("action", "")
        if resource not in self.resources:
            raise InvalidParameterError(f"Invalid parameter: unknown resource '{resource}'")
        if not action:
            raise InvalidParameterError("Invalid parameter: action is missing")
        op = self.table.get((resource, request.method, action))
        if op is None:
            other = "GET" if request.method == "POST" else "POST"
            if (resource, other, action) in self.table:
                raise InvalidParameterError(
                    f"Invalid parameter: action '{action}' on {resource} needs {other}"
                )
            raise InvalidParameterError(f"Invalid parameter: unknown action '{action}' on {resource}")
        if version not in op.versions:
            raise InvalidParameterError(f"Invalid parameter: action '{action}' is not available in {version}")
        return op

    def _caller(self, query: dict[str, str], principal: AppPrincipal | None) -> Caller:
        user_id = query.get("userId", "")
        org_id = query.get("orgId", "")
        if not user_id:
            raise InvalidParameterError("Invalid parameter: userId is required")
        if not org_id:
            raise InvalidParameterError("Invalid parameter: orgId is required")
        user = self.ctx.identity.check_user_in_org(user_id, org_id)
        if principal is not None and principal.org_id != org_id:
            raise NoPrivilegeError(f"User has no privilege. This application is not registered in {org_id}.")
        return Caller(user_id=user.id, username=user.username, org_id=org_id, locked=user.locked)
