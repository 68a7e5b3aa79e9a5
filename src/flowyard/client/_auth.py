"""EnOS token authentication as an :class:`httpx.Auth` (spec 2.5, "Invoking API with Access Token").

Per request, :class:`ApimAuth`:

1. makes sure it holds an access token, asking the token service
   (``POST {url}/apim-token-service/v2.0/token/get`` with ``appKey``,
   ``encryption`` and ``timestamp``) when it has none or the one it has
   expires within :data:`REFRESH_MARGIN_MS` (an answer without ``expire`` is
   taken to mean the EnOS default of 7200 s);
2. signs the request: every query parameter (``action``, ``userId`` and
   ``orgId`` included) plus the exact body bytes, into the headers
   ``apim-accesstoken``, ``apim-signature`` and ``apim-timestamp`` (the
   timestamps of one instance strictly increase, so that two identical
   requests never carry the same signature, which a server takes for a replay);
3. when the server answers HTTP 401 with a message about the token (expired,
   unknown), drops the token, fetches a new one and sends the request once
   more, freshly signed. Any other 401 is returned as it is.

The hashing itself is :mod:`flowyard.domain.signing`, shared with the server.
Being an ``httpx.Auth``, this also works with a plain ``httpx.Client``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx

from flowyard.clock import Clock, SystemClock
from flowyard.domain.signing import request_signature, token_encryption
from flowyard.errors import ConnectionFailedError, TokenServiceError
from flowyard.settings import DEFAULT_TOKEN_TTL_SECONDS

from ._envelope import HTTP_UNAUTHORIZED, envelope_message, json_or_none, not_enos

TOKEN_PATH: Final = "/apim-token-service/v2.0/token/get"
JSON_CONTENT_TYPE: Final = "application/json;charset=UTF-8"

HEADER_TOKEN: Final = "apim-accesstoken"
HEADER_SIGNATURE: Final = "apim-signature"
HEADER_TIMESTAMP: Final = "apim-timestamp"

# A token is renewed this long before it expires, so that a request signed
# just before expiry does not reach the server just after it. Tokens living
# less than twice this are renewed at half their life instead.
REFRESH_MARGIN_MS: Final = 60_000

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND: Final = timedelta(milliseconds=1)


def epoch_ms(clock: Clock) -> int:
    """``clock.now()`` as Unix epoch milliseconds, exactly (no float rounding)."""
    return (clock.now() - _EPOCH) // _MILLISECOND


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token and the epoch-ms instant from which the client stops using it."""

    value: str
    renew_at_ms: int


def is_token_complaint(response: httpx.Response) -> bool:
    """True for a 401 whose message is about the access token, so that a new token may help."""
    if response.status_code != HTTP_UNAUTHORIZED:
        return False
    message = envelope_message(response)
    return message is not None and "token" in message.lower()


class ApimAuth(httpx.Auth):
    """Signs requests the EnOS way with a cached, self-renewing access token.

    ``url`` is the server's base URL (the token service lives under it).
    ``clock`` gives the signing timestamps and decides token expiry; tests
    pass a :class:`~flowyard.clock.FakeClock`. One instance may be shared by
    the threads of one ``httpx.Client``: the cached token is swapped
    atomically, and at worst two threads both fetch a token.

    Raises (from the ``httpx`` call that sends the request):
    :class:`~flowyard.errors.TokenServiceError` when the token service refuses,
    :class:`~flowyard.errors.ConnectionFailedError` when it answers something
    other than a token-service envelope.
    """

    requires_request_body = True
    requires_response_body = True

    def __init__(self, url: str, access_key: str, secret_key: str, *, clock: Clock | None = None) -> None:
        self._token_url = url.rstrip("/") + TOKEN_PATH
        self._access_key = access_key
        self._secret_key = secret_key
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._token: AccessToken | None = None
        self._last_stamp_ms = 0
        self._stamp_lock = threading.Lock()

    @property
    def token(self) -> AccessToken | None:
        """The cached token, if any (for inspection; the flow manages it)."""
        return self._token

    def invalidate(self) -> None:
        """Forget the cached token: the next request fetches a new one."""
        self._token = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._usable_token()
        if token is None:
            token = yield from self._fetch_token(request)
        self._sign(request, token.value)
        response = yield request
        if not is_token_complaint(response):
            return
        self.invalidate()
        token = yield from self._fetch_token(request)
        self._sign(request, token.value)
        yield request

    def _stamp(self) -> int:
        """A timestamp for a signature or an encryption, strictly later than the previous one.

        The server refuses a signature (and an encryption) it has seen before;
        two identical requests signed within the same millisecond would have
        the same one, so the stamp moves on by 1 ms when the clock has not.
        """
        with self._stamp_lock:
            self._last_stamp_ms = max(epoch_ms(self._clock), self._last_stamp_ms + 1)
            return self._last_stamp_ms

    def _usable_token(self) -> AccessToken | None:
        token = self._token
        if token is not None and epoch_ms(self._clock) < token.renew_at_ms:
            return token
        return None

    def _fetch_token(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, AccessToken]:
        asked_at_ms = self._stamp()
        body = {
            "appKey": self._access_key,
            "encryption": token_encryption(self._access_key, asked_at_ms, self._secret_key),
            "timestamp": asked_at_ms,
        }
        response = yield httpx.Request(
            "POST",
            self._token_url,
            content=json.dumps(body, separators=(",", ":")).encode("utf-8"),
            headers={"Content-Type": JSON_CONTENT_TYPE, "Accept": "application/json"},
            # The same time limits as the API call the token is for.
            extensions={key: value for key, value in request.extensions.items() if key == "timeout"},
        )
        token = self._parse_token_answer(response, asked_at_ms=asked_at_ms)
        self._token = token
        return token

    def _parse_token_answer(self, response: httpx.Response, *, asked_at_ms: int) -> AccessToken:
        """The token of a token-service answer; raises TokenServiceError on a non-zero status.

        The token's lifetime counts from when it was asked for, so network
        delay shortens it rather than stretching it.
        """
        body = json_or_none(response)
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(status, int) or isinstance(status, bool):
            raise not_enos(response, "an apim token-service answer")
        if status != 0:
            message = body.get("msg")
            raise TokenServiceError(status, message if isinstance(message, str) else "token service error")
        data = body.get("data")
        value = data.get("accessToken") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            raise ConnectionFailedError(f"the token service at {self._token_url} answered without a token")
        expire = data.get("expire") if isinstance(data, dict) else None
        if not isinstance(expire, int) or isinstance(expire, bool) or expire <= 0:
            expire = DEFAULT_TOKEN_TTL_SECONDS
        lifetime_ms = expire * 1000
        margin_ms = min(REFRESH_MARGIN_MS, lifetime_ms // 2)
        return AccessToken(value=value, renew_at_ms=asked_at_ms + lifetime_ms - margin_ms)

    def _sign(self, request: httpx.Request, access_token: str) -> None:
        timestamp = self._stamp()
        signature = request_signature(
            access_token,
            request.url.params.multi_items(),
            request.content,
            timestamp,
            self._secret_key,
        )
        request.headers[HEADER_TOKEN] = access_token
        request.headers[HEADER_SIGNATURE] = signature
        request.headers[HEADER_TIMESTAMP] = str(timestamp)
