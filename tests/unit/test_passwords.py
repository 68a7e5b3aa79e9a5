"""Console passwords: argon2 hashes, one-time passwords, the throttling decision."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from flowyard.domain.passwords import (
    blocked_until,
    hash_password,
    new_one_time_password,
    validate_password,
    verify_password,
)
from flowyard.errors import InvalidParameterError

LAST = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_hash_and_verify() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password(None, "correct horse")  # no password set: never signs in
    assert not verify_password("not a hash", "correct horse")


def test_password_rules() -> None:
    assert validate_password("12345678") == "12345678"
    with pytest.raises(InvalidParameterError, match="at least 8"):
        validate_password("short")


def test_one_time_passwords_are_random_and_long() -> None:
    rng = random.Random(7)
    first, second = new_one_time_password(rng), new_one_time_password(rng)
    assert len(first) == 20
    assert first != second
    assert first.isalnum()


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (0, None),
        (4, None),
        (5, LAST + MINUTE),
        (6, LAST + 2 * MINUTE),
        (8, LAST + 8 * MINUTE),
        (50, LAST + 64 * MINUTE),  # capped
    ],
)
def test_blocked_until(failures: int, expected: datetime | None) -> None:
    assert blocked_until(failures, LAST, max_failures=5, lockout=MINUTE) == expected


def test_no_failure_no_block() -> None:
    assert blocked_until(9, None, max_failures=5, lockout=MINUTE) is None
