"""`flowyard flows import/export` with FlowSpec documents against the in-process app (jobs drained inline)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from starlette.testclient import TestClient

from flowyard.cli.flows import FlowSpecProvider, flows_group
from flowyard.client import DataWorksClient, FlowyardClient
from flowyard.credentials import Credentials
from flowyard.flowspec import normalize, parse, to_workflow
from flowyard.roles.embedded import create_app
from flowyard.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples" / "flowspec"


def test_import_then_export_flowspec_through_the_cli(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth=True, scheduler=False, timezone="Asia/Shanghai")
    app = create_app(settings)  # lifespan not run: the job runner is drained by the sleeper
    creds = Credentials.load(settings.credentials_path)
    http = TestClient(app)
    provider = FlowSpecProvider(
        factory=lambda o: FlowyardClient.for_credentials(creds, url="http://testserver", http=http),
        dataworks_factory=lambda o: DataWorksClient.for_credentials(
            creds, url="http://testserver", http=http
        ),
        sleeper=lambda seconds: app.state.jobs.drain(),
    )

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(flows_group, list(args), obj=provider)
        return result.exit_code, result.stdout, result.stderr

    example = EXAMPLES / "cycle_workflow_spec.json"
    code, out, err = run("import", str(example), "--json")
    assert code == 0, err
    imported = json.loads(out)
    assert imported["workflowId"] == "7322159560488851894" and isinstance(imported["flowId"], int)

    code, out, err = run("export", str(imported["flowId"]), "--format", "flowspec")
    assert code == 0, err
    original = example.read_text(encoding="utf-8")
    assert normalize(to_workflow(parse(out))) == normalize(to_workflow(parse(original)))

    code, out, err = run("export", str(imported["flowId"]))
    assert code == 0 and json.loads(out)["name"] == "workflow1"

    code, out, err = run("import", str(EXAMPLES / "simple.yaml"))
    assert code == 1 and out == ""
    assert "ended in Fail" in err
