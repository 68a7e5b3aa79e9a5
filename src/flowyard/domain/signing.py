"""The two keyed hashes of EnOS API authentication (spec 2.5), as pure functions.

* :func:`token_encryption` is the ``encryption`` field a service account sends
  to the token service: ``sha256(appKey + timestamp + appSecret)``.
* :func:`request_signature` is the ``apim-signature`` header of every API call:
  ``sha256(accessToken + paramsData + body + timestamp + appSecret)`` where
  ``paramsData`` is the query parameters (including ``action``, ``userId`` and
  ``orgId``) sorted by name and joined as ``name1value1name2value2...``.

Both digests are lowercase hexadecimal. The signature is computed over bytes:
the body is taken exactly as it travelled, so a body that is not UTF-8 (or
that a JSON round trip would reformat) still verifies. Text parts (token,
decoded query names and values, timestamp, secret) are encoded as UTF-8,
which is what the EnOS documentation's worked example implies.

Nothing here reads the clock, the database or randomness; the services decide
what is fresh, known or replayed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = [
    "HEX_DIGEST_LENGTH",
    "digests_equal",
    "is_hex_digest",
    "params_data",
    "request_signature",
    "token_encryption",
]

# Length of a SHA-256 digest written in hexadecimal.
HEX_DIGEST_LENGTH = 64
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def token_encryption(app_key: str, timestamp_ms: int, app_secret: str) -> str:
    """The token-service ``encryption`` for ``app_key`` at ``timestamp_ms`` (epoch milliseconds).

    The timestamp is written in decimal without padding, as a JSON number
    would be.
    """
    data = f"{app_key}{timestamp_ms}{app_secret}".encode()
    return hashlib.sha256(data).hexdigest()


def params_data(query: Sequence[tuple[str, str]]) -> bytes:
    """The query part of ``paramsData``: parameters sorted by name, ``name + value`` concatenated.

    ``query`` holds decoded (not percent-encoded) names and values, blank
    values included (``maxLength=`` contributes ``maxLength``). Names sort in
    code-point order, which is ASCII order for the ASCII names EnOS uses and
    agrees with UTF-8 byte order for any other. The sort is stable, so a name
    given twice keeps the order in which its values appeared in the URL.
    """
    ordered = sorted(query, key=lambda pair: pair[0])
    return b"".join(name.encode() + value.encode() for name, value in ordered)


def request_signature(
    access_token: str,
    query: Sequence[tuple[str, str]],
    body: bytes,
    timestamp_ms: int | str,
    app_secret: str,
) -> str:
    """The ``apim-signature`` of a request.

    ``body`` is the exact raw request body (``b""`` for a GET). ``timestamp_ms``
    is the ``apim-timestamp`` value; pass the header text unchanged when
    verifying, because the client hashed the characters it sent.
    """
    sign_data = b"".join(
        (
            access_token.encode(),
            params_data(query),
            body,
            str(timestamp_ms).encode(),
            app_secret.encode(),
        )
    )
    return hashlib.sha256(sign_data).hexdigest()


def is_hex_digest(value: str) -> bool:
    """Whether ``value`` looks like a SHA-256 hex digest (64 hex digits, any case)."""
    return len(value) == HEX_DIGEST_LENGTH and all(char in _HEX_DIGITS for char in value)


def digests_equal(expected: str, given: str) -> bool:
    """Compare two hex digests case-insensitively in constant time.

    Constant time so that response timing does not reveal how many leading
    characters of a forged signature were right.
    """
    return hmac.compare_digest(expected.lower().encode(), given.lower().encode())
