"""Issue 11 item 10: schemathesis generates requests from the published OpenAPI document and sends them
to a ``--no-auth`` server in-process: no HTTP 5xx, no 62109, and most requests reach the handlers.

The acting user, the organisation and the ids of existing objects are filled in with real values,
as a client that read the document would, so that generated requests get past the id checks and
exercise the handlers. Bounded: a few dozen examples per operation, well under a minute.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from flowyard.api.app import OPERATIONS
from flowyard.api.openapi import openapi_document
from flowyard.clock import FakeClock
from flowyard.roles.embedded import create_app
from flowyard.settings import Settings
from tests.integration.conftest import START, Actor, Api, simple_flow

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tmp = Path(tmp_path_factory.mktemp("schemathesis"))
    settings_ = Settings(data_dir=tmp, auth=False, scheduler=False, timezone="Asia/Shanghai")
    clock = FakeClock(START)
    app = create_app(settings_, clock=clock)
    creds = json.loads((tmp / "credentials.json").read_text())
    with TestClient(app) as client:
        api = Api(client, Actor(creds["userId"], creds["orgId"], creds["username"]))
        flow_id = api.import_flow(simple_flow("a", "b", relations=(("a", "b"),)), "fuzzed")
        clock.advance(timedelta(minutes=5))
        trigger_ms = int(clock.now().timestamp() * 1000)
        instance = api.ok("POST", "flows", "trigger", {"flowId": flow_id, "triggerTime": trigger_ms})
        instance_id = instance["flowInstanceId"]
        record = app.state.ctx.runs.get(api_caller(creds), instance_id)
        real = {
            "userId": creds["userId"],
            "orgId": creds["orgId"],
            "flowId": str(flow_id),
            "flowInstId": instance_id,
            "taskInstId": record.tasks[0].id,
            "ProjectId": str(creds["projectId"]),
        }
        yield client, real


def api_caller(creds: dict[str, Any]) -> Any:
    from flowyard.domain.permissions import Caller

    return Caller(user_id=creds["userId"], username=creds["username"], org_id=creds["orgId"])


def test_the_published_document_is_the_generated_one(server: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = server
    assert client.get("/openapi.json").json() == json.loads(json.dumps(openapi_document(OPERATIONS)))


def test_generated_requests_never_fail_inside(server: tuple[TestClient, dict[str, str]]) -> None:
    client, real = server
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    outcomes: Counter[str] = Counter()

    def send(case: Any) -> None:
        query = dict(case.query or {})
        for name in ("userId", "orgId", "flowId", "flowInstId", "taskInstId"):
            if name in query:
                query[name] = real[name]
        body = case.body
        if isinstance(body, dict):
            for name in ("flowId", "flowInstId"):
                if name in body:
                    body = {**body, name: real[name]}
        kwargs: dict[str, Any] = {"params": query}
        if case.path == "/":
            form = dict(body) if isinstance(body, dict) else {}
            form["ProjectId"] = real["ProjectId"]
            kwargs["data"] = {k: str(v) for k, v in form.items()}
        elif body is not None and not isinstance(body, schemathesis.core.NotSet):
            kwargs["content"] = json.dumps(body).encode()
            kwargs["headers"] = {"content-type": "application/json"}
        response = client.request(case.method, case.formatted_path, **kwargs)
        assert response.status_code < 500, (case.method, case.formatted_path, kwargs, response.text)
        if response.headers.get("content-type", "").startswith("application/json"):
            answer = response.json()
            code = answer.get("code", answer.get("status")) if isinstance(answer, dict) else None
            assert code != 62109, (case.method, case.formatted_path, kwargs, answer)
            if case.formatted_path.startswith(("/dataflow", "/batch")):
                missing = code in (62101, 62102) and "is required" in str(answer.get("msg"))
                outcomes["stopped" if code == 62101 or missing else "reached"] += 1

    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            send(case)

        run()

    assert outcomes["reached"] > 2 * outcomes["stopped"], outcomes
