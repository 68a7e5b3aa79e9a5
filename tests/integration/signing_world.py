"""A signed, in-process server and a client that signs exactly as Envision's published samples do.

The vendor samples (Java and Python batch-processing samples, the Go APIM client) put a
one-second-resolution timestamp (``seconds * 1000``) into the signature, which covers neither the
path nor the method. :class:`VendorClient` does the same, so tests see what those clients see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.testclient import TestClient

from flowyard.clock import FakeClock
from flowyard.credentials import Credentials
from flowyard.domain.signing import request_signature, token_encryption
from flowyard.roles.embedded import create_app
from flowyard.settings import Settings
from tests.integration.conftest import PREFIX

START = datetime(2026, 11, 22, 8, 0, 0, 250_000, tzinfo=UTC)


@dataclass
class VendorClient:
    client: TestClient
    clock: FakeClock
    credentials: Credentials
    token: str = ""

    def stamp(self) -> int:
        return int(self.clock.now().timestamp()) * 1000  # seconds * 1000, as the vendor clients do

    def get_token(self) -> str:
        assert self.credentials.access_key and self.credentials.secret_key
        stamp = self.stamp()
        body = {
            "appKey": self.credentials.access_key,
            "encryption": token_encryption(self.credentials.access_key, stamp, self.credentials.secret_key),
            "timestamp": stamp,
        }
        answer = self.client.post("/apim-token-service/v2.0/token/get", json=body).json()
        assert answer["status"] == 0, answer
        self.token = str(answer["data"]["accessToken"])
        return self.token

    def request(
        self,
        method: str,
        resource: str,
        action: str,
        body: Any = None,
        *,
        version: str = "v2.1",
        **query: Any,
    ) -> tuple[int, dict[str, Any]]:
        if not self.token:
            self.get_token()
        assert self.credentials.secret_key
        params = [
            ("action", action),
            ("userId", self.credentials.user_id),
            ("orgId", self.credentials.org_id),
            *((k, str(v)) for k, v in query.items()),
        ]
        raw = b"" if body is None else json.dumps(body).encode()
        stamp = self.stamp()
        headers = {
            "apim-accesstoken": self.token,
            "apim-signature": request_signature(self.token, params, raw, stamp, self.credentials.secret_key),
            "apim-timestamp": str(stamp),
            "content-type": "application/json;charset=UTF-8",
        }
        response = self.client.request(
            method, f"{PREFIX[version]}/{resource}?{urlencode(params)}", content=raw, headers=headers
        )
        return response.status_code, response.json()

    def ok(self, method: str, resource: str, action: str, body: Any = None, **kw: Any) -> Any:
        status, answer = self.request(method, resource, action, body, **kw)
        code = answer.get("code", answer.get("status"))
        assert status == 200 and code == 0, answer
        return answer["data"]


def signed_client(tmp_path: Path, database_url: str | None) -> Iterator[VendorClient]:
    settings = Settings(
        data_dir=tmp_path, auth=True, scheduler=False, database_url=database_url, timezone="Asia/Shanghai"
    )
    clock = FakeClock(START)
    app = create_app(settings, clock=clock)
    credentials = Credentials.load(settings.credentials_path)
    with TestClient(app) as client:
        yield VendorClient(client, clock, credentials)
