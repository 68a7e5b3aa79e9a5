"""Identity values, id generators and name rules."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest

from flowyard.domain.identity import (
    AccessToken,
    Application,
    User,
    new_access_key,
    new_access_token,
    new_org_id,
    new_secret_key,
    new_user_id,
    validate_name,
    validate_username,
)
from flowyard.errors import InvalidParameterError

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_org_and_user_ids_have_the_enos_shape() -> None:
    rng = random.Random(1)
    for _ in range(200):
        assert re.fullmatch(r"o[1-9]\d{13}", new_org_id(rng))
        assert re.fullmatch(r"u[1-9]\d{13}", new_user_id(rng))


def test_access_key_is_uuid_shaped() -> None:
    key = new_access_key(random.Random(2))
    assert len(key) == 36
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key)


def test_secret_key_is_enos_shaped_hex_and_token_is_url_safe() -> None:
    rng = random.Random(3)
    secret = new_secret_key(rng)
    token = new_access_token(rng)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", secret)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,128}", token)
    assert secret != token


def test_keys_parse_as_the_enos_poseidon_sdk_parses_them() -> None:
    # poseidon's PIN: int(accessKey.split("-")[1] + secretKey.split("-")[1], 16)
    rng = random.Random(4)
    for _ in range(100):
        key, secret = new_access_key(rng), new_secret_key(rng)
        assert int(key.split("-")[1] + secret.split("-")[1], 16) >= 0


def test_generators_are_deterministic_for_a_seeded_source() -> None:
    first = [new_org_id(random.Random(7)), new_secret_key(random.Random(7))]
    second = [new_org_id(random.Random(7)), new_secret_key(random.Random(7))]
    assert first == second
    assert new_secret_key(random.Random(7)) != new_secret_key(random.Random(8))


def test_system_random_works_as_a_source() -> None:
    assert re.fullmatch(r"o\d{14}", new_org_id(random.SystemRandom()))


def test_secret_key_is_not_in_repr() -> None:
    app = Application(access_key="ak", secret_key="TOPSECRET", org_id="o1", name="n")
    assert "TOPSECRET" not in repr(app)
    token = AccessToken(token="BEARER", access_key="ak", issued_at=NOW, expires_at=NOW)
    assert "BEARER" not in repr(token)


def test_user_membership() -> None:
    user = User(id="u1", username="alice", locked=False, org_ids=frozenset({"o1"}))
    assert user.is_member_of("o1")
    assert not user.is_member_of("o2")


def test_access_token_expiry_and_remaining_seconds() -> None:
    token = AccessToken(token="t", access_key="ak", issued_at=NOW, expires_at=NOW + timedelta(seconds=7200))
    assert not token.is_expired(NOW)
    assert token.remaining_seconds(NOW) == 7200
    assert token.remaining_seconds(NOW + timedelta(seconds=100, milliseconds=500)) == 7099
    assert token.is_expired(NOW + timedelta(seconds=7200))
    assert token.remaining_seconds(NOW + timedelta(seconds=9000)) == 0


@pytest.mark.parametrize("username", ["admin", "alice.smith", "bob_1", "x" * 128, "张三"])
def test_valid_usernames(username: str) -> None:
    assert validate_username(username) == username


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("", "param: username cannot be empty"),
        ("x" * 129, "Invalid parameter: username is longer than 128"),
        ("a;b", "Invalid parameter: username may not contain ';'"),
        ("a b", "Invalid parameter: username may not contain ' '"),
        ("a,b\t", "Invalid parameter: username may not contain '\\t', ','"),
    ],
)
def test_invalid_usernames(username: str, message: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        validate_username(username)
    assert caught.value.message == message
    assert caught.value.code == 62102


def test_validate_name() -> None:
    assert validate_name("name", "  Plant A ") == "Plant A"
    with pytest.raises(InvalidParameterError, match=r"^param: name cannot be empty$"):
        validate_name("name", "   ")
    with pytest.raises(InvalidParameterError, match=r"^Invalid parameter: name is longer than 255$"):
        validate_name("name", "x" * 256)
