"""DataWorksClient's signed requests and error mapping, and `flows import/export` with FlowSpec, on mock transports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from click.testing import CliRunner, Result

from flowyard.cli.flows import FlowSpecProvider, flows_group, read_import_file
from flowyard.cli.output import ConnectionOptions
from flowyard.client import DataWorksClient, FlowyardClient
from flowyard.clock import FakeClock
from flowyard.dataworks.signature import DEFAULT_MAX_SKEW, SignatureMismatchError, verify
from flowyard.errors import (
    AuthError,
    ConnectionFailedError,
    FlowyardError,
    InvalidParameterError,
    NoPrivilegeError,
    StateError,
)

URL = "http://dw.test:8080"
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
EXAMPLES = Path("/work/shared/examples/flowspec")
SPEC = {"version": "1.1.0", "kind": "CycleWorkflow", "spec": {"workflows": [{"id": "700001", "name": "w"}]}}
YAML_SPEC = "version: 1.1.0\nkind: CycleWorkflow\nspec:\n  workflows:\n    - id: '700001'\n      name: w\n"
ENOS = {"name": "nFlow", "cycle": "D", "tasks": [{"name": "t", "type": "COMMAND", "cmd": "echo"}]}


class MockDataWorks:
    """Verifies every request's signature, then answers the action from ``answers`` (or a status list)."""

    def __init__(self, secret: str = "sk") -> None:
        self.secret = secret
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.answers: dict[str, Any] = {}
        self.statuses: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        try:
            verify(
                method=request.method,
                path=request.url.path,
                query=parse_qsl(request.url.query.decode(), keep_blank_values=True),
                headers=request.headers,
                body=body,
                secret_for=lambda key: self.secret if key == "ak" else None,
                now=NOW,
                max_skew=DEFAULT_MAX_SKEW,
                nonce_seen=lambda nonce: False,
            )
        except SignatureMismatchError as exc:
            return httpx.Response(
                400, json={"RequestId": "R", "Code": exc.error_code, "Message": exc.message}
            )
        action = request.headers["x-acs-action"]
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        self.calls.append((action, params))
        if action == "GetJobStatus" and self.statuses:
            return httpx.Response(200, json={"RequestId": "R", "JobStatus": self.statuses.pop(0)})
        answer = self.answers.get(action, {})
        if isinstance(answer, list):
            answer = answer.pop(0)
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json={"RequestId": "R", **answer})


def client(server: MockDataWorks, secret: str = "sk") -> DataWorksClient:
    return DataWorksClient(
        URL,
        "ak",
        secret,
        10001,
        http=httpx.Client(transport=httpx.MockTransport(server)),
        clock=FakeClock(NOW),
    )


def job(status: str, completed: bool, error: str = "", response: str = "") -> dict[str, Any]:
    return {
        "JobId": "j1",
        "Status": status,
        "Completed": "True" if completed else "False",
        "Error": error,
        "Response": response,
    }


# -- the client ------------------------------------------------------------------------------------


def test_requests_are_signed_so_that_the_server_check_accepts_them() -> None:
    server = MockDataWorks()
    server.answers["ListWorkflowDefinitions"] = {"PagingInfo": {"TotalCount": 0, "WorkflowDefinitions": []}}
    assert client(server).list_workflows(name="a b&c") == {"TotalCount": 0, "WorkflowDefinitions": []}
    assert server.calls == [
        (
            "ListWorkflowDefinitions",
            {"ProjectId": "10001", "Name": "a b&c", "PageNumber": "1", "PageSize": "10"},
        )
    ]


def test_the_signed_request_has_the_sdk_headers() -> None:
    request = client(MockDataWorks()).signed_request("GetJobStatus", {"JobId": "j1"})
    assert request.method == "POST" and str(request.url) == URL + "/"
    assert request.headers["host"] == "dw.test:8080"
    assert request.headers["x-acs-version"] == "2024-05-18"
    assert request.headers["x-acs-date"] == "2026-11-22T08:00:00Z"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    auth = request.headers["authorization"]
    assert auth.startswith("ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=content-type;host;x-acs-action;")
    other = client(MockDataWorks()).signed_request("GetJobStatus", {"JobId": "j1"})
    assert other.headers["x-acs-signature-nonce"] != request.headers["x-acs-signature-nonce"]


def test_a_wrong_secret_is_an_auth_error_naming_the_code() -> None:
    with pytest.raises(AuthError, match=r"^SignatureDoesNotMatch: "):
        client(MockDataWorks(), secret="wrong").job_status("j1")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "InvalidParameter", InvalidParameterError),
        (400, "InvalidTimeStamp.Expired", AuthError),
        (404, "InvalidAccessKeyId.NotFound", AuthError),
        (400, "SignatureNonceUsed", AuthError),
        (403, "Forbidden.Access", NoPrivilegeError),
        (400, "OperationDenied", StateError),
        (404, "InvalidAction.NotFound", FlowyardError),
        (500, "InternalError", FlowyardError),
    ],
)
def test_error_answers_raise_the_matching_class(status: int, code: str, expected: type[Exception]) -> None:
    server = MockDataWorks()
    server.answers["DeleteWorkflowDefinition"] = httpx.Response(
        status, json={"RequestId": "R9", "Code": code, "Message": "nope"}
    )
    with pytest.raises(expected) as raised:
        client(server).delete_workflow("1")
    assert isinstance(raised.value, FlowyardError)
    assert raised.value.message == f"{code}: nope (RequestId R9)"


