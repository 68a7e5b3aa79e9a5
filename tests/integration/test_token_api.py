"""The token endpoints and ``authenticate`` over HTTP, in process (Starlette TestClient)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from flowyard.api.auth import authenticate
from flowyard.api.tokens import token_routes
from flowyard.clock import Clock, FakeClock
from flowyard.domain.identity import Application
from flowyard.domain.signing import request_signature, token_encryption
from flowyard.errors import AuthError
from flowyard.services.auth import AuthService
from flowyard.services.identity import IdentityService
from flowyard.settings import load_settings
from flowyard.store.db import make_engine, make_session_factory
from flowyard.store.migrate import upgrade

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GET = "/apim-token-service/v2.0/token/get"
REFRESH = "/apim-token-service/v2.0/token/refresh"


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def build_app(auth: AuthService, clock: Clock) -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            principal = await authenticate(request, body, auth, clock)
        except AuthError as exc:
            return JSONResponse({"code": exc.code, "msg": exc.message}, status_code=401)
        return JSONResponse({"accessKey": principal.access_key, "orgId": principal.org_id})

    return Starlette(routes=[*token_routes(auth, clock), Route("/whoami", whoami, methods=["GET", "POST"])])


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
    return AuthService(make_session_factory(engine), load_settings(data_dir=tmp_path), rng=random.Random(3))


@pytest.fixture
def app(engine: Engine) -> Application:
    identity = IdentityService(make_session_factory(engine), rng=random.Random(4))
    return identity.create_app(identity.create_org("A", START).id, "etl", START)


@pytest.fixture
def client(auth: AuthService, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(build_app(auth, clock)) as client:
        yield client


def token_body(app: Application, when: datetime, **extra: Any) -> dict[str, Any]:
    stamp = ms(when)
    return {
        "appKey": app.access_key,
        "encryption": token_encryption(app.access_key, stamp, app.secret_key),
    } | {
        "timestamp": stamp,
        **extra,
    }


def post(client: TestClient, path: str, content: bytes) -> dict[str, Any]:
    response = client.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def failure(code: int, message: str) -> dict[str, Any]:
    return {"status": code, "msg": message, "business": "apim-token-service", "data": None}


def get_token(client: TestClient, app: Application, when: datetime = START) -> str:
    answer = post(client, GET, json.dumps(token_body(app, when)).encode())
    assert answer["status"] == 0, answer
    token: str = answer["data"]["accessToken"]
    return token


# --- token/get and token/refresh ------------------------------------------------------


def test_get_answers_the_token_envelope(client: TestClient, app: Application) -> None:
    answer = post(client, GET, json.dumps(token_body(app, START)).encode())
    token = answer["data"]["accessToken"]
    assert answer == {
        "status": 0,
        "msg": "SUCCESS",
        "business": "apim-token-service",
        "data": {"accessToken": token, "expire": 7200},
    }


def test_get_accepts_a_numeric_string_timestamp(
    client: TestClient, app: Application, clock: FakeClock
) -> None:
    first = get_token(client, app)
    clock.advance(timedelta(seconds=60))
    body = token_body(app, clock.now())
    body["timestamp"] = str(body["timestamp"])
    answer = post(client, GET, json.dumps(body).encode())
    assert answer["data"] == {"accessToken": first, "expire": 7140}


def test_refresh(client: TestClient, app: Application, clock: FakeClock) -> None:
    old = get_token(client, app)
    clock.advance(timedelta(seconds=1))
    answer = post(client, REFRESH, json.dumps(token_body(app, clock.now(), accessToken=old)).encode())
    assert answer["status"] == 0
    assert answer["data"]["accessToken"] != old
    assert answer["data"]["expire"] == 7200


def test_refresh_of_unknown_token(client: TestClient, app: Application) -> None:
    answer = post(client, REFRESH, json.dumps(token_body(app, START, accessToken="nope")).encode())
    assert answer == failure(1204, "refresh failed: accessToken is unknown or does not belong to this appKey")


def test_service_errors_are_envelopes(client: TestClient, app: Application) -> None:
    body = token_body(app, START, appKey="nope")
    assert post(client, GET, json.dumps(body).encode()) == failure(1002, "appKey does not exist: nope")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", failure(1004, "invalid parameter: request body is not valid JSON")),
        (b"\xff\xfe\xfa", failure(1004, "invalid parameter: request body is not valid JSON")),
        (b"", failure(1004, "invalid parameter: request body is not valid JSON")),
        (b"[1, 2]", failure(1004, "invalid parameter: request body must be a JSON object")),
        (
            b'{"appKey": 5, "encryption": "e", "timestamp": 1}',
            failure(1004, "invalid parameter: appKey must be a string"),
        ),
        (
            b'{"appKey": "k", "encryption": ["e"], "timestamp": 1}',
            failure(1004, "invalid parameter: encryption must be a string"),
        ),
        (
            b'{"appKey": "k", "encryption": "e", "timestamp": "soon"}',
            failure(1004, "invalid parameter: timestamp must be epoch milliseconds"),
        ),
        (
            b'{"appKey": "k", "encryption": "e", "timestamp": true}',
            failure(1004, "invalid parameter: timestamp must be epoch milliseconds"),
        ),
        (
            b'{"appKey": "k", "encryption": "e", "timestamp": 1.5}',
            failure(1004, "invalid parameter: timestamp must be epoch milliseconds"),
        ),
        (
            b'{"appKey": "k", "encryption": "e", "timestamp": "' + b"9" * 5000 + b'"}',
            failure(1004, "invalid parameter: timestamp must be epoch milliseconds"),
        ),
        (b"{}", failure(1202, "empty parameter: appKey, encryption, timestamp")),
        (
            b'{"appKey": "k", "encryption": "", "timestamp": ""}',
            failure(1202, "empty parameter: encryption, timestamp"),
        ),
    ],
)
def test_bad_requests_are_1004_or_1202(client: TestClient, content: bytes, expected: dict[str, Any]) -> None:
    assert post(client, GET, content) == expected


def test_refresh_without_access_token_is_1202(client: TestClient, app: Application) -> None:
    assert post(client, REFRESH, json.dumps(token_body(app, START)).encode()) == failure(
        1202, "empty parameter: accessToken"
    )


def test_unexpected_failure_is_1005_not_500(
    client: TestClient, auth: AuthService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(auth, "get_token", broken)
    answer = post(client, GET, b'{"appKey": "k", "encryption": "e", "timestamp": 1}')
    assert answer == failure(1005, "internal error")


# --- authenticate -----------------------------------------------------------------------


def signed_headers(
    token: str, app: Application, query: list[tuple[str, str]], body: bytes, stamp: int
) -> dict[str, str]:
    return {
        "apim-accesstoken": token,
        "apim-signature": request_signature(token, query, body, stamp, app.secret_key),
        "apim-timestamp": str(stamp),
    }


def test_signed_get_with_blank_and_encoded_values(client: TestClient, app: Application) -> None:
    token = get_token(client, app)
    url = "/whoami?userId=u1&action=getLog&maxLength=&name=a%20b%26c&desc=%E6%8F%8F%E8%BF%B0&q=x+y&orgId=o1"
    # What the signer hashes: decoded values, blank ones kept, "+" as a space.
    decoded = [
        ("userId", "u1"),
        ("action", "getLog"),
        ("maxLength", ""),
        ("name", "a b&c"),
        ("desc", "描述"),
        ("q", "x y"),
        ("orgId", "o1"),
    ]
    response = client.get(url, headers=signed_headers(token, app, decoded, b"", ms(START)))
    assert response.status_code == 200, response.text
    assert response.json() == {"accessKey": app.access_key, "orgId": app.org_id}


def test_signed_post_covers_the_raw_body(client: TestClient, app: Application) -> None:
    token = get_token(client, app)
    body = '{\n  "desc": "描述"\n}'.encode() + b"\xff"  # not even valid UTF-8
    query = [("action", "search"), ("userId", "u1"), ("orgId", "o1")]
    headers = signed_headers(token, app, query, body, ms(START))
    response = client.post("/whoami?action=search&userId=u1&orgId=o1", content=body, headers=headers)
    assert response.status_code == 200, response.text

    tampered = client.post("/whoami?action=search&userId=u1&orgId=o2", content=body, headers=headers)
    assert tampered.status_code == 401
    assert tampered.json()["msg"].startswith("Signature mismatch: ")


def test_replayed_http_request_is_refused(client: TestClient, app: Application) -> None:
    token = get_token(client, app)
    query = [("action", "get")]
    headers = signed_headers(token, app, query, b"", ms(START))
    assert client.get("/whoami?action=get", headers=headers).status_code == 200
    again = client.get("/whoami?action=get", headers=headers)
    assert again.status_code == 401
    assert again.json() == {"code": 401, "msg": "Replayed request: this apim-signature has already been used"}


def test_unsigned_request_is_refused(client: TestClient) -> None:
    response = client.get("/whoami?action=get")
    assert response.status_code == 401
    assert response.json()["msg"] == (
        "Missing authentication header: apim-accesstoken, apim-signature, apim-timestamp"
    )


def test_stale_http_request_is_refused(client: TestClient, app: Application, clock: FakeClock) -> None:
    token = get_token(client, app)
    clock.advance(timedelta(minutes=6))
    response = client.get(
        "/whoami?action=get", headers=signed_headers(token, app, [("action", "get")], b"", ms(START))
    )
    assert response.status_code == 401
    assert response.json()["msg"].startswith(f"Stale request: apim-timestamp {ms(START)} is 360.000 s behind")
