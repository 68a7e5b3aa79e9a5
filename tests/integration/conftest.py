"""In-process API fixtures: the real app over a real database, driven through Starlette's TestClient."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from flowyard.clock import FakeClock
from flowyard.roles.embedded import create_app
from flowyard.settings import Settings

PREFIX = {"v2.0": "/dataflow-batch-service/v2.0", "v2.1": "/batch-processing-service/v2.1"}
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples" / "enos"
START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@dataclass
class Actor:
    user_id: str
    org_id: str
    username: str


class Api:
    """Calls EnOS operations as one actor; returns the decoded envelope."""

    def __init__(self, client: TestClient, actor: Actor) -> None:
        self.client = client
        self.actor = actor

    def as_(self, actor: Actor) -> Api:
        return Api(self.client, actor)

    def call(
        self,
        method: str,
        resource: str,
        action: str,
        body: Any = None,
        *,
        version: str = "v2.1",
        raw: bytes | None = None,
        **query: Any,
    ) -> dict[str, Any]:
        params = {"action": action, "userId": self.actor.user_id, "orgId": self.actor.org_id}
        params.update({k: str(v) for k, v in query.items()})
        content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        response = self.client.request(
            method,
            f"{PREFIX[version]}/{resource}",
            params=params,
            content=content,
            headers={"content-type": "application/json;charset=UTF-8"},
        )
        assert response.status_code in (200, 401, 404, 405, 413), response.text
        result: dict[str, Any] = response.json()
        return result

    def ok(self, method: str, resource: str, action: str, body: Any = None, **kw: Any) -> Any:
        answer = self.call(method, resource, action, body, **kw)
        code = answer.get("code", answer.get("status"))
        assert code == 0, answer
        return answer["data"]

    def root_dir(self) -> str:
        tree = self.ok("GET", "directories", "listWorkFlowDirs")
        key: str = tree[0]["key"]
        return key

    def import_flow(self, flow_json: dict[str, Any], name: str, **kw: Any) -> int:
        body = {"flowName": name, "desc": "", "dirId": self.root_dir(), "flowJson": flow_json}
        data = self.ok("POST", "flows", "import", body, **kw)
        return int(data["flowId"])


@dataclass
class World:
    api: Api
    app: Any
    clock: FakeClock
    admin: Actor

    def new_org_user(self, username: str, org_id: str | None = None) -> Actor:
        identity = self.app.state.ctx.identity
        if org_id is None:
            org_id = identity.create_org(f"org-of-{username}", self.clock.now()).id
        user = identity.create_user(username, [org_id], self.clock.now())
        return Actor(user.id, org_id, username)


def make_world(tmp_path: Path, database_url: str | None = None) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path, auth=False, database_url=database_url, timezone="Asia/Shanghai")
    clock = FakeClock(START)
    app = create_app(settings, clock=clock)
    creds = json.loads((tmp_path / "credentials.json").read_text())
    admin = Actor(creds["userId"], creds["orgId"], creds["username"])
    with TestClient(app) as client:
        yield World(Api(client, admin), app, clock, admin)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


@pytest.fixture
def api(world: World) -> Api:
    return world.api


def load_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return data


def simple_flow(*tasks: str, relations: tuple[tuple[str, str], ...] = (), **extra: Any) -> dict[str, Any]:
    flow: dict[str, Any] = {
        "cycle": "D",
        "cron": "0 0 0 * * ? *",
        "parameters": "[]",
        "type": 0,
        "tasks": [{"name": t, "type": "COMMAND", "cmd": f"echo {t}"} for t in tasks],
        "relations": [{"sourceTaskName": s, "targetTaskName": t, "rerun": True} for s, t in relations],
    }
    flow.update(extra)
    return flow
