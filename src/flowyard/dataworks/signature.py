"""Server-side check of the Alibaba Cloud V3 request signature (``ACS3-HMAC-SHA256``).

This is what the official DataWorks 2024-05-18 SDKs send (``alibabacloud_tea_openapi``
``Client.do_request`` → ``Utils.get_authorization``)::

    Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2;...>,Signature=<hex>

    CanonicalRequest = Method "\\n" Path "\\n" CanonicalQuery "\\n"
                       CanonicalHeaders "\\n" SignedHeaders "\\n" HexSha256(body)
    StringToSign     = "ACS3-HMAC-SHA256\\n" + HexSha256(CanonicalRequest)
    Signature        = Hex(HMAC-SHA256(secret, StringToSign))

``CanonicalHeaders`` is one ``name:value\\n`` line per signed header, so a blank line separates
it from ``SignedHeaders``. Everything here works on the bytes the client signed; nothing reads the
clock (``now`` is an argument) or keeps state (nonce memory is a callback).

Errors, all :class:`SignatureError` (an :class:`~flowyard.errors.AuthError`), each carrying the
Alibaba Cloud error code and HTTP status the SDK expects::

    SignatureError
    ├── MissingSignatureParameterError  MissingParameter             400
    ├── IncompleteSignatureError        IncompleteSignature          400
    ├── TimestampFormatError            InvalidTimeStamp.Format      400
    ├── TimestampExpiredError           InvalidTimeStamp.Expired     400
    ├── AccessKeyNotFoundError          InvalidAccessKeyId.NotFound  404
    ├── SignatureMismatchError          SignatureDoesNotMatch        400
    └── SignatureNonceUsedError         SignatureNonceUsed           400
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from flowyard.errors import AuthError

ALGORITHM = "ACS3-HMAC-SHA256"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The window Alibaba Cloud documents for x-acs-date; callers may pass another max_skew.
DEFAULT_MAX_SKEW = timedelta(minutes=15)
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()

AUTHORIZATION = "authorization"
X_ACS_DATE = "x-acs-date"
X_ACS_NONCE = "x-acs-signature-nonce"
X_ACS_CONTENT_SHA256 = "x-acs-content-sha256"
X_ACS_ACTION = "x-acs-action"
X_ACS_VERSION = "x-acs-version"

# Present on every SDK request and required to be signed: without them a signature could be
# replayed (date, nonce), moved to another operation (action, version) or host, or keep a
# different body (content hash).
REQUIRED_SIGNED_HEADERS = ("host", X_ACS_ACTION, X_ACS_VERSION, X_ACS_DATE, X_ACS_NONCE, X_ACS_CONTENT_SHA256)


class SignatureError(AuthError):
    """The request's V3 signature was missing, malformed, stale, replayed or wrong.

    ``error_code`` is the Alibaba Cloud ``Code`` to render; ``http_status`` the status to answer with.
    """

    error_code: str = "IncompleteSignature"
    http_status: int = 400
    default_message = "The request signature does not conform to Aliyun standards."


class MissingSignatureParameterError(SignatureError):
    error_code = "MissingParameter"

    def __init__(self, name: str) -> None:
        super().__init__(
            f'The input parameter "{name}" that is mandatory for processing this request is not supplied.'
        )
        self.parameter = name


class IncompleteSignatureError(SignatureError):
    error_code = "IncompleteSignature"


class TimestampFormatError(SignatureError):
    error_code = "InvalidTimeStamp.Format"
    default_message = "Specified time stamp or date value is not well formatted."


class TimestampExpiredError(SignatureError):
    error_code = "InvalidTimeStamp.Expired"
    default_message = "Specified time stamp or date value is expired."


class AccessKeyNotFoundError(SignatureError):
    error_code = "InvalidAccessKeyId.NotFound"
    http_status = 404
    default_message = "Specified access key is not found."


class SignatureMismatchError(SignatureError):
    error_code = "SignatureDoesNotMatch"
    default_message = "Specified signature does not match our calculation."


class SignatureNonceUsedError(SignatureError):
    error_code = "SignatureNonceUsed"
    default_message = "Specified signature nonce was used already."


@dataclass(frozen=True)
class Authorization:
    """A parsed ``Authorization`` header; ``signed_headers`` lower-cased, in the client's order."""

    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def _encode(text: str) -> str:
    # RFC 3986 percent-encoding of UTF-8: only A-Z a-z 0-9 - _ . ~ stay literal, space is %20.
    return quote(text, safe="~", encoding="utf-8")


def canonical_query(query: Iterable[tuple[str, str]]) -> str:
    """``k=v`` pairs, both percent-encoded, sorted by encoded key then value, joined by ``&``.

    ``query`` holds *decoded* pairs (form semantics: ``+`` already turned into a space), blank
    values included; an empty value still renders as ``k=``.
    """
    pairs = sorted((_encode(key), _encode(value)) for key, value in query)
    return "&".join(f"{key}={value}" for key, value in pairs)


def _header_values(headers: Mapping[str, str]) -> dict[str, list[str]]:
    # Iterating items() keeps repeated headers apart on multi-value mappings (Starlette's Headers).
    grouped: dict[str, list[str]] = {}
    for name, value in headers.items():
        grouped.setdefault(name.lower(), []).append(value.strip())
    return grouped


def _normalise_signed(signed_headers: Iterable[str]) -> list[str]:
    return sorted({name.strip().lower() for name in signed_headers if name.strip()})