def test_a_non_dataworks_answer_is_a_connection_failure() -> None:
    server = MockDataWorks()
    server.answers["GetJobStatus"] = httpx.Response(502, text="<html>bad gateway</html>")
    with pytest.raises(ConnectionFailedError):
        client(server).job_status("j1")


def test_wait_job_polls_with_the_sleeper_and_is_bounded() -> None:
    server = MockDataWorks()
    server.statuses = [job("Running", False), job("Running", False), job("Success", True, response="7")]
    slept: list[float] = []
    status = client(server).wait_job("j1", timeout=10, poll_interval=2, sleeper=slept.append)
    assert status["Response"] == "7" and slept == [2, 2]

    server.statuses = [job("Running", False)] * 10
    slept.clear()
    with pytest.raises(FlowyardError, match="did not finish within 3 s"):
        client(server).wait_job("j1", timeout=3, poll_interval=1, sleeper=slept.append)
    assert slept == [1, 1, 1]


def test_from_credentials_needs_a_project(tmp_path: Path) -> None:
    creds = {"url": URL, "orgId": "o1", "userId": "u1", "accessKey": "ak", "secretKey": "sk"}
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(creds))
    with pytest.raises(InvalidParameterError, match="projectId"):
        DataWorksClient.from_credentials(path)
    path.write_text(json.dumps(creds | {"projectId": 5}))
    with DataWorksClient.from_credentials(path, url="http://other") as dw:
        assert (dw.url, dw.project_id) == ("http://other", 5)


# -- detection -------------------------------------------------------------------------------------


def test_detection_of_the_file_kind() -> None:
    assert read_import_file(json.dumps(ENOS).encode()) == ("enos", ENOS)
    assert read_import_file(json.dumps({"flowJson": ENOS, "flowName": "x"}).encode()) == ("enos", ENOS)
    assert read_import_file(json.dumps(SPEC).encode())[0] == "flowspec"
    assert read_import_file(YAML_SPEC.encode()) == ("flowspec", YAML_SPEC)
    assert read_import_file((EXAMPLES / "simple.yaml").read_bytes())[0] == "flowspec"
    with pytest.raises(ValueError):
        read_import_file(b"{broken")


# -- the CLI ---------------------------------------------------------------------------------------


class Cli:
    def __init__(self) -> None:
        self.dw = MockDataWorks()
        self.enos: list[httpx.Request] = []
        self.enos_answers: dict[str, Any] = {}
        self.slept: list[float] = []

    def _enos(self, request: httpx.Request) -> httpx.Response:
        self.enos.append(request)
        data = self.enos_answers.get(request.url.params["action"], {"flowId": 42})
        return httpx.Response(200, json={"code": 0, "msg": "OK", "data": data})

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        provider = FlowSpecProvider(
            factory=lambda o: FlowyardClient(URL, "o1", "u1", transport=httpx.MockTransport(self._enos)),
            dataworks_factory=lambda o: client(self.dw),
            sleeper=self.slept.append,
        )
        return CliRunner().invoke(flows_group, list(args), input=stdin, obj=provider)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def test_import_of_enos_json_still_needs_name_and_dir(cli: Cli) -> None:
    result = cli("import", "-", stdin=json.dumps(ENOS))
    assert result.exit_code == 2 and "--name and --dir" in result.stderr
    result = cli("import", "-", "--name", "n", "--dir", "d1", stdin=json.dumps(ENOS))
    assert result.exit_code == 0, result.output
    assert result.stdout == "42\n" and cli.dw.calls == []
    assert json.loads(cli.enos[-1].content)["flowJson"] == ENOS


def test_import_of_flowspec_goes_through_dataworks_and_waits(cli: Cli) -> None:
    cli.dw.answers["ImportWorkflowDefinition"] = {"AsyncJob": {"Id": "j1", "Status": "Running"}}
    cli.dw.statuses = [job("Running", False), job("Success", True, response="700001")]
    cli.dw.answers["GetWorkflowDefinition"] = {"WorkflowDefinition": {"Id": "700001", "WorkflowId": 9}}
    result = cli("import", "-", stdin=YAML_SPEC)
    assert result.exit_code == 0, result.output
    assert result.stdout == "9\n" and "Imported workflow 700001 as flow 9" in result.stderr
    assert cli.dw.calls[0] == ("ImportWorkflowDefinition", {"ProjectId": "10001", "Spec": YAML_SPEC})
    assert [action for action, _ in cli.dw.calls[1:]] == [
        "GetJobStatus",
        "GetJobStatus",
        "GetWorkflowDefinition",
    ]
    assert cli.slept == [0.5] and cli.enos == []


