"""The apim token service and the verification of signed requests (spec 2.5).

Token service
    ``get_token`` trades a fresh ``encryption`` = sha256(appKey + timestamp +
    appSecret) for an access token; while the application's token is valid,
    ``get_token`` hands out the same token with the seconds it has left.
    ``refresh_token`` replaces a valid token with a new one of full lifetime.
    Failures raise :class:`~flowyard.errors.TokenServiceError` with the token
    service's codes (:class:`TokenServiceCode`).

Signed requests
    ``verify_request`` checks the three ``apim-*`` headers of an API call and
    returns the calling :class:`~flowyard.domain.identity.AppPrincipal`, or
    raises :class:`~flowyard.errors.AuthError` (HTTP 401) saying what is wrong.

Freshness and replay: a timestamp further than
``settings.signature_max_skew_seconds`` from ``now`` (either side) is refused.
Within that window every accepted ``encryption`` and every accepted
``apim-signature`` of a state-changing call is recorded once in ``used_nonces``
(atomically, by primary key), so a second use is a replay. A nonce may be
purged once its timestamp has left the window, because the skew check refuses
it from then on.

Reads may repeat a signature (``replay_allowed``): EnOS clients sign with a
one-second timestamp and the signature covers neither path nor method, so two
identical polls in the same second sign identically, and spec 2.5 never says a
signature is single-use. Replaying a read discloses nothing its first answer
did not; replaying an import, a trigger or a delete would act twice, so those
stay single-use.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.identity import AccessToken, Application, AppPrincipal, new_access_token
from flowyard.domain.signing import digests_equal, is_hex_digest, request_signature, token_encryption
from flowyard.errors import AuthError, TokenServiceError
from flowyard.settings import Settings
from flowyard.store import auth as store
from flowyard.store.db import transaction
from flowyard.store.identity import get_app

__all__ = ["LEGACY_TOKEN_MESSAGE", "AuthService", "TokenGrant", "TokenServiceCode"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
# A token with less than this left is not handed out again: the client could not use it.
_MIN_REMAINING = timedelta(seconds=1)
# epoch milliseconds fit in 19 digits until the year 2286 and beyond; longer is garbage.
_MAX_TIMESTAMP_DIGITS = 19


# The legacy EnOS Python SDK (enos-poseidon) sends only an apim-accesstoken, RSA-encrypted with
# the public key of Envision's gateway: no one else can decrypt, hence verify, it.
LEGACY_TOKEN_MESSAGE = (
    "Unknown access token without apim-signature: this looks like a token of the legacy EnOS Python"
    " SDK (poseidon), which only Envision's gateway can verify. Run Flowyard with --no-auth on a"
    " trusted network, or use a client that signs as EnOS spec 2.5 describes (token service, then"
    " apim-signature and apim-timestamp on every call)."
)


class TokenServiceCode(IntEnum):
    DUPLICATE_ENCRYPTION = 1001
    APP_KEY_NOT_FOUND = 1002
    INVALID_ENCRYPTION = 1003
    INVALID_PARAMETER = 1004
    INTERNAL_ERROR = 1005
    EMPTY_PARAMETER = 1202
    TOKEN_EXPIRED = 1203
    REFRESH_FAILED = 1204


@dataclass(frozen=True)
class TokenGrant:
    """The token service's answer: a token and the whole seconds it stays valid."""

    access_token: str
    expire_seconds: int


def _epoch_ms(when: datetime) -> int:
    return (when - _EPOCH) // _MILLISECOND


def _skew_error(timestamp_ms: int, now: datetime, max_skew_seconds: int) -> str | None:
    """Why ``timestamp_ms`` is not fresh at ``now``, or None if it is."""
    now_ms = _epoch_ms(now)
    offset_ms = timestamp_ms - now_ms
    if abs(offset_ms) <= max_skew_seconds * 1000:
        return None
    side = "ahead of" if offset_ms > 0 else "behind"
    return (
        f"timestamp {timestamp_ms} is {abs(offset_ms) / 1000:.3f} s {side} the server time {now_ms}; "
        f"the allowed skew is {max_skew_seconds} s"
    )


