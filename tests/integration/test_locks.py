"""Issue 11 item 9: a locked flow cannot be changed through the DataWorks face either, and a locked
user cannot create directories (62105, as for every change)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from flowyard.clock import FakeClock
from flowyard.credentials import Credentials
from flowyard.roles.embedded import create_app
from tests.integration.conftest import World, make_world
from tests.integration.test_dataworks_api import SHELL_SPEC, START, DataWorks, dw_settings


@pytest.fixture
def dw(tmp_path: Path, database_url: str) -> Iterator[DataWorks]:
    clock = FakeClock(START)
    settings = dw_settings(tmp_path, database_url)
    app = create_app(settings, clock=clock)
    credentials = Credentials.load(settings.credentials_path)
    with TestClient(app) as client:
        yield DataWorks(client, clock, credentials)


def locked_workflow(dw: DataWorks) -> int:
    project = dw.credentials.project_id
    job = dw.ok("ImportWorkflowDefinition", ProjectId=project, Spec=json.dumps(SHELL_SPEC))["AsyncJob"]
    assert dw.wait_job(job["Id"])["Status"] == "Success"
    got = dw.ok("GetWorkflowDefinition", ProjectId=project, Id="700001")["WorkflowDefinition"]
    flow_id = int(got["WorkflowId"])
    dw.client.app.state.ctx.flows.set_locked(flow_id, True)  # type: ignore[attr-defined]
    return flow_id


def test_import_over_a_locked_flow_fails_with_the_reason(dw: DataWorks) -> None:
    flow_id = locked_workflow(dw)
    changed = json.loads(json.dumps(SHELL_SPEC))
    changed["spec"]["workflows"][0]["nodes"][0]["script"]["content"] = "echo changed"
    project = dw.credentials.project_id
    job = dw.ok("ImportWorkflowDefinition", ProjectId=project, Spec=json.dumps(changed))["AsyncJob"]
    status = dw.wait_job(job["Id"])
    assert status["Status"] == "Fail", status
    assert status["Error"].startswith(f"Forbidden: workflow {flow_id} is locked")
    spec = dw.ok("GetWorkflowDefinition", ProjectId=project, Id="700001")["WorkflowDefinition"]["Spec"]
    assert "echo changed" not in spec and "echo hello" in spec


def test_delete_of_a_locked_flow_is_forbidden(dw: DataWorks) -> None:
    flow_id = locked_workflow(dw)
    project = dw.credentials.project_id
    status, body = dw.call("DeleteWorkflowDefinition", ProjectId=project, Id="700001")
    assert status == 403 and body["Code"] == "Forbidden.Access", body
    assert body["Message"].startswith(f"Forbidden: workflow {flow_id} is locked")
    assert dw.ok("GetWorkflowDefinition", ProjectId=project, Id="700001")["WorkflowDefinition"]
    dw.client.app.state.ctx.flows.set_locked(flow_id, False)  # type: ignore[attr-defined]
    assert dw.ok("DeleteWorkflowDefinition", ProjectId=project, Id="700001")["Success"] is True


@pytest.fixture
def db_world(tmp_path: Path, database_url: str) -> Iterator[World]:
    yield from make_world(tmp_path, database_url)


def test_a_locked_user_cannot_create_directories(db_world: World) -> None:
    api = db_world.api
    root = api.root_dir()
    db_world.app.state.ctx.identity.set_user_locked(db_world.admin.user_id, True)
    for version, field in (("v2.1", "code"), ("v2.0", "status")):
        answer = api.call(
            "POST", "directories", "create", {"parentId": root, "dirName": "new"}, version=version
        )
        assert (answer[field], answer["msg"]) == (62105, "Your account has been locked")
    assert api.ok("GET", "directories", "listWorkFlowDirs")[0]["children"] == []
