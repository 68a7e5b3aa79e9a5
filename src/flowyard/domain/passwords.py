"""Passwords of people who sign in to the console: argon2id hashes, one-time passwords, throttling.

Pure functions over their inputs; the hasher's cost parameters are argon2-cffi's
defaults (RFC 9106 "second recommended" profile). Throttling is a decision over
the failure count and the time of the last failure, so tests pass literal times.
"""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from flowyard.errors import InvalidParameterError

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "blocked_until",
    "hash_password",
    "needs_rehash",
    "new_one_time_password",
    "validate_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
ONE_TIME_PASSWORD_LENGTH = 20
_ALPHABET = string.ascii_letters + string.digits

_hasher = PasswordHasher()


def validate_password(password: str) -> str:
    """The password if it is acceptable, else 62102 naming the rule."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidParameterError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidParameterError(f"A password has at most {MAX_PASSWORD_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    """True when ``password`` matches ``hashed``; False for no hash or a mismatch.

    With no hash a dummy hash is still verified, so an unknown user costs as
    much time as a wrong password and the two cannot be told apart by timing.
    """
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    return _hasher.check_needs_rehash(hashed)


def new_one_time_password(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(ONE_TIME_PASSWORD_LENGTH))


def blocked_until(
    failures: int, last_failure_at: datetime | None, *, max_failures: int, lockout: timedelta
) -> datetime | None:
    """When sign-in is allowed again after ``failures`` consecutive failures, or None if it is now.

    After ``max_failures`` failures every further attempt waits ``lockout``
    from the last failure, doubling with each failure beyond that (capped at 64x).
    """
    if last_failure_at is None or failures < max_failures:
        return None
    factor = 1 << min(failures - max_failures, 6)
    return last_failure_at + lockout * factor


_DUMMY_HASH = _hasher.hash("flowyard-dummy-password")
