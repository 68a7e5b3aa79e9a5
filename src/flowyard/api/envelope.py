"""The EnOS response envelope, the one place where errors become HTTP answers.

V2.1: ``{"code", "msg", "requestId", "data"}``; V2.0: ``{"status", "msg", "data"}``.
Business errors are HTTP 200 with a non-zero code (spec 2.4 and section 6
item 20); authentication failures are HTTP 401, as the EnOS gateway answers.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.responses import JSONResponse

from flowyard.errors import AuthError, FlowyardError

V20 = "v2.0"
V21 = "v2.1"
V20_SUCCESS = " Success"
V20_INTERNAL = "Server internal exception"


class EnosJSONResponse(JSONResponse):
    media_type = "application/json;charset=UTF-8"


def envelope(version: str, code: int, msg: str, data: Any) -> dict[str, Any]:
    if version == V20:
        return {"status": code, "msg": msg, "data": data}
    return {"code": code, "msg": msg, "requestId": uuid.uuid4().hex, "data": data}


def success(version: str, data: Any) -> EnosJSONResponse:
    return EnosJSONResponse(envelope(version, 0, V20_SUCCESS if version == V20 else "OK", data))


def failure(version: str, error: FlowyardError, http_status: int | None = None) -> EnosJSONResponse:
    message = error.message_for(version)
    if version == V20 and error.code == 62109 and message == "Internal server exception":
        message = V20_INTERNAL
    status = http_status or (401 if isinstance(error, AuthError) else 200)
    return EnosJSONResponse(envelope(version, error.code, message, None), status_code=status)


def version_of(path: str) -> str:
    return V20 if path.startswith("/dataflow-batch-service/v2.0") else V21
