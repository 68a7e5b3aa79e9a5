"""Issue 11 item 5: the real ``enos-poseidon`` 0.2.0 SDK from PyPI against Flowyard.

Poseidon derives a PIN from ``accessKey.split("-")[1]`` and ``secretKey.split("-")[1]`` read as
hex and sends only an ``apim-accesstoken`` that it RSA-encrypts for Envision's gateway. So:
with keys in EnOS's shape its calls work against a ``--no-auth`` server, and a signed server
answers its token with a 401 that says what to do.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from poseidon import poseidon
from starlette.testclient import TestClient

from flowyard.credentials import Credentials
from flowyard.domain.identity import Application
from flowyard.domain.signing import request_signature, token_encryption
from flowyard.roles.embedded import create_app
from flowyard.services.auth import LEGACY_TOKEN_MESSAGE
from flowyard.settings import Settings
from flowyard.store import identity as identity_store
from flowyard.store.db import transaction
from tests.integration.conftest import PREFIX, simple_flow


@pytest.fixture
def no_auth_server(tmp_path: Path, database_url: str) -> Iterator[tuple[str, Credentials]]:
    """A real ``--no-auth`` server on a free port: poseidon speaks urllib, not ASGI."""
    settings = Settings(data_dir=tmp_path, auth=False, scheduler=False, database_url=database_url)
    app = create_app(settings)
    credentials = Credentials.load(settings.credentials_path)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", credentials
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def url(base: str, credentials: Credentials, resource: str, action: str, **query: Any) -> str:
    params = {"action": action, "userId": credentials.user_id, "orgId": credentials.org_id, **query}
    return f"{base}{PREFIX['v2.1']}/{resource}?{urlencode(params)}"


def test_poseidon_calls_succeed_against_a_no_auth_server(no_auth_server: tuple[str, Credentials]) -> None:
    base, creds = no_auth_server
    assert creds.access_key and creds.secret_key
    key, secret = creds.access_key, creds.secret_key
    tree = poseidon.urlopen(key, secret, url(base, creds, "directories", "listWorkFlowDirs"))
    assert tree["code"] == 0, tree
    body = {"flowName": "from_poseidon", "desc": "", "dirId": tree["data"][0]["key"]}
    body["flowJson"] = simple_flow("a", "b", relations=(("a", "b"),))
    created = poseidon.urlopen(key, secret, url(base, creds, "flows", "import"), body)
    assert created["code"] == 0, created
    flow_id = created["data"]["flowId"]
    exported = poseidon.urlopen(key, secret, url(base, creds, "flows", "export", flowId=flow_id))
    assert exported["code"] == 0 and [t["name"] for t in exported["data"]["tasks"]] == ["a", "b"]


def poseidon_token(key: str, secret: str) -> str:
    """The exact ``apim-accesstoken`` poseidon 0.2.0 sends, built by its own (module-private) code."""
    module = vars(poseidon)
    pin = module["__pin"](key, secret)
    short, long = module["__token"](pin, module["s_time"], module["l_time"])
    token: str = module["__accesstoken"](pin, key, secret, short, long)
    return token


def test_a_signed_server_explains_the_legacy_token(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path, auth=True, scheduler=False, database_url=database_url)
    app = create_app(settings)
    creds = Credentials.load(settings.credentials_path)
    assert creds.access_key and creds.secret_key
    with TestClient(app) as client:
        headers = {
            "apim-accesstoken": poseidon_token(creds.access_key, creds.secret_key),
            "Content-Type": "application/json;charset=utf-8",
            "User-Agent": "Python_enos_api",
        }
        response = client.get(url("", creds, "directories", "listWorkFlowDirs"), headers=headers)
    assert response.status_code == 401
    answer = response.json()
    assert answer["code"] == 401 and answer["msg"] == LEGACY_TOKEN_MESSAGE
    assert "--no-auth" in answer["msg"] and "spec 2.5" in answer["msg"]


def test_keys_minted_before_stay_valid(tmp_path: Path, database_url: str) -> None:
    """An application whose secret has the old url-safe shape still gets tokens and signs calls."""
    settings = Settings(data_dir=tmp_path, auth=True, scheduler=False, database_url=database_url)
    app = create_app(settings)
    creds = Credentials.load(settings.credentials_path)
    legacy = Application(
        access_key="5b0ec5f6-7d3a-4c1e-9a0b-2f9c8d7e6a51",
        secret_key="Q2x-abc_DEF" + "z" * 32,
        org_id=creds.org_id,
        name="legacy",
    )
    sessions: Callable[..., Any] = app.state.ctx.identity._sessions
    with transaction(sessions) as session:
        identity_store.insert_app(session, legacy, datetime.now(UTC))
    with TestClient(app) as client:
        stamp = int(time.time()) * 1000
        grant = client.post(
            "/apim-token-service/v2.0/token/get",
            json={
                "appKey": legacy.access_key,
                "encryption": token_encryption(legacy.access_key, stamp, legacy.secret_key),
                "timestamp": stamp,
            },
        ).json()
        token = grant["data"]["accessToken"]
        query = [("action", "getTimeZone"), ("userId", creds.user_id), ("orgId", creds.org_id)]
        headers = {
            "apim-accesstoken": token,
            "apim-signature": request_signature(token, query, b"", stamp, legacy.secret_key),
            "apim-timestamp": str(stamp),
        }
        response = client.get(f"{PREFIX['v2.1']}/time?{urlencode(query)}", headers=headers)
    assert response.status_code == 200 and response.json()["code"] == 0, response.text


def test_new_keys_have_the_enos_shape(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=True, scheduler=False)
    create_app(settings).state.engine.dispose()
    creds = json.loads(settings.credentials_path.read_text())
    for value in (creds["accessKey"], creds["secretKey"]):
        parts = value.split("-")
        assert [len(p) for p in parts] == [8, 4, 4, 4, 12]
        assert all(int(p, 16) >= 0 for p in parts)
