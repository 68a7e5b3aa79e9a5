"""Console sign-in over the real app: passwords, the session cookie, CSRF, throttling, locked users,
and the browser calling the same EnOS handlers as a signed client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from flowyard.api.sessions import COOKIE_NAME
from flowyard.clock import FakeClock
from flowyard.roles.embedded import create_app
from flowyard.settings import Settings
from tests.integration.conftest import EXAMPLES, START, load_example

EXAMPLES_FLOWSPEC = EXAMPLES.parent / "flowspec"

V21 = "/batch-processing-service/v2.1"


@pytest.fixture
def app_and_creds(tmp_path: Path) -> Iterator[tuple[Any, dict[str, Any], FakeClock]]:
    settings = Settings(
        data_dir=tmp_path, timezone="Asia/Shanghai", login_max_failures=3, login_lockout_seconds=60
    )
    clock = FakeClock(START)
    app = create_app(settings, clock=clock)
    creds = json.loads((tmp_path / "credentials.json").read_text())
    yield app, creds, clock


@pytest.fixture
def client(app_and_creds: tuple[Any, dict[str, Any], FakeClock]) -> Iterator[TestClient]:
    with TestClient(app_and_creds[0]) as test_client:
        yield test_client


def sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post("/ui/api/session", json={"username": username, "password": password})


def enos(client: TestClient, method: str, resource: str, action: str, who: dict[str, Any], **kw: Any) -> Any:
    params = {"action": action, "userId": who["user"]["id"], "orgId": who["orgs"][0]["id"]}
    headers = {"x-csrf-token": who["csrfToken"], **kw.pop("headers", {})}
    return client.request(method, f"{V21}/{resource}", params=params, headers=headers, **kw)


def test_bootstrap_writes_a_one_time_password_that_signs_in(client: TestClient, app_and_creds: Any) -> None:
    creds = app_and_creds[1]
    assert len(creds["password"]) >= 16
    answer = sign_in(client, "admin", creds["password"])
    assert answer.status_code == 200
    who = answer.json()
    assert who["user"]["username"] == "admin"
    assert who["orgs"] == [{"id": creds["orgId"], "name": "Default Organization"}]
    cookie = answer.headers["set-cookie"]
    assert f"{COOKIE_NAME}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http
    assert client.get("/ui/api/session").json()["user"]["id"] == creds["userId"]


def test_secure_cookie_behind_an_https_proxy(client: TestClient, app_and_creds: Any) -> None:
    answer = client.post(
        "/ui/api/session",
        json={"username": "admin", "password": app_and_creds[1]["password"]},
        headers={"x-forwarded-proto": "https"},
    )
    assert "Secure" in answer.headers["set-cookie"]


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient) -> None:
    wrong = sign_in(client, "admin", "not-the-password")
    unknown = sign_in(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["msg"] == unknown.json()["msg"] == "Wrong username or password"


def test_throttling_after_failures_then_the_wait_passes(client: TestClient, app_and_creds: Any) -> None:
    _, creds, clock = app_and_creds
    for _ in range(3):
        assert sign_in(client, "admin", "wrong-password").status_code == 401
    throttled = sign_in(client, "admin", creds["password"])  # even the right password waits
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "60"
    clock.advance(timedelta(seconds=61))
    assert sign_in(client, "admin", creds["password"]).status_code == 200


def test_locked_user_is_refused(client: TestClient, app_and_creds: Any) -> None:
    app, creds, _clock = app_and_creds
    app.state.ctx.identity.set_user_locked("admin", True)
    answer = sign_in(client, "admin", creds["password"])
    assert answer.status_code == 403
    assert answer.json()["code"] == 62105


def test_session_calls_enos_handlers_with_csrf(client: TestClient, app_and_creds: Any) -> None:
    who = sign_in(client, "admin", app_and_creds[1]["password"]).json()
    tree = enos(client, "GET", "directories", "listWorkFlowDirs", who)
    assert tree.status_code == 200
    assert tree.json()["code"] == 0
    # Without the CSRF header: refused, nothing done.
    body = {"parentId": tree.json()["data"][0]["key"], "dirName": "x"}
    refused = enos(client, "POST", "directories", "create", who, json=body, headers={"x-csrf-token": "nope"})
    assert refused.status_code == 403
    assert refused.json()["code"] == 403
    missing = client.post(
        f"{V21}/directories",
        params={"action": "create", "userId": who["user"]["id"], "orgId": who["orgs"][0]["id"]},
        json=body,
    )
    assert missing.status_code == 403
    created = enos(client, "POST", "directories", "create", who, json=body)
    assert created.json()["code"] == 0


def test_session_cannot_act_as_another_user_or_org(client: TestClient, app_and_creds: Any) -> None:
    app, creds, clock = app_and_creds
    identity = app.state.ctx.identity
    other_org = identity.create_org("Other", clock.now())
    other = identity.create_user("bob", [other_org.id], clock.now())
    who = sign_in(client, "admin", creds["password"]).json()
    as_bob = client.get(
        f"{V21}/directories",
        params={"action": "listWorkFlowDirs", "userId": other.id, "orgId": other_org.id},
        headers={"x-csrf-token": who["csrfToken"]},
    )
    assert as_bob.json()["code"] == 62103
    other_org_call = client.get(
        f"{V21}/directories",
        params={"action": "listWorkFlowDirs", "userId": who["user"]["id"], "orgId": other_org.id},
        headers={"x-csrf-token": who["csrfToken"]},
    )
    assert other_org_call.json()["code"] == 62101


def test_idle_and_absolute_expiry_and_sign_out(client: TestClient, app_and_creds: Any) -> None:
    _, creds, clock = app_and_creds
    who = sign_in(client, "admin", creds["password"]).json()
    clock.advance(timedelta(seconds=3599))
    assert client.get("/ui/api/session").status_code == 200  # activity renews the idle clock
    clock.advance(timedelta(seconds=3599))
    assert client.get("/ui/api/session").status_code == 200
    clock.advance(timedelta(seconds=3601))
    assert client.get("/ui/api/session").status_code == 401
    assert enos(client, "GET", "directories", "listWorkFlowDirs", who).status_code == 401

    who = sign_in(client, "admin", creds["password"]).json()
    for _ in range(13):  # active all the time, still ends 12 h after sign-in
        clock.advance(timedelta(minutes=59))
        client.get("/ui/api/session")
    assert client.get("/ui/api/session").status_code == 401

    who = sign_in(client, "admin", creds["password"]).json()
    assert client.delete("/ui/api/session").status_code == 403  # sign-out needs the CSRF token too
    assert client.delete("/ui/api/session", headers={"x-csrf-token": who["csrfToken"]}).status_code == 200
    assert client.get("/ui/api/session").status_code == 401


def test_signed_clients_are_unchanged_by_a_cookie(client: TestClient) -> None:
    # An apim header means the signature path, cookie or not: a bad signature is still 401.
    client.cookies.set(COOKIE_NAME, "whatever")
    answer = client.get(
        f"{V21}/directories",
        params={"action": "listWorkFlowDirs", "userId": "u1", "orgId": "o1"},
        headers={"apim-accesstoken": "bad", "apim-signature": "x", "apim-timestamp": "1"},
    )
    assert answer.status_code == 401


def test_save_flow_creates_and_edits_tasks(client: TestClient, app_and_creds: Any) -> None:
    who = sign_in(client, "admin", app_and_creds[1]["password"]).json()
    root = enos(client, "GET", "directories", "listWorkFlowDirs", who).json()["data"][0]["key"]
    flow_json = load_example("seed_001_export_flow_response.json")["data"]
    imported = enos(
        client, "POST", "flows", "import", who, json={"flowName": "f1", "dirId": root, "flowJson": flow_json}
    ).json()
    flow_id = imported["data"]["flowId"]
    detail = client.get(
        f"{V21}/flows",
        params={
            "action": "get",
            "userId": who["user"]["id"],
            "orgId": who["orgs"][0]["id"],
            "flowId": flow_id,
        },
        headers={"x-csrf-token": who["csrfToken"]},
    ).json()["data"]
    graph = json.loads(detail["graph"])
    old = graph["tasks"][0]
    new_task = {**flow_json["tasks"][0], "name": "second", "cmd": "echo two"}
    edited = {**flow_json["tasks"][0], "cmd": "echo edited"}
    body = {
        "id": flow_id,
        "type": 1,
        "name": "f1",
        "freq": detail["freq"],
        "cycle": "D",
        "alertMode": 0,
        "doAs": "",
        "owners": detail["owner"],
        "visitors": detail["visitor"],
        "active": 0,
        "tasks": [
            {**old, "x": 0.5, "y": 0.25, "task": edited},
            {"nodeId": "new_1", "taskName": "second", "x": 0.1, "y": 0.2, "task": new_task},
        ],
        "flows": [],
        "relations": [{"source": old["nodeId"], "target": "new_1", "rerun": True, "cycleGap": "D0"}],
    }
    saved = enos(client, "POST", "flows", "save", who, json=body).json()
    assert saved["code"] == 0, saved
    exported = client.get(
        f"{V21}/flows",
        params={
            "action": "export",
            "userId": who["user"]["id"],
            "orgId": who["orgs"][0]["id"],
            "flowId": flow_id,
        },
        headers={"x-csrf-token": who["csrfToken"]},
    ).json()["data"]
    assert [t["cmd"] for t in exported["tasks"]] == ["echo edited", "echo two"]
    assert exported["relations"][0]["sourceTaskName"] == "tass"
    assert exported["relations"][0]["targetTaskName"] == "second"

    # A bad field of a new task is refused with its path in the message.
    bad = {**new_task, "name": "third", "timeout": "soon"}
    body["tasks"].append({"nodeId": "new_2", "taskName": "third", "task": bad})
    refused = enos(client, "POST", "flows", "save", who, json=body).json()
    assert refused["code"] == 62102
    assert "timeout" in refused["msg"]


def dataworks(
    client: TestClient, who: dict[str, Any], action: str, org: str | None = None, **params: str
) -> Any:
    return client.post(
        f"/?Action={action}&Version=2024-05-18",
        data=params,
        headers={"x-csrf-token": who["csrfToken"], "x-flowyard-org": org or who["orgs"][0]["id"]},
    )


def test_dataworks_face_serves_the_console_within_its_rights(client: TestClient, app_and_creds: Any) -> None:
    creds = app_and_creds[1]
    who = sign_in(client, "admin", creds["password"]).json()
    spec = (EXAMPLES_FLOWSPEC / "importworkflowdefinition_api_example.json").read_text()
    job = dataworks(client, who, "ImportWorkflowDefinition", Spec=spec).json()["AsyncJob"]
    assert job["Status"] == "Running"
    status = dataworks(client, who, "GetJobStatus", JobId=job["Id"])
    assert status.status_code == 200
    assert status.json()["JobStatus"]["JobId"] == job["Id"]
    # Only the console's three actions; another organisation is refused.
    assert dataworks(client, who, "ListWorkflowDefinitions").status_code == 403
    assert dataworks(client, who, "GetJobStatus", org="o-other", JobId=job["Id"]).status_code == 403
    # Without the CSRF token nothing happens.
    refused = client.post(
        "/?Action=ImportWorkflowDefinition&Version=2024-05-18",
        data={"Spec": spec},
        headers={"x-flowyard-org": who["orgs"][0]["id"]},
    )
    assert refused.status_code in (401, 403)


def test_cron_preview_for_signed_in_browsers(client: TestClient, app_and_creds: Any) -> None:
    assert client.get("/ui/api/cron", params={"expr": "0 0 2 * * ? *"}).status_code == 401
    who = sign_in(client, "admin", app_and_creds[1]["password"]).json()
    assert client.get("/ui/api/cron", params={"expr": "0 0 2 * * ? *"}).status_code == 403  # no CSRF token
    headers = {"x-csrf-token": who["csrfToken"]}
    answer = client.get("/ui/api/cron", params={"expr": "0 0 2 * * ? *"}, headers=headers).json()
    # The fake clock is 2026-11-22 08:00 UTC; the server's zone is Asia/Shanghai (UTC+8).
    assert answer["zone"] == "Asia/Shanghai"
    first = int(datetime(2026, 11, 22, 18, 0, tzinfo=UTC).timestamp() * 1000)  # 02:00 on the 23rd there
    assert answer["fireTimes"] == [first, first + 86_400_000, first + 2 * 86_400_000]
    berlin = client.get(
        "/ui/api/cron", params={"expr": "0 0 2 * * ? *", "zone": "Europe/Berlin", "count": 1}, headers=headers
    ).json()
    assert berlin["zone"] == "Europe/Berlin"
    assert len(berlin["fireTimes"]) == 1
    bad = client.get("/ui/api/cron", params={"expr": "0 0 25 * * ? *"}, headers=headers).json()
    assert bad["code"] == 62102
    assert bad["field"] == "freq"
    assert "hour value 25" in bad["msg"]


def test_console_is_served_with_its_headers(client: TestClient) -> None:
    page = client.get("/ui/flows/1001/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    policy = page.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'content="{nonce}"' in page.text  # the page's nonce, for CodeMirror's <style>
    assert "script-src 'self';" in policy
    assert client.get("/ui/flows").headers["content-security-policy"] != policy  # fresh per load
    assert client.get("/assets/nothing.js").status_code == 404
