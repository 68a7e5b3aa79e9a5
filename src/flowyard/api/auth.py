"""The HTTP edge of request signing: read the ``apim-*`` headers and the raw query, verify.

The route layer calls :func:`authenticate` after it has read the body (the
signature covers the exact body bytes) and before it trusts ``userId`` and
``orgId``. Whether authentication is required at all (``settings.auth``, the
"trusted" mode of spec 2.5) is the caller's decision, not this module's.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from flowyard.clock import Clock
from flowyard.domain.identity import AppPrincipal
from flowyard.services.auth import AuthService

__all__ = [
    "ACCESS_TOKEN_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "authenticate",
    "signed_query",
]

ACCESS_TOKEN_HEADER = "apim-accesstoken"
SIGNATURE_HEADER = "apim-signature"
TIMESTAMP_HEADER = "apim-timestamp"


def signed_query(request: Request) -> list[tuple[str, str]]:
    """The query parameters as the signer saw them: decoded, in URL order, blank values kept.

    Read from the raw ``query_string`` so nothing Starlette normalises gets in
    the way. Raw bytes are decoded as UTF-8 because a client that does not
    percent-encode non-ASCII characters sends them, and signs them, as UTF-8.
    """
    raw = request.scope.get("query_string", b"")
    return parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)


async def authenticate(
    request: Request, body: bytes, auth: AuthService, clock: Clock, *, replay_allowed: bool = False
) -> AppPrincipal:
    """The application that signed ``request``, or :class:`~flowyard.errors.AuthError`.

    ``body`` must be the raw body bytes already read from ``request``. The
    check touches the database (token lookup, replay record), so it runs in a
    worker thread, off the event loop. ``replay_allowed`` (a read-only action) accepts a
    signature that was already used inside the skew window.
    """
    headers = request.headers
    return await run_in_threadpool(
        auth.verify_request,
        access_token=headers.get(ACCESS_TOKEN_HEADER),
        signature=headers.get(SIGNATURE_HEADER),
        timestamp=headers.get(TIMESTAMP_HEADER),
        query=signed_query(request),
        body=body,
        now=clock.now(),
        replay_allowed=replay_allowed,
    )
