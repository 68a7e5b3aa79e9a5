"""The EnOS wire edge of the client: API versions, URL prefixes and the response envelope.

An answer is either an envelope (V2.1 ``{"code": 0, "msg": "OK", "data": ...}``,
V2.0 ``{"status": 0, "msg": " Success", "data": ...}``) or a failure. This
module turns an :class:`httpx.Response` into the envelope's ``data`` or raises
the :mod:`flowyard.errors` class of the answer, so no other module of the
client looks at status fields; and it checks that ``data`` has the shape the
API documents (:func:`expect_dict`, :func:`int_field`, ...).
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal, TypeGuard

import httpx

from flowyard.errors import ERRORS_BY_CODE, AuthError, ConnectionFailedError, FlowyardError

ApiVersion = Literal["v2.0", "v2.1"]

API_VERSIONS: Final[tuple[ApiVersion, ...]] = ("v2.0", "v2.1")
DEFAULT_API_VERSION: Final[ApiVersion] = "v2.1"

# {service}/{version} of each API version (spec 2.1).
PATH_PREFIXES: Final[dict[ApiVersion, str]] = {
    "v2.0": "/dataflow-batch-service/v2.0",
    "v2.1": "/batch-processing-service/v2.1",
}

# The name of the envelope's status field (spec 2.4).
STATUS_FIELDS: Final[dict[ApiVersion, str]] = {"v2.0": "status", "v2.1": "code"}

HTTP_UNAUTHORIZED = 401
_EXCERPT_CHARS = 200


def is_api_version(value: str) -> TypeGuard[ApiVersion]:
    return value in API_VERSIONS


def parse_api_version(value: str) -> ApiVersion:
    """``value`` as an :data:`ApiVersion`; raises ``ValueError`` for anything else."""
    if not is_api_version(value):
        raise ValueError(f"api_version must be one of {', '.join(API_VERSIONS)}, not {value!r}")
    return value


def error_for_code(code: int, message: str) -> FlowyardError:
    """The error of EnOS code ``code``: its own class, or a bare FlowyardError carrying the code."""
    cls = ERRORS_BY_CODE.get(code)
    if cls is not None:
        return cls(message)
    if code == AuthError.code:
        return AuthError(message)
    error = FlowyardError(message)
    error.code = code
    return error


def json_or_none(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when the body is not JSON at all."""
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def envelope_message(response: httpx.Response) -> str | None:
    """The ``msg`` (or a gateway's ``message``) of a JSON answer, if it has one."""
    body = json_or_none(response)
    if isinstance(body, dict):
        for key in ("msg", "message"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def describe(response: httpx.Response) -> str:
    """A short, human description of an answer for error messages."""
    content_type = response.headers.get("content-type", "no content type")
    text = response.content[:_EXCERPT_CHARS].decode("utf-8", errors="replace").strip()
    excerpt = f": {text!r}" if text else ""
    return f"HTTP {response.status_code} ({content_type}){excerpt}"


def not_enos(response: httpx.Response, what: str) -> ConnectionFailedError:
    return ConnectionFailedError(
        f"{response.request.url.copy_with(query=None)} did not answer with {what} ({describe(response)}); "
        "is the URL that of a Flowyard or EnOS server?"
    )


def unwrap(response: httpx.Response, version: ApiVersion) -> Any:
    """The ``data`` of a successful envelope in the wording of ``version``.

    Raises:
        AuthError: HTTP 401, with the server's message when it sent one.
        FlowyardError: a subclass per non-zero EnOS code (``ERRORS_BY_CODE``),
            else a FlowyardError whose ``code`` is the code received.
        ConnectionFailedError: the answer is not an envelope of ``version``
            (not JSON, another service, or a server of the other API version).
    """
    if response.status_code == HTTP_UNAUTHORIZED:
        raise AuthError(envelope_message(response))
    body = json_or_none(response)
    field = STATUS_FIELDS[version]
    if not isinstance(body, dict) or not isinstance(body.get(field), int) or isinstance(body[field], bool):
        raise not_enos(response, f"an EnOS {version} envelope")
    code: int = body[field]
    if code != 0:
        message = body.get("msg")
        raise error_for_code(code, message if isinstance(message, str) and message else f"EnOS error {code}")
    return body.get("data")


# -- shapes of data: an answer whose data does not have the documented shape is not EnOS -------------


def unexpected(api: str, data: Any) -> ConnectionFailedError:
    excerpt = json.dumps(data, ensure_ascii=False)[:200]
    return ConnectionFailedError(f"unexpected data in the answer to {api}: {excerpt}")


def expect_dict(data: Any, api: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise unexpected(api, data)
    return data


def expect_list(data: Any, api: str) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise unexpected(api, data)
    return data


def str_field(data: Any, key: str, api: str) -> str:
    value = expect_dict(data, api).get(key)
    if not isinstance(value, str):
        raise unexpected(api, data)
    return value


def int_field(data: Any, key: str, api: str) -> int:
    """An integer field that EnOS may send as a number or a numeric string."""
    value = expect_dict(data, api).get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise unexpected(api, data)
