"""Spec 1.7: organisations are sealed, owners edit, visitors read, locked users and flows are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flowyard.cli.admin import admin_group
from tests.integration.conftest import Actor, Api, World, simple_flow


@pytest.fixture
def setup(world: World) -> dict[str, Any]:
    api = world.api
    flow_id = api.import_flow(simple_flow("a", owners="admin;erin", visitors=";dave;"), "secret")
    org_a = world.admin.org_id
    bob = world.new_org_user("bob")
    carol = world.new_org_user("carol", org_a)
    dave = world.new_org_user("dave", org_a)
    erin = world.new_org_user("erin", org_a)
    world.app.state.ctx.identity.set_user_locked("erin", True)
    erin_api = api.as_(erin)
    return {
        "flow": flow_id,
        "root_a": api.root_dir(),
        "bob": api.as_(bob),
        "bob_in_a": api.as_(Actor(bob.user_id, org_a, "bob")),
        "carol": api.as_(carol),
        "dave": api.as_(dave),
        "erin": erin_api,
        "admin": api,
    }


def flow_operations(flow_id: int) -> list[tuple[str, str, str, Any, dict[str, Any]]]:
    save_body = {
        "id": flow_id,
        "type": 0,
        "name": "renamed",
        "freq": "0 0 0 * * ? *",
        "cycle": "D",
        "alertMode": 0,
        "doAs": "",
        "owners": "x",
        "visitors": "",
        "active": 0,
    }
    return [
        ("GET", "flows", "get", None, {"flowId": flow_id}),
        ("GET", "flows", "export", None, {"flowId": flow_id}),
        ("GET", "flows", "loadForEdit", None, {"flowId": flow_id}),
        ("GET", "flows", "delete", None, {"flowId": flow_id}),
        ("POST", "flows", "enable", {"flowId": flow_id}, {}),
        ("POST", "flows", "disable", {"flowId": flow_id}, {}),
        ("POST", "flows", "save", save_body, {}),
    ]


ALL_OPS = ["get", "export", "loadForEdit", "delete", "enable", "disable", "save"]


@pytest.mark.parametrize("index", range(len(ALL_OPS)), ids=ALL_OPS)
def test_other_organisation_cannot_see_or_touch_a_flow(setup: dict[str, Any], index: int) -> None:
    method, resource, action, body, query = flow_operations(setup["flow"])[index]
    answer = setup["bob"].call(method, resource, action, body, **query)
    assert (answer["code"], answer["msg"]) == (62102, "Flow not found")
    # Naming the other organisation does not help: bob is no member of it.
    answer = setup["bob_in_a"].call(method, resource, action, body, **query)
    assert (answer["code"], answer["msg"]) == (62101, "userId does not exist, or it does not match to orgId.")
    # And nothing changed: the owner still sees the flow as it was.
    detail = setup["admin"].ok("GET", "flows", "get", flowId=setup["flow"])
    assert detail["flowName"] == "secret" and detail["active"] == 0


def test_other_organisation_lists_nothing_and_cannot_write_into_it(setup: dict[str, Any]) -> None:
    bob: Api = setup["bob"]
    assert bob.ok("POST", "flows", "search", {"expression": ""}) == []
    assert bob.ok("GET", "flows", "getMyFlow") == []
    (tree,) = bob.ok("GET", "directories", "listWorkFlowDirs")
    assert tree["children"] == [] and tree["key"] != setup["root_a"]
    answer = bob.call("POST", "directories", "create", {"parentId": setup["root_a"], "dirName": "intruder"})
    assert (answer["code"], answer["msg"]) == (62102, "parentId not found")
    body = {"flowName": "intruder", "dirId": setup["root_a"], "flowJson": simple_flow("x")}
    assert bob.call("POST", "flows", "import", body)["msg"] == "Directory does not exist"
    # Premises cannot reach into another organisation either.
    body = {
        "flowName": "sneaky",
        "dirId": bob.root_dir(),
        "flowJson": simple_flow("x", flowLinks=[{"linkId": "0", "sourceFlowName": "secret"}]),
    }
    assert "unknown upstream flow 'secret'" in bob.call("POST", "flows", "import", body)["msg"]
    # The same flow name is free in another organisation.
    assert bob.import_flow(simple_flow("x"), "secret") != setup["flow"]


@pytest.mark.parametrize("index", range(len(ALL_OPS)), ids=ALL_OPS)
def test_member_without_rights_is_refused(setup: dict[str, Any], index: int) -> None:
    method, resource, action, body, query = flow_operations(setup["flow"])[index]
    answer = setup["carol"].call(method, resource, action, body, **query)
    assert (answer["code"], answer["msg"]) == (62103, "User has no privilege.")


def test_visitor_reads_but_cannot_write(setup: dict[str, Any]) -> None:
    dave: Api = setup["dave"]
    detail = dave.ok("GET", "flows", "get", flowId=setup["flow"])
    assert (detail["hasReadPri"], detail["hasEditPri"]) == (True, False)
    assert dave.ok("GET", "flows", "export", flowId=setup["flow"])["name"] == "secret"
    assert dave.ok("GET", "flows", "getMyFlow") == [
        {"flowId": str(setup["flow"]), "editable": False, "flowName": "secret", "cycle": "D"}
    ]
    for method, resource, action, body, query in flow_operations(setup["flow"])[3:]:
        assert dave.call(method, resource, action, body, **query)["code"] == 62103, action
    # Search Flow lists every flow of the organisation, even to members without rights.
    assert [f["flowName"] for f in setup["carol"].ok("POST", "flows", "search", {})] == ["secret"]


def test_locked_user_and_locked_flow(world: World, setup: dict[str, Any]) -> None:
    erin: Api = setup["erin"]  # an owner, but locked
    for action in ("enable", "disable"):
        answer = erin.call("POST", "flows", action, {"flowId": setup["flow"]})
        assert (answer["code"], answer["msg"]) == (62105, "Your account has been locked")
    body = {"flowName": "new", "dirId": erin.root_dir(), "flowJson": simple_flow("x")}
    assert erin.call("POST", "flows", "import", body)["code"] == 62105
    assert erin.ok("GET", "flows", "get", flowId=setup["flow"])["isUserLocked"] is True
    world.app.state.ctx.flows.set_locked(setup["flow"], True)
    admin: Api = setup["admin"]
    answer = admin.call("POST", "flows", "enable", {"flowId": setup["flow"]})
    assert (answer["code"], answer["msg"]) == (62105, "This workflow is locked")
    assert admin.ok("GET", "flows", "get", flowId=setup["flow"])["locked"] is True
    world.app.state.ctx.flows.set_locked(setup["flow"], False)
    assert admin.ok("POST", "flows", "enable", {"flowId": setup["flow"]}) == ""


def test_missing_user_or_org(api: Api) -> None:
    response = api.client.get("/batch-processing-service/v2.1/flows", params={"action": "getMyFlow"})
    assert response.json()["msg"] == "Invalid parameter: userId is required"
    ghost = api.as_(Actor("u00000000000000", api.actor.org_id, "ghost"))
    assert ghost.call("GET", "flows", "getMyFlow")["code"] == 62101


def test_other_organisation_cannot_run_or_see_runs(world: World, setup: dict[str, Any]) -> None:
    admin: Api = setup["admin"]
    now_ms = int(world.clock.now().timestamp() * 1000)
    instance_id = admin.ok("POST", "flows", "trigger", {"flowId": setup["flow"], "triggerTime": now_ms})[
        "flowInstanceId"
    ]
    bob: Api = setup["bob"]
    body = {"flowId": setup["flow"], "triggerTime": now_ms}
    assert bob.call("POST", "flows", "trigger", body)["msg"] == "Flow not found"
    assert bob.call("POST", "flows", "updateAndTrigger", dict(body, parameters=[]))["msg"] == "Flow not found"
    assert bob.call("POST", "flows", "triggerFromTask", dict(body, taskId=1))["code"] == 62102
    assert (
        bob.call("POST", "flowInstances", "cancel", {"flowInstId": instance_id})["msg"]
        == "Instance not found"
    )
    assert bob.call("GET", "flowInstances", "get", flowInstId=instance_id)["msg"] == "Instance not found"
    assert bob.ok("POST", "flowInstances", "search", {"type": 0})["count"] == 0
    carol: Api = setup["carol"]  # same organisation, no rights on the flow
    assert carol.call("POST", "flows", "trigger", body)["code"] == 62103
    erin: Api = setup["erin"]  # an owner, but locked
    assert erin.call("POST", "flows", "trigger", body)["code"] == 62105
    assert erin.call("POST", "flowInstances", "cancel", {"flowInstId": instance_id})["code"] == 62105


def test_operators_lock_and_unlock_flows_from_the_cli(world: World, tmp_path: Path) -> None:
    api = world.api
    flow_id = api.import_flow(simple_flow("a"), "lockable")
    locked = CliRunner().invoke(
        admin_group, ["flow", "lock", str(flow_id), "--data-dir", str(tmp_path), "--json"]
    )
    assert locked.exit_code == 0, locked.output
    assert json.loads(locked.stdout) == {"flowId": flow_id, "locked": True}
    answer = api.call("POST", "flows", "enable", {"flowId": flow_id})
    assert (answer["code"], answer["msg"]) == (62105, "This workflow is locked")
    assert (
        CliRunner()
        .invoke(admin_group, ["flow", "unlock", str(flow_id), "--data-dir", str(tmp_path)])
        .exit_code
        == 0
    )
    assert api.ok("POST", "flows", "enable", {"flowId": flow_id}) == ""
    missing = CliRunner().invoke(admin_group, ["flow", "lock", "999999", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 2 and "Flow not found" in missing.stderr