def test_import_of_flowspec_json_with_json_output(cli: Cli) -> None:
    cli.dw.answers["ImportWorkflowDefinition"] = {"AsyncJob": {"Id": "j1"}}
    cli.dw.statuses = [job("Success", True, response="700001")]
    cli.dw.answers["GetWorkflowDefinition"] = {"WorkflowDefinition": {"WorkflowId": 9}}
    result = cli("import", "-", "--json", stdin=json.dumps(SPEC))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"jobId": "j1", "workflowId": "700001", "flowId": 9}


def test_a_failed_import_job_exits_non_zero_with_its_error(cli: Cli) -> None:
    cli.dw.answers["ImportWorkflowDefinition"] = {"AsyncJob": {"Id": "j1"}}
    cli.dw.statuses = [job("Fail", True, error="no named workflow in this document")]
    result = cli("import", "-", stdin=YAML_SPEC)
    assert result.exit_code == 1 and result.stdout == ""
    assert "import job j1 ended in Fail: no named workflow" in result.stderr


def test_a_job_that_does_not_finish_times_out_without_sleeping(cli: Cli) -> None:
    cli.dw.answers["ImportWorkflowDefinition"] = {"AsyncJob": {"Id": "j1"}}
    cli.dw.statuses = [job("Running", False)] * 5
    result = cli("import", "-", "--timeout", "1", stdin=YAML_SPEC)
    assert result.exit_code == 1 and "did not finish within 1 s" in result.stderr
    assert cli.slept == [0.5, 0.5]


def test_enos_options_are_refused_for_flowspec_and_bad_files_are_usage_errors(cli: Cli) -> None:
    result = cli("import", "-", "--name", "n", stdin=YAML_SPEC)
    assert result.exit_code == 2 and "not FlowSpec" in result.stderr
    result = cli("import", "-", stdin="version: 7\nkind: X\nspec: {}\n")
    assert result.exit_code == 2 and "FlowSpec" in result.stderr
    assert cli.dw.calls == [] and cli.enos == []


def test_export_flowspec_prints_the_document(cli: Cli) -> None:
    cli.dw.answers["GetWorkflowDefinition"] = {"WorkflowDefinition": {"WorkflowId": 42, "Spec": YAML_SPEC}}
    result = cli("export", "42", "--format", "flowspec")
    assert result.exit_code == 0, result.output
    assert result.stdout == YAML_SPEC
    assert cli.dw.calls == [("GetWorkflowDefinition", {"ProjectId": "10001", "Id": "42"})]


def test_export_flowspec_of_an_imported_flow_finds_its_workflow_by_name(cli: Cli) -> None:
    missing = httpx.Response(400, json={"RequestId": "R", "Code": "InvalidParameter", "Message": "Not Found"})
    found = httpx.Response(200, json={"WorkflowDefinition": {"WorkflowId": 42, "Spec": YAML_SPEC}})
    cli.dw.answers["GetWorkflowDefinition"] = [missing, found]
    cli.enos_answers["get"] = {"flowId": 42, "flowName": "w"}
    listed = [{"Id": "1", "Name": "w2"}, {"Id": "700001", "Name": "w"}]
    cli.dw.answers["ListWorkflowDefinitions"] = {
        "PagingInfo": {"TotalCount": 2, "WorkflowDefinitions": listed}
    }
    result = cli("export", "42", "--format", "flowspec")
    assert result.exit_code == 0, result.output
    assert result.stdout == YAML_SPEC
    assert [(action, params.get("Id")) for action, params in cli.dw.calls] == [
        ("GetWorkflowDefinition", "42"),
        ("ListWorkflowDefinitions", None),
        ("GetWorkflowDefinition", "700001"),
    ]
    assert cli.dw.calls[1][1]["Name"] == "w"


def test_export_defaults_to_enos(cli: Cli) -> None:
    cli.enos_answers["export"] = ENOS
    result = cli("export", "42")
    assert result.exit_code == 0 and json.loads(result.stdout) == ENOS and cli.dw.calls == []


def test_connection_options_reach_the_dataworks_factory() -> None:
    seen: list[ConnectionOptions] = []

    def factory(options: ConnectionOptions) -> DataWorksClient:
        seen.append(options)
        raise InvalidParameterError("stop here")

    result = CliRunner().invoke(
        flows_group,
        ["export", "1", "--format", "flowspec", "--url", "http://x"],
        obj=FlowSpecProvider(dataworks_factory=factory),
    )
    assert result.exit_code == 2 and "stop here" in result.stderr
    assert seen[0].url == "http://x"
