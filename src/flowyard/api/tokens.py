"""The apim token service endpoints (spec 2.5): ``token/get`` and ``token/refresh``.

Wire format, which differs from the batch APIs: the envelope carries
``status``, ``msg`` and ``business``; success is
``{"status":0,"msg":"SUCCESS","business":"apim-token-service","data":{"accessToken":...,"expire":7200}}``
and a failure is HTTP 200 with the token-service code in ``status`` and
``"data": null``. Nothing that a client sends yields a 500: bad JSON is 1004,
an unexpected failure is 1005.

The body is a JSON object ``{"appKey", "encryption", "timestamp"}`` plus
``accessToken`` for refresh. ``timestamp`` may be a JSON number or a numeric
string, because clients differ; the conversion happens here, at the edge.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flowyard.api.limits import load_json
from flowyard.clock import Clock
from flowyard.errors import InvalidParameterError, TokenServiceError
from flowyard.services.auth import AuthService, TokenGrant, TokenServiceCode

__all__ = ["BUSINESS", "GET_PATH", "REFRESH_PATH", "token_routes"]

GET_PATH = "/apim-token-service/v2.0/token/get"
REFRESH_PATH = "/apim-token-service/v2.0/token/refresh"
BUSINESS = "apim-token-service"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _TokenRequest:
    app_key: str | None
    encryption: str | None
    timestamp_ms: int | None
    access_token: str | None


def _invalid(message: str) -> TokenServiceError:
    return TokenServiceError(TokenServiceCode.INVALID_PARAMETER, f"invalid parameter: {message}")


def _string_field(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _invalid(f"{name} must be a string")


def _timestamp_field(document: dict[str, Any]) -> int | None:
    value = document.get("timestamp")
    if value is None or value == "":
        return None  # the service reports it as an empty parameter (1202)
    if isinstance(value, bool):  # bool is an int subclass; true is not a timestamp
        raise _invalid("timestamp must be epoch milliseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # The length cap keeps int() away from its 4300-digit limit (a ValueError, hence a 1005).
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    raise _invalid("timestamp must be epoch milliseconds")


def _parse(body: bytes) -> _TokenRequest:
    """The fields of a token request body; 1004 if it is not a JSON object of the right types."""
    try:
        document = load_json(body, "")
    except InvalidParameterError as exc:
        raise _invalid(exc.message.removeprefix("Invalid parameter: ")) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid("request body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise _invalid("request body must be a JSON object")
    return _TokenRequest(
        app_key=_string_field(document, "appKey"),
        encryption=_string_field(document, "encryption"),
        timestamp_ms=_timestamp_field(document),
        access_token=_string_field(document, "accessToken"),
    )


def _success(grant: TokenGrant) -> JSONResponse:
    data = {"accessToken": grant.access_token, "expire": grant.expire_seconds}
    return JSONResponse({"status": 0, "msg": "SUCCESS", "business": BUSINESS, "data": data})


def _failure(code: int, message: str) -> JSONResponse:
    return JSONResponse({"status": code, "msg": message, "business": BUSINESS, "data": None})


def _endpoint(
    operation: Callable[[_TokenRequest], Awaitable[TokenGrant]],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """A handler that parses the body, runs ``operation`` and renders the envelope, whatever happens."""

    async def handler(request: Request) -> JSONResponse:
        try:
            grant = await operation(_parse(await request.body()))
        except TokenServiceError as exc:
            return _failure(exc.code, exc.message)
        except Exception:
            logger.exception("token service failure on %s", request.url.path)
            return _failure(TokenServiceCode.INTERNAL_ERROR, "internal error")
        return _success(grant)

    return handler


def token_routes(auth: AuthService, clock: Clock) -> list[Route]:
    """The routes of the token service, to mount at the application root."""

    async def get_token(fields: _TokenRequest) -> TokenGrant:
        return await run_in_threadpool(
            auth.get_token, fields.app_key, fields.encryption, fields.timestamp_ms, clock.now()
        )

    async def refresh_token(fields: _TokenRequest) -> TokenGrant:
        return await run_in_threadpool(
            auth.refresh_token,
            fields.app_key,
            fields.encryption,
            fields.timestamp_ms,
            fields.access_token,
            clock.now(),
        )

    return [
        Route(GET_PATH, _endpoint(get_token), methods=["POST"], name="token_get"),
        Route(REFRESH_PATH, _endpoint(refresh_token), methods=["POST"], name="token_refresh"),
    ]
