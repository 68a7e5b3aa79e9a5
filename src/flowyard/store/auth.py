"""SQL for access tokens and single-use values (nonces).

Like the rest of :mod:`flowyard.store`, every function takes an open session
and never commits. :func:`use_nonce` is the one place that opens a SAVEPOINT,
because "seen before" is decided by a primary-key conflict and the caller's
transaction must survive that conflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flowyard.domain.identity import AccessToken
from flowyard.store import models

__all__ = [
    "NONCE_SCOPE_ENCRYPTION",
    "NONCE_SCOPE_SIGNATURE",
    "current_token",
    "delete_token",
    "get_token",
    "insert_token",
    "purge_expired_nonces",
    "purge_expired_tokens",
    "use_nonce",
]

# Scopes of used_nonces (String(16)). Token get and refresh share one scope:
# the same encryption may not obtain a token twice, whichever endpoint it hits.
NONCE_SCOPE_ENCRYPTION = "encryption"
NONCE_SCOPE_SIGNATURE = "signature"


def _to_token(row: models.AccessToken) -> AccessToken:
    return AccessToken(
        token=row.token, access_key=row.access_key, issued_at=row.issued_at, expires_at=row.expires_at
    )


def _rowcount(result: Any) -> int:
    # A DELETE's result is a CursorResult, the type that carries rowcount.
    return cast("CursorResult[Any]", result).rowcount


# --- access tokens -----------------------------------------------------------


def insert_token(session: Session, token: AccessToken) -> None:
    session.execute(
        insert(models.AccessToken).values(
            token=token.token,
            access_key=token.access_key,
            issued_at=token.issued_at,
            expires_at=token.expires_at,
        )
    )


def get_token(session: Session, token: str) -> AccessToken | None:
    """The stored token ``token``, expired or not (the caller tells the two apart)."""
    row = session.scalar(select(models.AccessToken).where(models.AccessToken.token == token))
    return _to_token(row) if row is not None else None


def current_token(session: Session, access_key: str, valid_after: datetime) -> AccessToken | None:
    """The application's token that stays valid longest, if one is valid beyond ``valid_after``."""
    row = session.scalar(
        select(models.AccessToken)
        .where(models.AccessToken.access_key == access_key, models.AccessToken.expires_at > valid_after)
        .order_by(models.AccessToken.expires_at.desc(), models.AccessToken.token)
        .limit(1)
    )
    return _to_token(row) if row is not None else None


def delete_token(session: Session, token: str) -> bool:
    """Revoke ``token``; False if it did not exist."""
    return _rowcount(session.execute(delete(models.AccessToken).where(models.AccessToken.token == token))) > 0


def purge_expired_tokens(session: Session, now: datetime) -> int:
    """Delete tokens expired at ``now``; returns how many."""
    statement = delete(models.AccessToken).where(models.AccessToken.expires_at <= now)
    return _rowcount(session.execute(statement))


# --- nonces ------------------------------------------------------------------


def use_nonce(session: Session, scope: str, value: str, expires_at: datetime) -> bool:
    """Record ``value`` as used in ``scope``; False if it was recorded before.

    Atomic across processes: the insert either creates the row or hits the
    primary key, so two concurrent uses of one value cannot both succeed. The
    insert runs in a SAVEPOINT so that the conflict rolls back only the
    insert, not the caller's transaction.

    ``expires_at`` is when the row may be purged: the moment after which the
    value would be refused as stale anyway. A row past ``expires_at`` that was
    not purged yet still counts as seen, which errs on the safe side.
    """
    try:
        with session.begin_nested():
            session.execute(insert(models.UsedNonce).values(scope=scope, value=value, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


def purge_expired_nonces(session: Session, now: datetime) -> int:
    """Delete nonces whose ``expires_at`` has passed at ``now``; returns how many."""
    statement = delete(models.UsedNonce).where(models.UsedNonce.expires_at <= now)
    return _rowcount(session.execute(statement))
