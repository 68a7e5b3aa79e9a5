"""AuthService against a real SQLite file: the token service and signed-request verification."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from flowyard.clock import FakeClock
from flowyard.domain.identity import Application, AppPrincipal
from flowyard.domain.signing import request_signature, token_encryption
from flowyard.errors import AuthError, TokenServiceError
from flowyard.services.auth import AuthService, TokenGrant
from flowyard.services.identity import IdentityService
from flowyard.settings import load_settings
from flowyard.store import auth as store
from flowyard.store import models
from flowyard.store.db import make_engine, make_session_factory, transaction
from flowyard.store.migrate import upgrade

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SKEW = 300
TTL = 7200


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'flowyard.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def auth(engine: Engine, tmp_path: Path) -> AuthService:
    settings = load_settings(data_dir=tmp_path, signature_max_skew_seconds=SKEW, token_ttl_seconds=TTL)
    return AuthService(make_session_factory(engine), settings, rng=random.Random(99))


@pytest.fixture
def identity(engine: Engine) -> IdentityService:
    return IdentityService(make_session_factory(engine), rng=random.Random(7))


@pytest.fixture
def app(identity: IdentityService) -> Application:
    org = identity.create_org("A", START)
    return identity.create_app(org.id, "etl", START)


def get(auth: AuthService, app: Application, now: datetime, timestamp: datetime | None = None) -> TokenGrant:
    timestamp_ms = ms(timestamp or now)
    return auth.get_token(
        app.access_key, token_encryption(app.access_key, timestamp_ms, app.secret_key), timestamp_ms, now
    )


def token_error(code: int, message: str) -> pytest.RaisesExc[TokenServiceError]:
    return pytest.raises(TokenServiceError, match=f"^{message}$", check=lambda exc: exc.code == code)


def auth_error(message: str) -> pytest.RaisesExc[AuthError]:
    return pytest.raises(AuthError, match=f"^{message}$")


def row_count(engine: Engine, table: type[models.Base]) -> int:
    with transaction(make_session_factory(engine)) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


# --- token/get ---------------------------------------------------------------------


def test_get_issues_a_token(auth: AuthService, app: Application, clock: FakeClock) -> None:
    grant = get(auth, app, clock.now())
    assert grant.expire_seconds == TTL
    assert len(grant.access_token) >= 32


def test_get_again_returns_the_same_token_with_the_time_left(
    auth: AuthService, app: Application, clock: FakeClock
) -> None:
    first = get(auth, app, clock.now())
    clock.advance(timedelta(seconds=100, milliseconds=400))
    again = get(auth, app, clock.now())
    assert again == TokenGrant(first.access_token, TTL - 101)


def test_get_after_expiry_issues_a_new_token(auth: AuthService, app: Application, clock: FakeClock) -> None:
    first = get(auth, app, clock.now())
    clock.advance(timedelta(seconds=TTL))
    second = get(auth, app, clock.now())
    assert second.access_token != first.access_token
    assert second.expire_seconds == TTL


def test_get_with_a_numeric_encryption_in_upper_case(auth: AuthService, app: Application) -> None:
    timestamp_ms = ms(START)
    encryption = token_encryption(app.access_key, timestamp_ms, app.secret_key).upper()
    assert auth.get_token(app.access_key, encryption, timestamp_ms, START).expire_seconds == TTL


def test_replayed_encryption_is_1001(auth: AuthService, app: Application, clock: FakeClock) -> None:
    get(auth, app, clock.now())
    clock.advance(timedelta(seconds=5))
    with token_error(
        1001, "duplicate encryption: this appKey and timestamp were already used; use a new timestamp"
    ):
        get(auth, app, clock.now(), timestamp=START)


def test_unknown_app_key_is_1002(auth: AuthService) -> None:
    timestamp_ms = ms(START)
    with token_error(1002, "appKey does not exist: nope"):
        auth.get_token("nope", token_encryption("nope", timestamp_ms, "s"), timestamp_ms, START)


def wrong_encryptions(app: Application, timestamp_ms: int) -> dict[str, str]:
    good = token_encryption(app.access_key, timestamp_ms, app.secret_key)
    return {
        "wrong secret": token_encryption(app.access_key, timestamp_ms, "wrong secret"),
        "wrong timestamp": token_encryption(app.access_key, timestamp_ms + 1, app.secret_key),
        "one digit off": good[:-1] + ("1" if good[-1] == "0" else "0"),
        "not hex": "z" + good[1:],
        "too short": good[:-1],
    }


@pytest.mark.parametrize("kind", ["wrong secret", "wrong timestamp", "one digit off", "not hex", "too short"])
def test_wrong_encryption_is_1003(auth: AuthService, app: Application, kind: str) -> None:
    timestamp_ms = ms(START)
    bad = wrong_encryptions(app, timestamp_ms)[kind]
    message = r"invalid encryption: expected lowercase hex sha256\(appKey \+ timestamp \+ appSecret\)"
    with token_error(1003, message):
        auth.get_token(app.access_key, bad, timestamp_ms, START)


def test_a_failed_attempt_does_not_burn_the_timestamp(auth: AuthService, app: Application) -> None:
    timestamp_ms = ms(START)
    with pytest.raises(TokenServiceError):
        auth.get_token(app.access_key, "0" * 64, timestamp_ms, START)
    assert get(auth, app, START).expire_seconds == TTL


@pytest.mark.parametrize(
    ("app_key", "encryption", "timestamp_ms", "missing"),
    [
        (None, "e", 1, "appKey"),
        ("", "e", 1, "appKey"),
        ("k", None, 1, "encryption"),
        ("k", "e", None, "timestamp"),
        (None, "", None, "appKey, encryption, timestamp"),
    ],
)
def test_empty_parameters_are_1202(
    auth: AuthService, app_key: str | None, encryption: str | None, timestamp_ms: int | None, missing: str
) -> None:
    with token_error(1202, f"empty parameter: {missing}"):
        auth.get_token(app_key, encryption, timestamp_ms, START)


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(seconds=-(SKEW + 1)), r"301\.000 s behind"),
        (timedelta(seconds=SKEW, milliseconds=1), r"300\.001 s ahead of"),
        (timedelta(days=-20000), r"1728000000\.000 s behind"),
    ],
)
def test_timestamp_outside_the_skew_is_1004(
    auth: AuthService, app: Application, offset: timedelta, text: str
) -> None:
    stamp = ms(START + offset)
    message = f"invalid parameter: timestamp {stamp} is {text} the server time {ms(START)}; the allowed skew is 300 s"
    with token_error(1004, message):
        get(auth, app, START, timestamp=START + offset)


@pytest.mark.parametrize("offset", [timedelta(seconds=-SKEW), timedelta(seconds=SKEW)])
def test_timestamp_at_the_edge_of_the_skew_is_accepted(
    auth: AuthService, app: Application, offset: timedelta
) -> None:
    assert get(auth, app, START, timestamp=START + offset).expire_seconds == TTL


# --- token/refresh -------------------------------------------------------------------


def refresh(auth: AuthService, app: Application, token: str | None, now: datetime) -> TokenGrant:
    timestamp_ms = ms(now)
    encryption = token_encryption(app.access_key, timestamp_ms, app.secret_key)
    return auth.refresh_token(app.access_key, encryption, timestamp_ms, token, now)


def test_refresh_issues_a_new_token_and_revokes_the_old(
    auth: AuthService, app: Application, clock: FakeClock
) -> None:
    old = get(auth, app, clock.now())
    clock.advance(timedelta(minutes=30))
    new = refresh(auth, app, old.access_token, clock.now())
    assert new.access_token != old.access_token
    assert new.expire_seconds == TTL
    clock.advance(timedelta(seconds=1))
    assert get(auth, app, clock.now()) == TokenGrant(new.access_token, TTL - 1)
    with auth_error("Unknown access token: get one from /apim-token-service/v2.0/token/get"):
        verify(auth, app, old.access_token, clock.now())
    assert verify(auth, app, new.access_token, clock.now()) == AppPrincipal(app.access_key, app.org_id)


def test_refresh_of_an_expired_token_is_1203(auth: AuthService, app: Application, clock: FakeClock) -> None:
    old = get(auth, app, clock.now())
    clock.advance(timedelta(seconds=TTL))
    with token_error(1203, "access token expired; get a new one with token/get"):
        refresh(auth, app, old.access_token, clock.now())


def test_refresh_of_an_unknown_token_is_1204(auth: AuthService, app: Application) -> None:
    with token_error(1204, "refresh failed: accessToken is unknown or does not belong to this appKey"):
        refresh(auth, app, "no-such-token", START)


def test_refresh_of_another_apps_token_is_1204(
    auth: AuthService, app: Application, identity: IdentityService, clock: FakeClock
) -> None:
    other = identity.create_app(app.org_id, "other", START)
    theirs = get(auth, other, clock.now())
    clock.advance(timedelta(seconds=1))
    with token_error(1204, "refresh failed: accessToken is unknown or does not belong to this appKey"):
        refresh(auth, app, theirs.access_token, clock.now())


def test_refresh_without_token_is_1202(auth: AuthService, app: Application) -> None:
    with token_error(1202, "empty parameter: accessToken"):
        refresh(auth, app, None, START)


def test_encryption_used_by_get_cannot_refresh(auth: AuthService, app: Application) -> None:
    grant = get(auth, app, START)
    with token_error(
        1001, "duplicate encryption: this appKey and timestamp were already used; use a new timestamp"
    ):
        refresh(auth, app, grant.access_token, START)


# --- verify_request ---------------------------------------------------------------------

QUERY = [("action", "get"), ("userId", "u1"), ("orgId", "o1"), ("maxLength", "")]
BODY = '{"desc": "描述"}'.encode()


def verify(
    auth: AuthService,
    app: Application,
    token: str,
    now: datetime,
    *,
    timestamp: str | None = None,
    body: bytes = BODY,
    signed_body: bytes | None = None,
    signature: str | None = None,
) -> AppPrincipal:
    stamp = timestamp if timestamp is not None else str(ms(now))
    if signature is None:
        signed = body if signed_body is None else signed_body
        signature = request_signature(token, QUERY, signed, stamp, app.secret_key)
    return auth.verify_request(
        access_token=token, signature=signature, timestamp=stamp, query=QUERY, body=body, now=now
    )


@pytest.fixture
def token(auth: AuthService, app: Application) -> str:
    return get(auth, app, START).access_token


def test_a_signed_request_is_accepted(auth: AuthService, app: Application, token: str) -> None:
    assert verify(auth, app, token, START) == AppPrincipal(access_key=app.access_key, org_id=app.org_id)


def test_a_body_that_is_not_utf8_verifies(auth: AuthService, app: Application, token: str) -> None:
    assert verify(auth, app, token, START, body=b"\xff\xfe{}").org_id == app.org_id


@pytest.mark.parametrize(
    ("headers", "missing"),
    [
        ({"access_token": None}, "apim-accesstoken"),
        ({"signature": ""}, "apim-signature"),
        ({"timestamp": None}, "apim-timestamp"),
        (
            {"access_token": None, "signature": None, "timestamp": None},
            "apim-accesstoken, apim-signature, apim-timestamp",
        ),
    ],
)
def test_missing_headers(auth: AuthService, headers: dict[str, str | None], missing: str) -> None:
    given: dict[str, str | None] = {"access_token": "t", "signature": "0" * 64, "timestamp": str(ms(START))}
    given.update(headers)
    with auth_error(f"Missing authentication header: {missing}"):
        auth.verify_request(**given, query=QUERY, body=b"", now=START)


@pytest.mark.parametrize("stamp", ["abc", "-1", "1.5e12", "١٢٣", "9" * 20])
def test_malformed_timestamp(auth: AuthService, app: Application, token: str, stamp: str) -> None:
    with auth_error(f"Invalid apim-timestamp '{stamp}': expected epoch milliseconds"):
        verify(auth, app, token, START, timestamp=stamp)


def test_malformed_signature(auth: AuthService, app: Application, token: str) -> None:
    with auth_error("Invalid apim-signature: expected a SHA-256 digest of 64 hexadecimal digits"):
        verify(auth, app, token, START, signature="not-a-digest")


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(seconds=-301), r"301\.000 s behind"),
        (timedelta(seconds=300, milliseconds=1), r"300\.001 s ahead of"),
    ],
)
def test_stale_timestamp(
    auth: AuthService, app: Application, token: str, offset: timedelta, text: str
) -> None:
    stamp = ms(START + offset)
    message = f"Stale request: apim-timestamp {stamp} is {text} the server time {ms(START)}; the allowed skew is 300 s"
    with auth_error(message):
        verify(auth, app, token, START, timestamp=str(stamp))


def test_unknown_token(auth: AuthService, app: Application) -> None:
    with auth_error("Unknown access token: get one from /apim-token-service/v2.0/token/get"):
        verify(auth, app, "forged-token", START)


def test_expired_token(auth: AuthService, app: Application, token: str, clock: FakeClock) -> None:
    clock.advance(timedelta(seconds=TTL))
    with auth_error("Access token expired at 2024-05-01T14:00:00Z: get a new one from the token service"):
        verify(auth, app, token, clock.now())


def test_token_valid_until_its_last_millisecond(auth: AuthService, app: Application, token: str) -> None:
    assert verify(auth, app, token, START + timedelta(seconds=TTL, milliseconds=-1)).org_id == app.org_id


MISMATCH = (
    r"Signature mismatch: apim-signature is not sha256\(accessToken \+ sorted query parameters"
    r" \+ raw body \+ apim-timestamp \+ secretKey\) for this request"
)


def test_tampered_body(auth: AuthService, app: Application, token: str) -> None:
    with auth_error(MISMATCH):
        verify(auth, app, token, START, body=b'{"desc": "x"}', signed_body=BODY)


def test_signature_with_another_secret(auth: AuthService, app: Application, token: str) -> None:
    stamp = str(ms(START))
    signature = request_signature(token, QUERY, BODY, stamp, "not the secret")
    with auth_error(MISMATCH):
        verify(auth, app, token, START, signature=signature)


def test_timestamp_text_is_signed_as_sent(auth: AuthService, app: Application, token: str) -> None:
    # "0" + digits is the same instant but other characters: the signature must cover the text.
    stamp = "0" + str(ms(START))
    signature = request_signature(token, QUERY, BODY, ms(START), app.secret_key)
    with auth_error(MISMATCH):
        verify(auth, app, token, START, timestamp=stamp, signature=signature)
    assert verify(auth, app, token, START, timestamp=stamp).org_id == app.org_id


def test_replayed_request(auth: AuthService, app: Application, token: str, clock: FakeClock) -> None:
    verify(auth, app, token, clock.now())
    replay = "Replayed request: this apim-signature has already been used"
    clock.advance(timedelta(seconds=10))
    with auth_error(replay):
        verify(auth, app, token, clock.now(), timestamp=str(ms(START)))
    signature = request_signature(token, QUERY, BODY, str(ms(START)), app.secret_key).upper()
    with auth_error(replay):
        verify(auth, app, token, clock.now(), timestamp=str(ms(START)), signature=signature)


def test_rejected_request_is_not_recorded(auth: AuthService, app: Application, token: str) -> None:
    with pytest.raises(AuthError):
        verify(auth, app, token, START, body=b"tampered", signed_body=BODY)
    assert verify(auth, app, token, START).org_id == app.org_id


def test_replay_after_the_window_is_stale_even_once_purged(
    auth: AuthService, app: Application, engine: Engine, clock: FakeClock
) -> None:
    token = get(auth, app, clock.now()).access_token
    verify(auth, app, token, clock.now())
    assert row_count(engine, models.UsedNonce) == 2  # the encryption and the signature
    clock.advance(timedelta(seconds=SKEW, milliseconds=1))
    assert auth.purge_expired(clock.now()) == 2
    assert row_count(engine, models.UsedNonce) == 0
    with pytest.raises(AuthError, match=r"^Stale request: "):
        verify(auth, app, token, clock.now(), timestamp=str(ms(START)))


def test_purge_removes_expired_tokens(auth: AuthService, app: Application, engine: Engine) -> None:
    get(auth, app, START)
    assert auth.purge_expired(START + timedelta(seconds=TTL - 1)) == 2 - 1  # only the nonce
    assert row_count(engine, models.AccessToken) == 1
    assert auth.purge_expired(START + timedelta(seconds=TTL)) == 1
    assert row_count(engine, models.AccessToken) == 0


# --- use_nonce ------------------------------------------------------------------------------


def test_use_nonce_is_single_use_and_keeps_the_outer_transaction(engine: Engine) -> None:
    factory = make_session_factory(engine)
    expires = START + timedelta(minutes=5)
    with transaction(factory) as session:
        assert store.use_nonce(session, "test", "a", expires)
        assert not store.use_nonce(session, "test", "a", expires)
        # The failed insert rolled back only its savepoint: this write still commits.
        assert store.use_nonce(session, "test", "b", expires)
        assert store.use_nonce(session, "other", "a", expires)
    with transaction(factory) as session:
        assert not store.use_nonce(session, "test", "a", expires)
        assert not store.use_nonce(session, "test", "b", expires)
    assert row_count(engine, models.UsedNonce) == 3
