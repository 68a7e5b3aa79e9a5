"""The DataWorks RPC face in-process on both backends: signed calls, the async import job, read back,
list (paged), delete, DryRun and IncludeScriptContent."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from flowyard.clock import FakeClock
from flowyard.credentials import Credentials
from flowyard.dataworks.signature import ALGORITHM, canonical_request, sign, string_to_sign
from flowyard.flowspec import normalize, parse, to_workflow
from flowyard.roles.embedded import create_app
from flowyard.settings import Settings

START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples" / "flowspec"
SIGNED = [
    "content-type",
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
]

SHELL_SPEC = {
    "version": "1.1.0",
    "kind": "CycleWorkflow",
    "spec": {
        "workflows": [
            {
                "id": "700001",
                "name": "dw_shell_flow",
                "script": {"path": "dw_shell_flow", "runtime": {"command": "WORKFLOW"}},
                "trigger": {"type": "Scheduler", "cron": "00 30 02 * * ?"},
                "strategy": {"rerunTimes": 2, "rerunInterval": 1500, "timeout": 1},
                "nodes": [
                    {
                        "id": "700002",
                        "name": "hello",
                        "script": {"content": "echo hello", "runtime": {"command": "DIDE_SHELL"}},
                        "outputs": {"nodeOutputs": [{"data": "700002", "artifactType": "NodeOutput"}]},
                    },
                    {
                        "id": "700003",
                        "name": "sql",
                        "script": {"content": "select 1;", "runtime": {"command": "ODPS_SQL"}},
                    },
                ],
                "dependencies": [{"nodeId": "700003", "depends": [{"type": "Normal", "output": "700002"}]}],
            }
        ]
    },
}


@dataclass
class DataWorks:
    client: TestClient
    clock: FakeClock
    credentials: Credentials

    def call(
        self,
        action: str,
        *,
        secret: str | None = None,
        nonce: str | None = None,
        signed_at: datetime | None = None,
        **params: Any,
    ) -> tuple[int, dict[str, Any]]:
        body = urlencode({k: str(v) for k, v in params.items()}).encode()
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "host": "testserver",
            "x-acs-action": action,
            "x-acs-version": "2024-05-18",
            "x-acs-date": (signed_at or self.clock.now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
            "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
        }
        canonical = canonical_request("POST", "/", [], headers, SIGNED, headers["x-acs-content-sha256"])
        key = secret or self.credentials.secret_key or ""
        signature = sign(key, string_to_sign(canonical))
        headers["authorization"] = (
            f"{ALGORITHM} Credential={self.credentials.access_key},SignedHeaders={';'.join(SIGNED)},"
            f"Signature={signature}"
        )
        response = self.client.post("/", content=body, headers=headers)
        return response.status_code, response.json()

    def ok(self, action: str, **params: Any) -> dict[str, Any]:
        status, body = self.call(action, **params)
        assert status == 200, body
        return body

    def wait_job(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = self.ok("GetJobStatus", JobId=job_id)["JobStatus"]
            if status["Completed"] == "True":
                return dict(status)
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} still running")


def dw_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path, auth=True, scheduler=False, timezone="Asia/Shanghai", database_url=database_url
    )


@pytest.fixture
def dw(tmp_path: Path, database_url: str) -> Iterator[DataWorks]:
    clock = FakeClock(START)
    settings = dw_settings(tmp_path, database_url)
    app = create_app(settings, clock=clock)
    credentials = Credentials.load(settings.credentials_path)
    with TestClient(app) as client:
        yield DataWorks(client, clock, credentials)


def test_bootstrap_writes_the_project(dw: DataWorks) -> None:
    assert isinstance(dw.credentials.project_id, int) and dw.credentials.project_id > 0


def test_import_shell_workflow_then_read_list_delete(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    text = json.dumps(SHELL_SPEC, indent=2)
    job = dw.ok("ImportWorkflowDefinition", ProjectId=project, Spec=text)["AsyncJob"]
    assert job["Status"] == "Running" and job["Completed"] is False and isinstance(job["CreateTime"], int)
    status = dw.wait_job(job["Id"])
    assert status["Status"] == "Success", status
    assert status["Response"] == "700001" and status["CreateTime"] == str(job["CreateTime"])

    got = dw.ok("GetWorkflowDefinition", ProjectId=project, Id="700001")["WorkflowDefinition"]
    assert got["Name"] == "dw_shell_flow" and got["ProjectId"] == project
    assert normalize(to_workflow(parse(got["Spec"]))) == normalize(to_workflow(parse(text)))

    flow_id = got["WorkflowId"]
    flow = dw.client.app.state.ctx.flows.view(_admin(dw), flow_id).flow  # type: ignore[attr-defined]
    d = flow.definition
    assert [t.name for t in d.tasks] == ["hello", "sql"]
    assert d.tasks[0].type == "SHELL" and d.tasks[0].cmd == "echo hello"
    assert "cannot run DataWorks command ODPS_SQL" in d.tasks[1].cmd
    assert (d.tasks[0].retry_limit, d.tasks[0].retry_interval, d.tasks[0].timeout) == (2, 2, 3600)
    assert [(r.source, r.target) for r in d.relations] == [("hello", "sql")]
    assert d.cron == "00 30 02 * * ?" and d.type == 1 and flow.active == 1

    # Re-import with the same id updates the same flow.
    changed = json.loads(text)
    changed["spec"]["workflows"][0]["nodes"][0]["script"]["content"] = "echo again"
    job2 = dw.ok("ImportWorkflowDefinition", ProjectId=project, Spec=json.dumps(changed))["AsyncJob"]
    assert dw.wait_job(job2["Id"])["Status"] == "Success"
    again = dw.ok("GetWorkflowDefinition", ProjectId=project, Id="700001")["WorkflowDefinition"]
    assert again["WorkflowId"] == flow_id and "echo again" in again["Spec"]

    listed = dw.ok("ListWorkflowDefinitions", ProjectId=project)["PagingInfo"]
    assert [w["Id"] for w in listed["WorkflowDefinitions"]] == ["700001"] and listed["TotalCount"] == 1
    assert dw.ok("DeleteWorkflowDefinition", ProjectId=project, Id="700001")["Success"] is True
    status_code, body = dw.call("GetWorkflowDefinition", ProjectId=project, Id="700001")
    assert status_code == 400 and body["Code"] == "InvalidParameter"


def _admin(dw: DataWorks) -> Any:
    from flowyard.domain.permissions import Caller

    c = dw.credentials
    return Caller(user_id=c.user_id, username=c.username, org_id=c.org_id)


def test_unimportable_layout_fails_with_a_reason(dw: DataWorks) -> None:
    text = (EXAMPLES / "dide_shell.json").read_text()
    job = dw.ok("ImportWorkflowDefinition", ProjectId=dw.credentials.project_id, Spec=text)["AsyncJob"]
    status = dw.wait_job(job["Id"])
    assert status["Status"] == "Fail" and "no named workflow" in status["Error"]


def test_name_clash_with_another_workflow_fails(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    first = dw.ok("ImportWorkflowDefinition", ProjectId=project, Spec=json.dumps(SHELL_SPEC))["AsyncJob"]
    assert dw.wait_job(first["Id"])["Status"] == "Success"
    other = json.loads(json.dumps(SHELL_SPEC))
    other["spec"]["workflows"][0]["id"] = "800001"
    job = dw.ok("ImportWorkflowDefinition", ProjectId=project, Spec=json.dumps(other))["AsyncJob"]
    status = dw.wait_job(job["Id"])
    assert status["Status"] == "Fail" and "already exists" in status["Error"]


def test_refusals(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    assert project is not None
    status, body = dw.call("ListWorkflowDefinitions", secret="wrong", ProjectId=project)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    status, body = dw.call("ListWorkflowDefinitions", ProjectId=project + 1)
    assert (status, body["Code"]) == (403, "Forbidden.Access")
    status, body = dw.call("ListWorkflowDefinitions", ProjectId="abc")
    assert (status, body["Code"]) == (400, "InvalidParameter")
    assert dw.call("ListWorkflowDefinitions", nonce="n-1", ProjectId=project)[0] == 200
    status, body = dw.call("ListWorkflowDefinitions", nonce="n-1", ProjectId=project)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")
    status, body = dw.call("ImportWorkflowDefinition", ProjectId=project, Spec="{not json")
    assert (status, body["Code"]) == (400, "InvalidParameter")
    status, body = dw.call("GetJobStatus", JobId="nope")
    assert status == 400 and "Not Found" in body["Message"]
    status, body = dw.call("NoSuchAction", ProjectId=project)
    assert (status, body["Code"]) == (404, "InvalidAction.NotFound")


def test_stale_date_is_refused(dw: DataWorks) -> None:
    stale = dw.clock.now() - timedelta(minutes=16)
    status, body = dw.call("ListWorkflowDefinitions", signed_at=stale, ProjectId=dw.credentials.project_id)
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")


def test_a_job_left_by_a_dead_process_is_completed_by_the_next_start(
    tmp_path: Path, database_url: str
) -> None:
    from flowyard.services.dataworks import WorkflowSpecService
    from flowyard.services.jobs import LEASE
    from flowyard.store.db import make_engine, make_session_factory

    settings = dw_settings(tmp_path, database_url)
    create_app(settings, clock=FakeClock(START))  # bootstrap only; the lifespan never runs
    project_id = Credentials.load(settings.credentials_path).project_id
    assert project_id is not None
    engine = make_engine(settings.resolved_database_url)
    service = WorkflowSpecService(make_session_factory(engine))
    job = service.submit_import(project_id, json.dumps(SHELL_SPEC), START, owner="dead-process")
    engine.dispose()

    clock = FakeClock(START + LEASE + timedelta(seconds=1))
    with TestClient(create_app(settings, clock=clock)) as client:
        dw = DataWorks(client, clock, Credentials.load(settings.credentials_path))
        status = dw.wait_job(job.id)
    assert (status["Status"], status["Response"], status["Progress"]) == ("Success", "700001", 100)


def _variant(workflow_id: str, name: str, *, manual: bool = False, script: str = "echo hello") -> str:
    spec = json.loads(json.dumps(SHELL_SPEC))
    workflow = spec["spec"]["workflows"][0]
    workflow["id"], workflow["name"] = workflow_id, name
    for node in workflow["nodes"]:
        node["id"] = workflow_id + node["id"][-1]
    workflow["nodes"][0]["script"]["content"] = script
    workflow["nodes"][0]["outputs"]["nodeOutputs"][0]["data"] = workflow_id + "2"
    workflow["dependencies"] = [
        {"nodeId": workflow_id + "3", "depends": [{"type": "Normal", "output": workflow_id + "2"}]}
    ]
    if manual:
        spec["kind"] = "ManualWorkflow"
        del workflow["trigger"]
    return json.dumps(spec)


def _import(dw: DataWorks, text: str, **extra: Any) -> dict[str, Any]:
    job = dw.ok("ImportWorkflowDefinition", ProjectId=dw.credentials.project_id, Spec=text, **extra)[
        "AsyncJob"
    ]
    return dw.wait_job(job["Id"])


def test_dry_run_reports_the_result_and_changes_nothing(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    text = json.dumps(SHELL_SPEC)
    status = _import(dw, text, DryRun="true")
    assert (status["Status"], status["JobType"], status["Response"]) == ("Success", "Create", "700001")
    assert dw.ok("ListWorkflowDefinitions", ProjectId=project)["PagingInfo"]["TotalCount"] == 0
    code, body = dw.call("GetWorkflowDefinition", ProjectId=project, Id="700001")
    assert (code, body["Code"]) == (400, "InvalidParameter")

    assert _import(dw, text)["Status"] == "Success"
    changed = json.loads(text)
    changed["spec"]["workflows"][0]["nodes"][0]["script"]["content"] = "echo dry"
    status = _import(dw, json.dumps(changed), DryRun="True")
    assert (status["Status"], status["JobType"]) == ("Success", "Update")
    got = dw.ok("GetWorkflowDefinition", ProjectId=project, Id="700001")["WorkflowDefinition"]
    assert "echo hello" in got["Spec"] and "echo dry" not in got["Spec"]

    clash = json.loads(text)
    clash["spec"]["workflows"][0]["id"] = "800001"
    status = _import(dw, json.dumps(clash), DryRun="true")
    assert status["Status"] == "Fail" and "already exists" in status["Error"]
    status = _import(dw, (EXAMPLES / "dide_shell.json").read_text(), DryRun="true")
    assert status["Status"] == "Fail" and "no named workflow" in status["Error"]
    assert dw.ok("ListWorkflowDefinitions", ProjectId=project)["PagingInfo"]["TotalCount"] == 1

    code, body = dw.call("ImportWorkflowDefinition", ProjectId=project, Spec=text, DryRun="maybe")
    assert (code, body["Code"]) == (400, "InvalidParameter") and "DryRun" in body["Message"]
    assert set(body) == {"RequestId", "Code", "Message"}


def test_job_type_says_create_or_update(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    first = dw.ok("ImportWorkflowDefinition", ProjectId=project, Spec=json.dumps(SHELL_SPEC))["AsyncJob"]
    assert (first["Type"], first["Progress"]) == ("Create", 0)
    done = dw.wait_job(first["Id"])
    assert (done["JobType"], done["Progress"]) == ("Create", 100)
    second = dw.ok("ImportWorkflowDefinition", ProjectId=project, Spec=json.dumps(SHELL_SPEC))["AsyncJob"]
    assert second["Type"] == "Update"
    assert dw.wait_job(second["Id"])["JobType"] == "Update"


def test_include_script_content(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    assert _import(dw, json.dumps(SHELL_SPEC))["Status"] == "Success"

    def spec(**extra: Any) -> dict[str, Any]:
        got = dw.ok("GetWorkflowDefinition", ProjectId=project, Id="700001", **extra)["WorkflowDefinition"]
        document: dict[str, Any] = json.loads(got["Spec"])
        return document

    for included in (spec(), spec(IncludeScriptContent="true"), spec(IncludeScriptContent="True")):
        nodes = included["spec"]["workflows"][0]["nodes"]
        assert [n["script"].get("content") for n in nodes] == ["echo hello", "select 1;"]
    without = spec(IncludeScriptContent="false")["spec"]["workflows"][0]
    assert [("content" in n["script"], n["script"]["runtime"]["command"]) for n in without["nodes"]] == [
        (False, "DIDE_SHELL"),
        (False, "ODPS_SQL"),
    ]
    assert without["id"] == "700001" and without["trigger"]["cron"] == "00 30 02 * * ?"
    code, body = dw.call("GetWorkflowDefinition", ProjectId=project, Id="700001", IncludeScriptContent="1")
    assert (code, body["Code"]) == (400, "InvalidParameter")


def test_list_pages_in_the_database(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    names = ["alpha_one", "alphaXone", "beta", "Gamma_Flow", "delta"]
    for index, name in enumerate(names):
        assert _import(dw, _variant(f"90000{index}", name, manual=name == "beta"))["Status"] == "Success"

    def page(**params: Any) -> dict[str, Any]:
        paging: dict[str, Any] = dw.ok("ListWorkflowDefinitions", ProjectId=project, **params)["PagingInfo"]
        return paging

    def ids(paging: dict[str, Any]) -> list[str]:
        return [w["Id"] for w in paging["WorkflowDefinitions"]]

    everything = page(PageSize=100)
    assert ids(everything) == [f"90000{i}" for i in range(5)] and everything["TotalCount"] == 5
    default = page()
    assert (default["PageNumber"], default["PageSize"], default["TotalCount"]) == (1, 10, 5)
    pages = [page(PageNumber=n, PageSize=2) for n in (1, 2, 3, 4)]
    assert [ids(p) for p in pages] == [["900000", "900001"], ["900002", "900003"], ["900004"], []]
    assert {p["TotalCount"] for p in pages} == {5} and pages[3]["PageNumber"] == 4
    assert page(PageSize=1, PageNumber=5)["WorkflowDefinitions"][0] == everything["WorkflowDefinitions"][4]

    assert ids(page(Type="ManualWorkflow")) == ["900002"]
    cycle = page(Type="CycleWorkflow", PageSize=3, PageNumber=2)
    assert (ids(cycle), cycle["TotalCount"]) == (["900004"], 4)
    assert page(Type="NoSuchType")["TotalCount"] == 0
    assert ids(page(Name="GAMMA")) == ["900003"]
    assert ids(page(Name="a_o")) == ["900000"]  # "_" is literal, not a wildcard
    assert page(Name="%")["TotalCount"] == 0
    summary = everything["WorkflowDefinitions"][2]
    assert summary["Type"] == "ManualWorkflow" and summary["ProjectId"] == project
    assert summary["Script"] == {"Path": "beta", "Runtime": {"Command": "MANUAL_WORKFLOW"}}


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"PageNumber": "0"}, "PageNumber"),
        ({"PageNumber": "-1"}, "PageNumber"),
        ({"PageNumber": "1.5"}, "PageNumber"),
        ({"PageNumber": "x"}, "PageNumber"),
        ({"PageNumber": "²"}, "PageNumber"),
        ({"PageNumber": "9" * 40}, "PageNumber"),
        ({"PageNumber": str(2**31)}, "PageNumber"),
        ({"PageSize": "0"}, "PageSize"),
        ({"PageSize": "101"}, "PageSize"),
        ({"PageSize": "ten"}, "PageSize"),
    ],
)
def test_list_paging_errors(dw: DataWorks, params: dict[str, Any], name: str) -> None:
    code, body = dw.call("ListWorkflowDefinitions", ProjectId=dw.credentials.project_id, **params)
    assert (code, body["Code"], set(body)) == (400, "InvalidParameter", {"RequestId", "Code", "Message"})
    assert name in body["Message"]


def test_list_paging_limits_are_accepted(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    last = dw.ok("ListWorkflowDefinitions", ProjectId=project, PageNumber=2**31 - 1, PageSize=100)
    assert last["PagingInfo"]["WorkflowDefinitions"] == [] and last["PagingInfo"]["PageSize"] == 100


def test_a_node_renamed_in_dataworks_keeps_its_task_id(dw: DataWorks) -> None:
    project = dw.credentials.project_id
    assert _import(dw, json.dumps(SHELL_SPEC))["Status"] == "Success"
    flow_id = dw.ok("GetWorkflowDefinition", ProjectId=project, Id="700001")["WorkflowDefinition"][
        "WorkflowId"
    ]
    before = dw.client.app.state.ctx.flows.view(_admin(dw), flow_id).flow  # type: ignore[attr-defined]
    renamed = json.loads(json.dumps(SHELL_SPEC))
    renamed["spec"]["workflows"][0]["nodes"][0]["name"] = "hello_renamed"
    renamed["spec"]["workflows"][0]["nodes"].append(
        {
            "id": "700009",
            "name": "hello",
            "script": {"content": "echo new", "runtime": {"command": "DIDE_SHELL"}},
        }
    )
    assert _import(dw, json.dumps(renamed))["Status"] == "Success"
    after = dw.client.app.state.ctx.flows.view(_admin(dw), flow_id).flow  # type: ignore[attr-defined]
    ids = dict(zip((t.name for t in after.definition.tasks), after.task_ids, strict=True))
    old = dict(zip((t.name for t in before.definition.tasks), before.task_ids, strict=True))
    assert ids["hello_renamed"] == old["hello"]  # matched by node id 700002, not by name
    assert ids["sql"] == old["sql"]
    assert ids["hello"] not in old.values()  # the new node named "hello" is a new task
