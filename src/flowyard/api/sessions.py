"""The console's sign-in endpoints and the session check the EnOS dispatcher uses for browsers.

``/ui/api/session``: POST signs in (JSON ``{username, password}``), GET tells the
page who is signed in (user, organisations, CSRF token), DELETE signs out.

A browser call to the EnOS API carries the session cookie instead of an
``apim-*`` signature. :func:`authenticate_session` accepts it when the session
is live, the ``X-CSRF-Token`` header equals the session's CSRF token (on every
call, GET included, because the API changes state on some GETs, e.g. Delete
Flow), and the query's ``userId`` is the signed-in user. ``orgId`` is then
checked by the dispatcher against the user's memberships, as for any caller,
so the browser has exactly the API's permissions.

Cookie: ``flowyard_session``, HttpOnly, SameSite=Strict, Path=/, Secure when
the request came over https (``settings.cookie_secure``); no Max-Age, so it
ends with the browser, and the server ends it at idle or absolute expiry.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flowyard.clock import Clock
from flowyard.domain.permissions import Caller
from flowyard.errors import AuthError, FlowyardError, InvalidParameterError, NoPrivilegeError
from flowyard.services.identity import IdentityService
from flowyard.services.sessions import ConsoleSessionService, SignedIn, ThrottledError
from flowyard.settings import Settings

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "ConsoleAccess",
    "CsrfError",
    "NotSignedInError",
    "authenticate_session",
    "check_csrf",
    "is_console_request",
    "routes",
]

COOKIE_NAME = "flowyard_session"
CSRF_HEADER = "x-csrf-token"
_MAX_LOGIN_BODY = 8192


class CsrfError(AuthError):
    code = 403
    http_status = 403
    default_message = "Missing or wrong CSRF token"


class NotSignedInError(AuthError):
    default_message = "Not signed in, or the session has expired"


@dataclass(frozen=True, slots=True)
class ConsoleAccess:
    """What the DataWorks face needs to serve a signed-in browser: its sessions, and the EnOS
    read check of a flow (so FlowSpec export shows only what Get Flow would)."""

    sessions: ConsoleSessionService
    check_read: Callable[[Caller, int], object]


def is_console_request(request: Request) -> bool:
    """A browser call: a session cookie and no apim signature (a signed request stays signed)."""
    return COOKIE_NAME in request.cookies and "apim-accesstoken" not in request.headers


async def authenticate_session(
    request: Request, console: ConsoleSessionService, clock: Clock, query: Mapping[str, str]
) -> SignedIn:
    signed = await run_in_threadpool(console.resolve, request.cookies.get(COOKIE_NAME, ""), clock.now())
    if signed is None:
        raise NotSignedInError()
    check_csrf(request, signed)
    user_id = query.get("userId", "")
    if user_id and user_id != signed.user.id:
        raise NoPrivilegeError("User has no privilege. The session belongs to another user.")
    return signed


def check_csrf(request: Request, signed: SignedIn) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), signed.csrf_token.encode()):
        raise CsrfError()


def _secure(request: Request, settings: Settings) -> bool:
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "always"
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _error(error: FlowyardError, status: int) -> JSONResponse:
    response = JSONResponse({"code": error.code, "msg": error.message}, status_code=status)
    if isinstance(error, ThrottledError):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _who(signed: SignedIn, identity: IdentityService, now: datetime) -> dict[str, Any]:
    names = {org.id: org.name for org in identity.list_orgs()}
    return {
        "user": {"id": signed.user.id, "username": signed.user.username, "locked": signed.user.locked},
        "orgs": [{"id": org_id, "name": names.get(org_id, org_id)} for org_id in sorted(signed.user.org_ids)],
        "csrfToken": signed.csrf_token,
        "expiresAt": int(signed.expires_at.timestamp() * 1000),
        "serverTime": int(now.timestamp() * 1000),
    }


def routes(
    console: ConsoleSessionService, identity: IdentityService, settings: Settings, clock: Clock
) -> list[Route]:
    async def session_endpoint(request: Request) -> Response:
        no_store = {"Cache-Control": "no-store"}
        now = clock.now()
        if request.method == "POST":
            return await _sign_in(request, now)
        token = request.cookies.get(COOKIE_NAME, "")
        signed = await run_in_threadpool(console.resolve, token, now)
        if request.method == "GET":
            if signed is None:
                return _error(NotSignedInError(), 401)
            who = await run_in_threadpool(_who, signed, identity, now)
            return JSONResponse(who, headers=no_store)
        # DELETE: signing out changes state, so it needs the CSRF token too.
        if signed is not None:
            try:
                check_csrf(request, signed)
            except CsrfError as error:
                return _error(error, 403)
            await run_in_threadpool(console.sign_out, token)
        response = JSONResponse({"code": 0, "msg": "OK"}, headers=no_store)
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return response

    async def _sign_in(request: Request, now: datetime) -> Response:
        # A JSON body cannot be sent cross-site without a CORS preflight, which this server never
        # grants: that, and SameSite, keep other sites from signing a browser in (login CSRF).
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _error(InvalidParameterError("Sign-in needs a JSON body"), 415)
        raw = await request.body()
        try:
            if len(raw) > _MAX_LOGIN_BODY:
                raise ValueError
            document = json.loads(raw)
            username = document["username"]
            password = document["password"]
            if not isinstance(username, str) or not isinstance(password, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return _error(InvalidParameterError("Sign-in needs username and password"), 400)
        try:
            token, signed = await run_in_threadpool(console.sign_in, username, password, now)
        except ThrottledError as error:
            return _error(error, 429)
        except AuthError as error:
            return _error(error, 401)
        except FlowyardError as error:  # a locked user (62105)
            return _error(error, 403)
        who = await run_in_threadpool(_who, signed, identity, now)
        response = JSONResponse(who, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            COOKIE_NAME,
            token,
            path="/",
            httponly=True,
            samesite="strict",
            secure=_secure(request, settings),
        )
        return response

    return [Route("/ui/api/session", session_endpoint, methods=["GET", "POST", "DELETE"])]
