"""Console sign-in: passwords, browser sessions and login throttling.

Each public method is one transaction; ``now`` arrives as an argument.
A session is a random token held by the browser in an HttpOnly cookie; the
database keeps only its SHA-256, so a leaked database cannot sign anybody in.
Each session has its own CSRF token, which the browser sends back in a header
on every API call (the double-submit is checked by the API edge).

Errors: a wrong username or password is :class:`SignInError` (401, one message
for both); too many failures :class:`ThrottledError` (429, with the wait);
a locked user :class:`~flowyard.errors.LockedError` (62105).
"""

from __future__ import annotations

import hashlib
import math
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from flowyard.domain.identity import User
from flowyard.domain.passwords import (
    blocked_until,
    hash_password,
    needs_rehash,
    new_one_time_password,
    validate_password,
    verify_password,
)
from flowyard.errors import AuthError, InvalidParameterError, LockedError
from flowyard.settings import Settings
from flowyard.store import identity as identity_store
from flowyard.store import sessions as store
from flowyard.store.db import transaction

__all__ = ["ConsoleSessionService", "SignInError", "SignedIn", "ThrottledError"]

# A session's last_seen_at is written at most this often, so reads do not all become writes.
_TOUCH_INTERVAL = timedelta(seconds=30)


class SignInError(AuthError):
    default_message = "Wrong username or password"


class ThrottledError(AuthError):
    code = 429
    default_message = "Too many failed sign-ins"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: the user and the CSRF token the browser must echo."""

    user: User
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ConsoleSessionService:
    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = session_factory
        self._idle = timedelta(seconds=settings.session_idle_seconds)
        self._max = timedelta(seconds=settings.session_max_seconds)
        self._max_failures = settings.login_max_failures
        self._lockout = timedelta(seconds=settings.login_lockout_seconds)

    # --- passwords -----------------------------------------------------------

    def set_password(self, user_ref: str, password: str, now: datetime) -> User:
        """Set the password of the user with id or username ``user_ref``; signs out its sessions."""
        hashed = hash_password(validate_password(password))
        with transaction(self._sessions) as session:
            user = identity_store.find_user(session, user_ref) if user_ref else None
            if user is None:
                raise InvalidParameterError(f"User not found: {user_ref}")
            store.set_password_hash(session, user.id, hashed, now)
            store.delete_user_sessions(session, user.id)
            store.clear_failures(session, user.username)
        return user

    @staticmethod
    def new_password(rng: random.Random | None = None) -> tuple[str, str]:
        """A fresh one-time password and its hash (for the bootstrap admin)."""
        password = new_one_time_password(rng or random.SystemRandom())
        return password, hash_password(password)

    # --- sessions ------------------------------------------------------------

    def sign_in(self, username: str, password: str, now: datetime) -> tuple[str, SignedIn]:
        """The new session's cookie token and the session, or one of the module's errors."""
        username = username.strip()[:128]
        with transaction(self._sessions) as session:
            failures, last = store.get_failures(session, username)
            until = blocked_until(failures, last, max_failures=self._max_failures, lockout=self._lockout)
            if until is not None and until > now:
                raise ThrottledError(max(1, math.ceil((until - now).total_seconds())))
            user = identity_store.get_user_by_username(session, username) if username else None
            hashed = store.get_password_hash(session, user.id) if user is not None else None
        # Hash verification is slow on purpose; do it outside the transaction.
        if user is None or not verify_password(hashed, password):
            with transaction(self._sessions) as session:
                store.record_failure(session, username, now)
            raise SignInError()
        if user.locked:
            raise LockedError()
        token = secrets.token_urlsafe(32)
        signed = SignedIn(user=user, csrf_token=secrets.token_urlsafe(32), expires_at=now + self._max)
        with transaction(self._sessions) as session:
            store.clear_failures(session, username)
            if hashed is not None and needs_rehash(hashed):
                store.set_password_hash(session, user.id, hash_password(password), now)
            row = store.SessionRow(_digest(token), user.id, signed.csrf_token, now, now, signed.expires_at)
            store.insert_session(session, row)
        return token, signed

    def resolve(self, token: str, now: datetime) -> SignedIn | None:
        """The live session of cookie ``token``, or None when it is unknown, idle too long or too old."""
        if not token:
            return None
        digest = _digest(token)
        with transaction(self._sessions) as session:
            row = store.get_session(session, digest)
            if row is None:
                return None
            if row.expires_at <= now or row.last_seen_at + self._idle <= now:
                store.delete_session(session, digest)
                return None
            user = identity_store.get_user(session, row.user_id)
            if user is None:
                return None
            if now - row.last_seen_at >= _TOUCH_INTERVAL:
                store.touch_session(session, digest, now)
        return SignedIn(user=user, csrf_token=row.csrf_token, expires_at=row.expires_at)

    def sign_out(self, token: str) -> None:
        with transaction(self._sessions) as session:
            store.delete_session(session, _digest(token))

    def purge_expired(self, now: datetime) -> None:
        with transaction(self._sessions) as session:
            store.delete_expired(session, now - self._idle, now)