def canonical_request(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body_sha256_hex: str,
) -> str:
    """The canonical request the client signed.

    ``path`` is the raw request path as sent (``"/"`` for RPC calls; empty means ``"/"``).
    Header names are matched case-insensitively; each signed header contributes
    ``name:value`` with the value stripped, repeated headers sorted and joined by ``,``;
    a signed header absent from ``headers`` contributes an empty value. Signed header names
    are lower-cased, de-duplicated and sorted, as the SDK sends them.
    """
    values = _header_values(headers)
    names = _normalise_signed(signed_headers)
    header_block = "".join(f"{name}:{','.join(sorted(values.get(name, [])))}\n" for name in names)
    return "\n".join(
        (
            method.upper(),
            path or "/",
            canonical_query(query),
            header_block,
            ";".join(names),
            body_sha256_hex,
        )
    )


def string_to_sign(canonical: str) -> str:
    """``ACS3-HMAC-SHA256`` and the hex SHA-256 of the UTF-8 canonical request, on two lines."""
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sign(secret: str, string_to_sign: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``string_to_sign`` keyed with the UTF-8 ``secret``."""
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_authorization(value: str) -> Authorization:
    """Parse ``ACS3-HMAC-SHA256 Credential=..,SignedHeaders=a;b,Signature=..``.

    Spaces after the commas are tolerated. Raises :class:`IncompleteSignatureError` for any
    other algorithm or a missing/empty part.
    """
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureError(
            f"Unsupported signature algorithm {algorithm!r}; only {ALGORITHM} is accepted."
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, part = item.strip().partition("=")
        if sep:
            parts[key.strip()] = part.strip()
    credential = parts.get("Credential", "")
    signed = tuple(name.strip().lower() for name in parts.get("SignedHeaders", "").split(";") if name.strip())
    signature = parts.get("Signature", "")
    if not credential or not signed or not signature:
        raise IncompleteSignatureError(
            "The Authorization header needs Credential, SignedHeaders and Signature."
        )
    return Authorization(credential, signed, signature)


def parse_date(value: str) -> datetime:
    """An ``x-acs-date`` (``2024-05-18T08:00:00Z``) as an aware UTC datetime.

    Raises :class:`TimestampFormatError` for anything else.
    """
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise TimestampFormatError() from None


def _single_header(values: dict[str, list[str]], name: str) -> str:
    found = values.get(name)
    if not found or not found[0]:
        raise MissingSignatureParameterError(name)
    return found[0]


def verify(
    *,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta,
    nonce_seen: Callable[[str], bool],
) -> str:
    """Check one request's V3 signature and return the caller's AccessKey id.

    ``query`` holds the decoded query pairs, ``body`` the raw body bytes, ``now`` an aware
    datetime. Checks, in order (the first failure raises):

    1. ``Authorization`` present and well formed; the required headers
       (:data:`REQUIRED_SIGNED_HEADERS`) present, and they, ``content-type`` when present and
       every other ``x-acs-*`` header sent are listed in ``SignedHeaders``, each of which is sent.
    2. ``x-acs-date`` parses and lies within ``max_skew`` of ``now`` (either side).
    3. ``secret_for(access_key_id)`` knows the key.
    4. ``x-acs-content-sha256`` equals the SHA-256 of ``body``.
    5. The signature matches (constant-time comparison).
    6. ``nonce_seen(nonce)`` is False. It is called once, and only for a request whose signature
       is valid, so unauthenticated traffic cannot fill the nonce store; it must record the
       nonce and report whether it was already there atomically, and remember nonces for at
       least ``2 * max_skew`` (older dates are rejected by step 2 anyway).
    """
    if now.tzinfo is None:
        raise ValueError("verify needs an aware datetime for now")
    values = _header_values(headers)
    auth = parse_authorization(_single_header(values, AUTHORIZATION))
    for name in REQUIRED_SIGNED_HEADERS:
        _single_header(values, name)
    must_sign = {*REQUIRED_SIGNED_HEADERS, *(name for name in values if name.startswith("x-acs-"))}
    if "content-type" in values:
        must_sign.add("content-type")
    unsigned = sorted(must_sign - set(auth.signed_headers))
    if unsigned:
        raise IncompleteSignatureError(f"These headers must be signed: {';'.join(unsigned)}.")
    absent = sorted(set(auth.signed_headers) - set(values))
    if absent:
        raise IncompleteSignatureError(f"Signed headers are missing from the request: {';'.join(absent)}.")

    signed_at = parse_date(_single_header(values, X_ACS_DATE))
    if abs(now - signed_at) > max_skew:
        server_time = now.astimezone(UTC)
        raise TimestampExpiredError(
            f"Specified time stamp or date value is expired: {X_ACS_DATE} {signed_at:{DATE_FORMAT}} is more "
            f"than {int(max_skew.total_seconds())} s away from server time {server_time:{DATE_FORMAT}}."
        )

    secret = secret_for(auth.access_key_id)
    if secret is None:
        raise AccessKeyNotFoundError()

    body_hash = hashlib.sha256(body).hexdigest()
    if _single_header(values, X_ACS_CONTENT_SHA256) != body_hash:
        raise SignatureMismatchError(
            f"Specified signature does not match our calculation: {X_ACS_CONTENT_SHA256} is not the "
            "SHA-256 of the request body."
        )

    to_sign = string_to_sign(canonical_request(method, path, query, headers, auth.signed_headers, body_hash))
    if not hmac.compare_digest(sign(secret, to_sign).encode(), auth.signature.lower().encode()):
        # Alibaba Cloud echoes its string-to-sign so a client can debug its canonical request.
        raise SignatureMismatchError(
            f"Specified signature does not match our calculation. server StringToSign is [{to_sign}]"
        )

    if nonce_seen(_single_header(values, X_ACS_NONCE)):
        raise SignatureNonceUsedError()
    return auth.access_key_id
