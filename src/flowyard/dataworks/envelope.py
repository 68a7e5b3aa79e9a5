"""The DataWorks (Alibaba Cloud OpenAPI) response envelope: the one place errors become answers.

Success: HTTP 200 and a JSON object of PascalCase fields with ``RequestId`` first, e.g.
``{"RequestId": "...", "AsyncJob": {...}}``. Failure: HTTP 4xx/5xx and
``{"RequestId", "HostId", "Code", "Message"}``.

What the official SDK (``alibabacloud_tea_openapi`` ``Client.do_request``) reads from a failure:
any status 400-599 raises; the body must be a JSON object (only the exact content type
``text/xml;charset=utf-8`` is parsed as XML); ``Code``, ``Message``, ``RequestId`` (``Detail``,
``Description``, ``AccessDeniedDetail`` when present) become ``code``, ``message`` (as
``"code: <status>, <Message> request id: <RequestId>"``), ``request_id``..., the whole object
becomes ``data`` with ``statusCode`` added; 4xx raises ``ClientException``, 5xx
``ServerException``, and a positive integer ``x-acs-retry-after`` header turns either into a
``ThrottlingException``. Unknown success fields are ignored by the SDK's models.

This module is framework-free: it returns a status, a JSON-ready dict and the bytes to send.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowyard.dataworks.signature import SignatureError
from flowyard.errors import (
    AuthError,
    FlowyardError,
    InvalidParameterError,
    InvalidUserError,
    LockedError,
    NoPrivilegeError,
    StateError,
)

CONTENT_TYPE = "application/json;charset=utf-8"
INTERNAL_ERROR_MESSAGE = "The request processing has failed due to some unknown error."

# Flowyard's domain errors in Alibaba Cloud terms. Looked up along the MRO, so a subclass
# inherits its parent's entry; SignatureError carries its own code and status.
_ERROR_CODES: dict[type[FlowyardError], tuple[int, str]] = {
    InvalidParameterError: (400, "InvalidParameter"),
    StateError: (400, "OperationDenied"),
    InvalidUserError: (403, "Forbidden.Access"),
    NoPrivilegeError: (403, "Forbidden.Access"),
    LockedError: (403, "Forbidden.Access"),
    AuthError: (403, "Forbidden.Access"),
}

_PASCAL_KEY = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class ErrorResponse:
    """An error answer: HTTP ``status``, JSON ``body`` and extra response ``headers``."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def new_request_id() -> str:
    """A fresh id in Alibaba Cloud's shape: an upper-case UUID (``7C352CB7-CD88-...``)."""
    return str(uuid.uuid4()).upper()


def to_pascal(key: str) -> str:
    """``async_job`` → ``AsyncJob``, ``id`` → ``Id``; an already PascalCase key is unchanged."""
    if "_" not in key:
        return key[:1].upper() + key[1:]
    return "".join(part[:1].upper() + part[1:] for part in key.split("_") if part)


def _pascal_tree(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {to_pascal(str(key)): _pascal_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_pascal_tree(item) for item in value]
    return value


def success_body(payload: Mapping[str, Any], *, request_id: str) -> dict[str, Any]:
    """``{"RequestId": request_id, **payload}`` with every key (nested too) made PascalCase.

    Values are left alone, so wire quirks (``Completed`` as ``"True"``, epoch-ms strings) must
    already be in ``payload``. Raises ``ValueError`` if ``payload`` brings its own request id or
    two keys collapse into one PascalCase name.
    """
    body: dict[str, Any] = {"RequestId": request_id}
    for key, value in payload.items():
        name = to_pascal(str(key))
        if name in body:
            raise ValueError(f"duplicate response field {name!r}")
        if not _PASCAL_KEY.match(name):
            raise ValueError(f"response field {key!r} cannot be rendered in PascalCase")
        body[name] = _pascal_tree(value)
    return body


def error_body(code: str, message: str, *, request_id: str, host_id: str | None = None) -> dict[str, Any]:
    """``{"RequestId", "HostId"?, "Code", "Message"}`` in the order Alibaba Cloud sends them."""
    body: dict[str, Any] = {"RequestId": request_id}
    if host_id is not None:
        body["HostId"] = host_id
    body["Code"] = code
    body["Message"] = message
    return body


def render_error(error: BaseException, *, request_id: str, host_id: str | None = None) -> ErrorResponse:
    """The answer for any exception raised while serving a DataWorks call.

    :class:`SignatureError` uses its own ``error_code``/``http_status``; other Flowyard errors
    map through a fixed table (unlisted ones are ``InternalError`` 500 with their message);
    anything else is ``InternalError`` 500 with a generic message, so internals do not leak.
    """
    if isinstance(error, SignatureError):
        status, code, message = error.http_status, error.error_code, error.message
    elif isinstance(error, FlowyardError):
        status, code = next(
            (_ERROR_CODES[cls] for cls in type(error).__mro__ if cls in _ERROR_CODES), (500, "InternalError")
        )
        message = error.message
    else:
        status, code, message = 500, "InternalError", INTERNAL_ERROR_MESSAGE
    return ErrorResponse(status, error_body(code, message, request_id=request_id, host_id=host_id))


def dumps(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, non-ASCII kept literal; send with :data:`CONTENT_TYPE`."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
