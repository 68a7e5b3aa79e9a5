"""The Flows page and the designer in the browser, checked through the signed API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from flowyard.client import FlowyardClient
from tests.e2e.console.conftest import EXAMPLES, Server, poll, screenshot, serious_violations, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("console-flows")]
SEED = EXAMPLES / "enos" / "seed_001_export_flow_response.json"


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[FlowyardClient]:
    with FlowyardClient.from_credentials(server.data_dir / "credentials.json") as signed:
        yield signed


def import_seed(client: FlowyardClient, name: str, **changes: Any) -> int:
    definition = json.loads(SEED.read_text())["data"]
    definition.update(changes)
    root = client.list_directories()[0]["key"]
    return client.import_flow(definition, flow_name=name, dir_id=root)


def graph_of(client: FlowyardClient, flow_id: int) -> dict[str, Any]:
    graph: dict[str, Any] = json.loads(client.get_flow(flow_id)["graph"])
    return graph


def drag(page: Any, source: Any, target: Any) -> None:
    start = source.bounding_box()
    end = target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()


def test_flows_page_create_directory_and_import_the_seed(page: Any, server: Server) -> None:
    sign_in(page, "admin", server.creds["password"])
    page.get_by_role("button", name="New directory").click()
    page.get_by_label("Directory name").fill("etl")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("heading", name="Flows in etl").wait_for()
    page.get_by_role("button", name="Import").click()
    page.get_by_test_id("import-file").set_input_files(str(SEED))
    page.get_by_test_id("import-name").fill("seed_flow")
    page.get_by_role("dialog").get_by_role("button", name="Import").click()
    page.get_by_text("Imported flow").wait_for()
    row = page.locator("tr", has_text="seed_flow")
    row.get_by_text("every day at 00:00").wait_for()
    assert "Paused" in row.inner_text()
    row.get_by_role("button", name="Enable").click()
    row.get_by_text("Active").wait_for()
    screenshot(page, "flows")
    assert serious_violations(page) == []
    assert page.console_errors == []


def test_import_a_flowspec_example_and_export_it(page: Any, server: Server, client: FlowyardClient) -> None:
    sign_in(page, "admin", server.creds["password"])
    page.get_by_role("button", name="Import").click()
    example = EXAMPLES / "flowspec" / "importworkflowdefinition_api_example.json"
    page.get_by_test_id("import-file").set_input_files(str(example))
    page.get_by_role("dialog").get_by_role("button", name="Import").click()
    page.get_by_text("DataWorks import job").filter(has_text="Success").wait_for(timeout=30_000)
    names = {flow["flowName"] for flow in client.search_flows("")}
    assert names  # the FlowSpec workflow is now an EnOS flow as well
    row = page.locator("tbody tr").first
    row.wait_for()
    with page.expect_download() as download:
        row.get_by_role("button", name="FlowSpec").click()
    assert '"kind"' in download.value.path().read_text()
    # A layout Flowyard cannot import: the job fails and its error is shown.
    page.get_by_role("button", name="Import").click()
    page.get_by_test_id("import-file").set_input_files(str(EXAMPLES / "flowspec" / "simple.yaml"))
    page.get_by_role("dialog").get_by_role("button", name="Import").click()
    page.get_by_test_id("import-job").filter(has_text="Fail").wait_for(timeout=30_000)
    page.get_by_role("dialog").get_by_role("alert").filter(has_text="no named workflow").wait_for()
    screenshot(page, "import-flowspec-error")


def test_designer_add_connect_edit_drag(page: Any, server: Server, client: FlowyardClient) -> None:
    flow_id = import_seed(client, "designer_flow")
    sign_in(page, "admin", server.creds["password"])
    page.goto(f"/ui/flows/{flow_id}")
    page.locator(".react-flow__node", has_text="tass").wait_for()
    page.get_by_role("button", name="Add task").click()
    page.get_by_role("button", name="Add task").click()
    first = page.locator('.react-flow__node[data-id="new_1"]')
    second = page.locator('.react-flow__node[data-id="new_2"]')
    second.wait_for()
    page.get_by_role("button", name="Auto-layout").click()
    drag(page, first.locator(".react-flow__handle.source"), second.locator(".react-flow__handle.target"))
    page.locator('.react-flow__edge[data-id="new_1->new_2"]').wait_for()
    first.click()
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.type("echo hello from the console")
    page.get_by_role("button", name="Save").click()
    page.get_by_test_id("save-status").filter(has_text="Saved").wait_for()

    exported = client.export_flow(flow_id)
    commands = {task["name"]: task["cmd"] for task in exported["tasks"]}
    assert commands["task_1"] == "echo hello from the console"
    assert "task_2" in commands
    assert {"sourceTaskName": "task_1", "targetTaskName": "task_2"}.items() <= exported["relations"][
        0
    ].items()

    before = {t["taskName"]: (t["x"], t["y"]) for t in graph_of(client, flow_id)["tasks"]}
    node = page.locator(".react-flow__node", has_text="tass")
    node.wait_for()
    box = node.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 160, steps=10)
    page.mouse.up()
    page.get_by_text("Unsaved changes").wait_for()
    page.get_by_role("button", name="Save").click()
    page.get_by_test_id("save-status").filter(has_text="Saved").wait_for()
    after = poll(lambda: {t["taskName"]: (t["x"], t["y"]) for t in graph_of(client, flow_id)["tasks"]})
    assert after["tass"] != before["tass"]
    assert after["task_1"] == before["task_1"]
    screenshot(page, "designer")
    assert serious_violations(page) == []
    assert page.console_errors == []


def test_designer_adds_flow_and_task_premises(page: Any, server: Server, client: FlowyardClient) -> None:
    upstream = import_seed(client, "upstream_flow")
    upstream_task = graph_of(client, upstream)["tasks"][0]
    flow_id = import_seed(client, "downstream_flow")
    sign_in(page, "admin", server.creds["password"])
    page.goto(f"/ui/flows/{flow_id}")
    task_id = graph_of(client, flow_id)["tasks"][0]["nodeId"]
    task = page.locator(f'.react-flow__node[data-id="{task_id}"]')
    task.wait_for()
    for task_name in ("(the whole flow)", "tass"):
        page.get_by_role("button", name="Add premise").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Upstream flow").select_option(label="upstream_flow")
        dialog.get_by_label("Upstream task").locator("option", has_text=task_name).wait_for(state="attached")
        dialog.get_by_label("Upstream task").select_option(label=task_name)
        dialog.get_by_role("button", name="Add premise").click()
    page.get_by_role("button", name="Auto-layout").click()
    for node_id in (f"f_{upstream}", f"f_{upstream_task['taskId']}"):
        premise = page.locator(f'.react-flow__node[data-id="{node_id}"]')
        drag(page, premise.locator(".react-flow__handle.source"), task.locator(".react-flow__handle.target"))
        page.locator(f'.react-flow__edge[data-id="{node_id}->{task_id}"]').wait_for()
    page.get_by_role("button", name="Auto-layout").click()  # now with the edges: premises to the left
    page.get_by_role("button", name="Save").click()
    page.get_by_test_id("save-status").filter(has_text="Saved").wait_for()
    graph = graph_of(client, flow_id)
    assert sorted(f["isVirtual"] for f in graph["flows"]) == [False, True]
    assert {f["flowName"] for f in graph["flows"]} == {"upstream_flow", f"{upstream_task['taskId']}(tass)"}
    assert len(graph["relations"]) == 2
    exported = client.export_flow(flow_id)
    assert exported["flowLinks"][0]["sourceFlowName"] == "upstream_flow"
    assert exported["taskLinks"][0]["sourceTaskName"] == "tass"
    screenshot(page, "designer-premises")


def test_invalid_cron_is_shown_on_its_field(page: Any, server: Server, client: FlowyardClient) -> None:
    flow_id = import_seed(client, "cron_flow")
    sign_in(page, "admin", server.creds["password"])
    page.goto(f"/ui/flows/{flow_id}")
    cron = page.get_by_label("Cron")
    cron.wait_for()
    page.get_by_test_id("fire-times").wait_for()
    cron.fill("0 0 25 * * ? *")
    field = page.locator(".field.invalid", has=page.locator("#flow-freq"))
    field.get_by_role("alert").wait_for()
    assert cron.get_attribute("aria-invalid") == "true"
    page.get_by_role("button", name="Save").click()  # the server refuses it too, on the same field
    page.get_by_test_id("save-status").filter(has_text="invalid cron").wait_for()
    field.get_by_role("alert").filter(has_text="Workflow validation failed").wait_for()
    screenshot(page, "designer-invalid-cron")


def test_update_and_trigger_reaches_the_task_log(page: Any, server: Server, client: FlowyardClient) -> None:
    definition = json.loads(SEED.read_text())["data"]
    task = {**definition["tasks"][0], "cmd": "echo value=${p1}", "retryLimit": 0}
    flow_id = import_seed(
        client, "trigger_flow", type=0, parameters='[{"key":"p1","value":"default"}]', tasks=[task]
    )
    sign_in(page, "admin", server.creds["password"])
    page.goto(f"/ui/flows/{flow_id}")
    page.get_by_role("button", name="Trigger").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Update and trigger").check()
    params = dialog.get_by_test_id("trigger-params")
    assert params.input_value() == "p1=default"  # prefilled from the flow
    params.fill("p1=override")
    dialog.get_by_role("button", name="Trigger").click()
    page.get_by_test_id("instance-status").filter(has_text="SUCCESS").wait_for(timeout=30_000)
    page.get_by_role("button", name="tass").click()
    page.get_by_test_id("task-log").filter(has_text="value=override").wait_for()
    screenshot(page, "instance")
    assert serious_violations(page) == []


def test_flow_fields_and_flowspec_options_are_saved(
    page: Any, server: Server, client: FlowyardClient
) -> None:
    flow_id = import_seed(client, "options_flow")
    sign_in(page, "admin", server.creds["password"])
    page.goto(f"/ui/flows/{flow_id}")
    page.get_by_label("Time zone of the schedule").fill("Asia/Shanghai")
    page.get_by_label("On task failure").select_option("Continue")
    page.get_by_label("Parameters (key=value per line)").fill("region=cn\nday=${cal_dt}")
    page.get_by_label("Cron").fill("0 30 8 ? * MON-FRI *")
    page.get_by_test_id("fire-times").filter(has_text="Asia/Shanghai").wait_for()  # shown in the chosen zone
    page.get_by_role("button", name="Save").click()
    page.get_by_test_id("save-status").filter(has_text="Saved").wait_for()
    exported = client.export_flow(flow_id)
    assert exported["timeZone"] == "Asia/Shanghai"
    assert exported["failureStrategy"] == "Continue"
    assert exported["cron"] == "0 30 8 ? * MON-FRI *"
    assert json.loads(exported["parameters"]) == [
        {"key": "region", "value": "cn"},
        {"key": "day", "value": "${cal_dt}"},
    ]


def test_unsaved_changes_guard(page: Any, server: Server, client: FlowyardClient) -> None:
    flow_id = import_seed(client, "guarded_flow")
    sign_in(page, "admin", server.creds["password"])
    page.goto(f"/ui/flows/{flow_id}")
    page.get_by_label("Description").fill("changed")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="← Flows").click()
    assert asked == ["You have unsaved changes. Leave anyway?"]
    assert page.url.endswith(f"/ui/flows/{flow_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="← Flows").click()
    page.get_by_role("heading", name="Flows in Workflow").wait_for()


def test_delete_refused_while_another_flow_relies_on_it(
    page: Any, server: Server, client: FlowyardClient
) -> None:
    import_seed(client, "relied_on")
    import_seed(
        client,
        "relying",
        flowLinks=[{"linkId": "0", "sourceFlowName": "relied_on"}],
        linkRelations=[{"linkId": "0", "targetTaskName": "tass", "rerun": False}],
    )
    sign_in(page, "admin", server.creds["password"])
    row = page.locator("tr", has_text="relied_on")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    page.get_by_role("alert").filter(has_text="cannot be deleted").wait_for()
    assert "relied_on" in {flow["flowName"] for flow in client.search_flows("relied_on")}


def test_trigger_from_a_task_at_a_future_time(page: Any, server: Server, client: FlowyardClient) -> None:
    definition = json.loads(SEED.read_text())["data"]
    first = {**definition["tasks"][0], "name": "first", "cmd": "echo first"}
    second = {**definition["tasks"][0], "name": "second", "cmd": "echo second"}
    flow_id = import_seed(
        client,
        "from_task_flow",
        type=0,
        tasks=[first, second],
        relations=[{"sourceTaskName": "first", "targetTaskName": "second", "rerun": True}],
    )
    sign_in(page, "admin", server.creds["password"])
    page.goto(f"/ui/flows/{flow_id}")
    page.get_by_role("button", name="Trigger").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Trigger from task").check()
    dialog.get_by_role("combobox").select_option(label="second")
    dialog.get_by_label("Trigger time").fill("2099-01-01T08:00")
    dialog.get_by_role("button", name="Trigger").click()
    page.get_by_role("heading", name="Instance").wait_for()
    assert "2099-01-01 08:00:00 GMT" in page.locator(".instance").inner_text()  # the server's zone is UTC
    instance_id = page.url.rsplit("/", 1)[1]
    client.cancel_flow_instance(instance_id)


def directory_of(client: FlowyardClient, flow_id: int) -> str | None:
    """The key of the directory that holds ``flow_id`` in List Workflow Directories."""

    def walk(nodes: list[dict[str, Any]], parent: str | None) -> str | None:
        for node in nodes:
            if not node["isDirectory"]:
                if str(node["key"]) == str(flow_id):
                    return parent
            elif (found := walk(node.get("children") or [], node["key"])) is not None:
                return found
        return None

    return walk(client.list_directories(), None)


def test_move_a_flow_to_another_directory(page: Any, server: Server, client: FlowyardClient) -> None:
    flow_id = import_seed(client, "moving_flow")
    root = client.list_directories()[0]["key"]
    archive = client.create_directory(root, "archive")
    sign_in(page, "admin", server.creds["password"])
    row = page.get_by_test_id(f"flow-{flow_id}")
    row.get_by_label("Move moving_flow to another directory").select_option(label="Workflow / archive")
    page.get_by_text("Moved moving_flow to Workflow / archive").wait_for()
    row.wait_for(state="detached")  # no longer in the root directory
    assert directory_of(client, flow_id) == archive
    page.get_by_role("button", name="archive (1)").click()
    page.get_by_test_id(f"flow-{flow_id}").wait_for()


def test_fire_times_are_in_the_flows_own_zone(page: Any, server: Server, client: FlowyardClient) -> None:
    flow_id = import_seed(client, "tokyo_flow", type=1, cron="0 30 9 * * ? *", timeZone="Asia/Tokyo")
    sign_in(page, "admin", server.creds["password"])
    times = page.get_by_test_id(f"flow-{flow_id}").get_by_test_id("fire-times")
    times.filter(has_text="Asia/Tokyo").wait_for()
    assert times.inner_text().count("09:30:00 Asia/Tokyo") == 3  # not the server's UTC