class AuthService:
    """Issues access tokens and verifies signed requests. Each call is one transaction."""

    def __init__(
        self, session_factory: sessionmaker[Session], settings: Settings, rng: random.Random | None = None
    ) -> None:
        self._sessions = session_factory
        self._skew = settings.signature_max_skew_seconds
        self._ttl = timedelta(seconds=settings.token_ttl_seconds)
        # Tokens are bearer secrets: the OS CSPRNG unless a test injects a seeded source.
        self._rng = rng if rng is not None else random.SystemRandom()

    # --- token service -------------------------------------------------------

    def get_token(
        self, app_key: str | None, encryption: str | None, timestamp_ms: int | None, now: datetime
    ) -> TokenGrant:
        """The application's valid token if it has one, else a new one (spec 2.5 ``token/get``).

        Raises ``TokenServiceError`` 1202 (a parameter missing or empty), 1004
        (timestamp outside the allowed skew), 1002 (unknown appKey), 1003 (wrong
        encryption), 1001 (this encryption was used before).
        """
        with transaction(self._sessions) as session:
            self._check_encryption(session, app_key, encryption, timestamp_ms, now)
            assert app_key is not None
            current = store.current_token(session, app_key, now + _MIN_REMAINING)
            if current is not None:
                return TokenGrant(current.token, current.remaining_seconds(now))
            return self._issue(session, app_key, now)

    def refresh_token(
        self,
        app_key: str | None,
        encryption: str | None,
        timestamp_ms: int | None,
        access_token: str | None,
        now: datetime,
    ) -> TokenGrant:
        """Replace ``access_token`` by a new token of full lifetime; the old one stops working at once.

        Raises what :meth:`get_token` raises, and 1203 if ``access_token`` has
        expired or 1204 if it is unknown or belongs to another application.
        """
        with transaction(self._sessions) as session:
            self._check_encryption(
                session,
                app_key,
                encryption,
                timestamp_ms,
                now,
                also_required=(("accessToken", access_token),),
            )
            assert app_key is not None and access_token is not None
            old = store.get_token(session, access_token)
            if old is None or old.access_key != app_key:
                raise TokenServiceError(
                    TokenServiceCode.REFRESH_FAILED,
                    "refresh failed: accessToken is unknown or does not belong to this appKey",
                )
            if old.is_expired(now):
                raise TokenServiceError(
                    TokenServiceCode.TOKEN_EXPIRED, "access token expired; get a new one with token/get"
                )
            store.delete_token(session, old.token)
            return self._issue(session, app_key, now)

    def purge_expired(self, now: datetime) -> int:
        """Delete expired tokens and nonces; returns how many rows went. Safe to run at any time."""
        with transaction(self._sessions) as session:
            return store.purge_expired_tokens(session, now) + store.purge_expired_nonces(session, now)

    # --- signed requests -----------------------------------------------------

    def verify_request(
        self,
        *,
        access_token: str | None,
        signature: str | None,
        timestamp: str | None,
        query: Sequence[tuple[str, str]],
        body: bytes,
        now: datetime,
        replay_allowed: bool = False,
    ) -> AppPrincipal:
        """The application that signed this request, or ``AuthError``.

        ``access_token``, ``signature`` and ``timestamp`` are the raw
        ``apim-accesstoken``, ``apim-signature`` and ``apim-timestamp`` header
        values (None when absent); ``query`` the decoded query parameters in
        URL order, blank values included; ``body`` the raw body bytes. An
        accepted signature is recorded, so the same request sent again fails,
        unless ``replay_allowed`` (the caller's read-only operations), when it
        is neither checked nor recorded.
        """
        if access_token and not signature and not timestamp:
            self._refuse_legacy_token(access_token)
        missing = [
            header
            for header, value in (
                ("apim-accesstoken", access_token),
                ("apim-signature", signature),
                ("apim-timestamp", timestamp),
            )
            if not value
        ]
        if missing:
            raise AuthError(f"Missing authentication header: {', '.join(missing)}")
        assert access_token and signature and timestamp
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
            raise AuthError(f"Invalid apim-timestamp {timestamp[:40]!r}: expected epoch milliseconds")
        if not is_hex_digest(signature):
            raise AuthError("Invalid apim-signature: expected a SHA-256 digest of 64 hexadecimal digits")
        timestamp_ms = int(timestamp)
        stale = _skew_error(timestamp_ms, now, self._skew)
        if stale is not None:
            raise AuthError(f"Stale request: apim-{stale}")

        with transaction(self._sessions) as session:
            token = store.get_token(session, access_token)
            app = get_app(session, token.access_key) if token is not None else None
            if token is None or app is None:
                raise AuthError("Unknown access token: get one from /apim-token-service/v2.0/token/get")
            if token.is_expired(now):
                expired_at = token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                raise AuthError(f"Access token expired at {expired_at}: get a new one from the token service")
            # The header text, not int(timestamp): the client hashed the characters it sent.
            expected = request_signature(access_token, query, body, timestamp, app.secret_key)
            if not digests_equal(expected, signature):
                raise AuthError(
                    "Signature mismatch: apim-signature is not sha256(accessToken + sorted query parameters"
                    " + raw body + apim-timestamp + secretKey) for this request"
                )
            if not replay_allowed and not store.use_nonce(
                session, store.NONCE_SCOPE_SIGNATURE, signature.lower(), self._nonce_expiry(timestamp_ms)
            ):
                raise AuthError("Replayed request: this apim-signature has already been used")
            return AppPrincipal(access_key=app.access_key, org_id=app.org_id)

    # --- helpers (inside a transaction) --------------------------------------

    def _refuse_legacy_token(self, access_token: str) -> None:
        """A lone access token that Flowyard never issued is the legacy SDK's: say what to do instead."""
        with transaction(self._sessions) as session:
            if store.get_token(session, access_token) is not None:
                return  # one of ours without its signature: the missing-header message says it all
        raise AuthError(LEGACY_TOKEN_MESSAGE)

    def _nonce_expiry(self, timestamp_ms: int) -> datetime:
        # After this instant the timestamp is stale, so the nonce can never be accepted again.
        return _EPOCH + timestamp_ms * _MILLISECOND + timedelta(seconds=self._skew)

    def _check_encryption(
        self,
        session: Session,
        app_key: str | None,
        encryption: str | None,
        timestamp_ms: int | None,
        now: datetime,
        also_required: Sequence[tuple[str, str | None]] = (),
    ) -> Application:
        """Validate a token-service request and burn its ``encryption``; returns the application.

        ``also_required`` names further fields that may not be empty (the
        ``accessToken`` of ``token/refresh``), as (name, value) pairs.
        """
        fields: list[tuple[str, object]] = [
            ("appKey", app_key),
            ("encryption", encryption),
            ("timestamp", timestamp_ms),
            *also_required,
        ]
        empty = [name for name, value in fields if value is None or value == ""]
        if empty:
            raise TokenServiceError(TokenServiceCode.EMPTY_PARAMETER, f"empty parameter: {', '.join(empty)}")
        assert app_key is not None and encryption is not None and timestamp_ms is not None
        stale = _skew_error(timestamp_ms, now, self._skew)
        if stale is not None:
            raise TokenServiceError(TokenServiceCode.INVALID_PARAMETER, f"invalid parameter: {stale}")
        app = get_app(session, app_key)
        if app is None:
            raise TokenServiceError(TokenServiceCode.APP_KEY_NOT_FOUND, f"appKey does not exist: {app_key}")
        expected = token_encryption(app_key, timestamp_ms, app.secret_key)
        if not is_hex_digest(encryption) or not digests_equal(expected, encryption):
            raise TokenServiceError(
                TokenServiceCode.INVALID_ENCRYPTION,
                "invalid encryption: expected lowercase hex sha256(appKey + timestamp + appSecret)",
            )
        if not store.use_nonce(
            session, store.NONCE_SCOPE_ENCRYPTION, encryption.lower(), self._nonce_expiry(timestamp_ms)
        ):
            raise TokenServiceError(
                TokenServiceCode.DUPLICATE_ENCRYPTION,
                "duplicate encryption: this appKey and timestamp were already used; use a new timestamp",
            )
        return app

    def _issue(self, session: Session, app_key: str, now: datetime) -> TokenGrant:
        # Issuing is rare (once per token lifetime per client): a cheap moment to purge.
        store.purge_expired_tokens(session, now)
        store.purge_expired_nonces(session, now)
        token = AccessToken(
            token=new_access_token(self._rng), access_key=app_key, issued_at=now, expires_at=now + self._ttl
        )
        store.insert_token(session, token)
        return TokenGrant(token.token, token.remaining_seconds(now))
