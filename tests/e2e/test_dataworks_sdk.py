"""Acceptance: the official DataWorks Python SDK against a real `flowyard server` process.

Every example of ``shared/examples/flowspec`` is imported with ImportWorkflowDefinition; workflow
documents (layouts with ``spec.workflows[0]`` or the legacy manual layout) must end in Success and
read back equal (normalized) through GetWorkflowDefinition and be visible through the EnOS API;
other layouts must end in Fail with a reason. Each workflow is deleted after its check, because
several examples share the name ``workflow1`` and flow names are unique per organisation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowyard.client import FlowyardClient
from flowyard.flowspec import Layout, detect_layout, normalize, parse, to_workflow
from tests.e2e.test_server_process import free_port, start_server, stop, wait_healthy

pytestmark = pytest.mark.e2e

dw_client = pytest.importorskip(
    "alibabacloud_dataworks_public20240518.client",
    reason="the official SDK alibabacloud-dataworks-public20240518 is not installed (pip install -e .[dev])",
)
dw_models = pytest.importorskip("alibabacloud_dataworks_public20240518.models")
open_api_models = pytest.importorskip("alibabacloud_tea_openapi.models")
tea_exceptions = pytest.importorskip("Tea.exceptions")

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples" / "flowspec"
IMPORTABLE = {Layout.EMBEDDED, Layout.LEGACY_MANUAL}
JOB_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, Any]]]:
    data_dir = tmp_path_factory.mktemp("dataworks")
    port = free_port()
    proc = start_server(data_dir, port)
    try:
        wait_healthy(proc, port)
        yield port, json.loads((data_dir / "credentials.json").read_text())
    finally:
        if proc.poll() is None:
            stop(proc)


def sdk(port: int, creds: dict[str, Any], secret: str | None = None) -> Any:
    config = open_api_models.Config(
        access_key_id=creds["accessKey"],
        access_key_secret=secret or creds["secretKey"],
        endpoint=f"127.0.0.1:{port}",
        protocol="http",
    )
    return dw_client.Client(config)


def wait_job(client: Any, job_id: str) -> Any:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        status = client.get_job_status(dw_models.GetJobStatusRequest(job_id=job_id)).body.job_status
        if status.completed == "True":
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish within {JOB_TIMEOUT} s")


EXAMPLE_FILES = sorted(p for p in EXAMPLES.glob("*") if p.suffix in (".json", ".yaml"))


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.name)
def test_sdk_imports_example(served: tuple[int, dict[str, Any]], example: Path) -> None:
    port, creds = served
    client = sdk(port, creds)
    text = example.read_text(encoding="utf-8")
    request = dw_models.ImportWorkflowDefinitionRequest(project_id=creds["projectId"], spec=text)
    job = client.import_workflow_definition(request).body.async_job
    assert job.status in ("Running", "Success", "Fail") and isinstance(job.completed, bool)
    status = wait_job(client, job.id)

    if detect_layout(parse(text)).layout not in IMPORTABLE:
        assert status.status == "Fail" and status.error, status.to_map()
        return
    assert status.status == "Success", status.to_map()
    workflow_id = to_workflow(parse(text)).id
    assert workflow_id
    got = client.get_workflow_definition(
        dw_models.GetWorkflowDefinitionRequest(project_id=creds["projectId"], id=workflow_id)
    ).body.workflow_definition
    assert normalize(to_workflow(parse(got.spec))) == normalize(to_workflow(parse(text)))
    with FlowyardClient(
        creds["url"], creds["orgId"], creds["userId"], creds["accessKey"], creds["secretKey"]
    ) as enos:
        assert enos.get_flow(got.workflow_id)
        exported = enos.export_flow(got.workflow_id)
        assert json.dumps(exported, ensure_ascii=False).find(got.name) >= 0
    listed = client.list_workflow_definitions(
        dw_models.ListWorkflowDefinitionsRequest(project_id=creds["projectId"], page_size=100)
    ).body.paging_info
    assert workflow_id in [w.id for w in listed.workflow_definitions]
    deleted = client.delete_workflow_definition(
        dw_models.DeleteWorkflowDefinitionRequest(project_id=creds["projectId"], id=workflow_id)
    )
    assert deleted.body.success is True


def test_sdk_refusals(served: tuple[int, dict[str, Any]]) -> None:
    port, creds = served
    request = dw_models.ListWorkflowDefinitionsRequest(project_id=creds["projectId"])
    with pytest.raises(tea_exceptions.TeaException) as bad_signature:
        sdk(port, creds, secret="not-the-secret").list_workflow_definitions(request)
    assert bad_signature.value.code == "SignatureDoesNotMatch"
    other = dw_models.ListWorkflowDefinitionsRequest(project_id=creds["projectId"] + 1)
    with pytest.raises(tea_exceptions.TeaException) as forbidden:
        sdk(port, creds).list_workflow_definitions(other)
    assert forbidden.value.code == "Forbidden.Access"


def test_sdk_dry_run_and_script_content(served: tuple[int, dict[str, Any]]) -> None:
    port, creds = served
    client = sdk(port, creds)
    project = creds["projectId"]
    text = (EXAMPLES / "importworkflowdefinition_api_example.json").read_text(encoding="utf-8")
    workflow_id = to_workflow(parse(text)).id
    assert workflow_id

    def run(dry_run: bool | None) -> Any:
        request = dw_models.ImportWorkflowDefinitionRequest(project_id=project, spec=text, dry_run=dry_run)
        return wait_job(client, client.import_workflow_definition(request).body.async_job.id)

    dry = run(True)
    assert (dry.status, dry.job_type, dry.completed) == ("Success", "Create", "True")
    get = dw_models.GetWorkflowDefinitionRequest(project_id=project, id=workflow_id)
    with pytest.raises(tea_exceptions.TeaException):
        client.get_workflow_definition(get)
    assert run(None).job_type == "Create"
    assert run(False).job_type == "Update"

    def node_scripts(include: bool | None) -> list[Any]:
        request = dw_models.GetWorkflowDefinitionRequest(
            project_id=project, id=workflow_id, include_script_content=include
        )
        spec = json.loads(client.get_workflow_definition(request).body.workflow_definition.spec)
        return [node["script"].get("content") for node in spec["spec"]["workflows"][0]["nodes"]]

    assert any(node_scripts(True)) and node_scripts(None) == node_scripts(True)
    assert node_scripts(False) == [None] * len(node_scripts(True))
    client.delete_workflow_definition(
        dw_models.DeleteWorkflowDefinitionRequest(project_id=project, id=workflow_id)
    )
