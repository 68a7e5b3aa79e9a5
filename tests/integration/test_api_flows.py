"""The flow operations of the EnOS API, in-process against a real SQLite database."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from flowyard.api.dispatch import MAX_BODY_BYTES
from tests.integration.conftest import Api, World, load_example, make_world, simple_flow


def normalise(flow: dict[str, Any]) -> dict[str, Any]:
    """Decode JSON-in-string fields so that equal documents compare equal."""
    out = copy.deepcopy(flow)
    out["parameters"] = json.loads(out["parameters"])
    for task in out["tasks"]:
        task["runMode"] = json.loads(task["runMode"])
    return out


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
def test_seed_import_then_export_gives_the_definition_back(api: Api, version: str) -> None:
    body = load_example("seed_000_import_flow_request.json")
    body["dirId"] = api.root_dir()
    flow_id = api.ok("POST", "flows", "import", body, version=version)["flowId"]
    assert isinstance(flow_id, int)
    exported = api.ok("GET", "flows", "export", version=version, flowId=flow_id)
    expected = dict(body["flowJson"], name="outuser")
    if version == "v2.1":  # V2.0-only fields are not part of the V2.1 export
        expected.pop("alertTo")
        expected.pop("appId")
        for task in expected["tasks"]:
            task.pop("waitCode")
    assert exported == expected  # byte-for-byte strings for parameters and runMode too


def test_export_sample_round_trips(api: Api) -> None:
    exported_sample = load_example("seed_001_export_flow_response.json")["data"]
    flow_id = api.import_flow(exported_sample, "nFlow")
    again = api.ok("GET", "flows", "export", flowId=flow_id)
    assert again == exported_sample


def test_round_trip_with_relations_and_links(api: Api) -> None:
    api.import_flow(simple_flow("extract", "load", relations=(("extract", "load"),)), "upstream")
    api.import_flow(simple_flow("a"), "other")
    flow = simple_flow(
        "t1",
        "t2",
        "t3",
        relations=(("t1", "t2"), ("t1", "t3")),
        flowLinks=[{"linkId": "0", "sourceFlowName": "other"}],
        taskLinks=[{"linkId": "1", "sourceFlowName": "upstream", "sourceTaskName": "load"}],
        linkRelations=[
            {"linkId": "0", "targetTaskName": "t1", "rerun": False},
            {"linkId": "1", "targetTaskName": "t2", "rerun": True},
        ],
        parameters='[{"key":"REPLACE","value":"lili"},{"key":"城市","value":"上海"}]',
        startTime="2026-01-01",
    )
    flow_id = api.import_flow(flow, "downstream")
    exported = api.ok("GET", "flows", "export", flowId=flow_id)
    assert exported["flowLinks"] == flow["flowLinks"]
    assert exported["taskLinks"] == flow["taskLinks"]
    assert exported["linkRelations"] == flow["linkRelations"]
    assert exported["relations"] == flow["relations"]
    assert json.loads(exported["parameters"]) == json.loads(flow["parameters"])
    assert exported["startTime"] == "2026-01-01"
    # Import(Export(x)) is stable: re-importing the export under a new name exports the same.
    copy_id = api.import_flow(exported, "downstream-copy")
    again = api.ok("GET", "flows", "export", flowId=copy_id)
    assert again == dict(exported, name="downstream-copy")


def test_graph_of_get_flow_names_nodes_by_id(api: Api) -> None:
    api.import_flow(simple_flow("up"), "jin")
    flow = simple_flow(
        "tass",
        "gg",
        relations=(("tass", "gg"),),
        flowLinks=[{"linkId": "0", "sourceFlowName": "jin"}],
        linkRelations=[{"linkId": "0", "targetTaskName": "tass", "rerun": False}],
    )
    flow_id = api.import_flow(flow, "fpostm")
    detail = api.ok("GET", "flows", "get", flowId=flow_id)
    assert detail["flowId"] == flow_id and detail["flowName"] == "fpostm"
    assert detail["hasEditPri"] is True and detail["hasReadPri"] is True and detail["isUserLocked"] is False
    assert detail["createTime"].endswith(".0") and detail["createTime"].startswith("2026-11-22 16:00:00")
    graph = json.loads(detail["graph"])
    tasks = {t["taskName"]: t for t in graph["tasks"]}
    assert tasks["tass"]["nodeId"] == f"t_{tasks['tass']['taskId']}"
    (premise,) = graph["flows"]
    assert premise["isVirtual"] is False and premise["flowName"] == "jin"
    edges = {(r["source"], r["target"], r["rerun"], r["cycleGap"]) for r in graph["relations"]}
    assert edges == {
        (tasks["tass"]["nodeId"], tasks["gg"]["nodeId"], True, "D0"),
        (premise["nodeId"], tasks["tass"]["nodeId"], False, "D0"),
    }
    assert api.ok("GET", "flows", "loadForEdit", flowId=flow_id) == detail


def test_save_flow_edits_the_graph(api: Api) -> None:
    flow_id = api.import_flow(simple_flow("a", "b", "c", relations=(("a", "b"),)), "editable")
    graph = json.loads(api.ok("GET", "flows", "get", flowId=flow_id)["graph"])
    ids = {t["taskName"]: t["taskId"] for t in graph["tasks"]}
    body = {
        "id": str(flow_id),
        "type": 1,
        "name": "edited",
        "freq": "0 30 2 * * ? *",
        "cycle": "D",
        "alertMode": 0,
        "doAs": "etl",
        "owners": "admin",
        "visitors": "",
        "active": 0,
        "parameters": [{"key": "k", "value": "v"}],
        "tasks": [
            {"taskName": "a", "taskId": ids["a"], "nodeId": f"t_{ids['a']}", "x": 0.1, "y": 0.2},
            {"taskName": "see", "taskId": ids["c"], "nodeId": f"t_{ids['c']}", "x": 0.3, "y": 0.4},
        ],
        "flows": [],
        "relations": [
            {"source": f"t_{ids['a']}", "target": f"t_{ids['c']}", "rerun": False, "cycleGap": "D0"}
        ],
    }
    assert api.ok("POST", "flows", "save", body) == {"flowId": flow_id}
    exported = api.ok("GET", "flows", "export", flowId=flow_id)
    assert exported["name"] == "edited" and exported["cron"] == "0 30 2 * * ? *" and exported["type"] == 1
    assert [t["name"] for t in exported["tasks"]] == ["a", "see"]
    assert exported["relations"] == [
        {"sourceTaskName": "a", "targetTaskName": "see", "rerun": False, "cycleGap": "D0"}
    ]
    assert json.loads(exported["parameters"]) == [{"key": "k", "value": "v"}]
    graph = json.loads(api.ok("GET", "flows", "get", flowId=flow_id)["graph"])
    assert [(t["x"], t["y"]) for t in graph["tasks"]] == [(0.1, 0.2), (0.3, 0.4)]


def test_save_flow_sets_the_flowspec_options_or_keeps_them(api: Api) -> None:
    flow_id = api.import_flow(simple_flow("a", timeZone="Asia/Tokyo", failureStrategy="Continue"), "opts")
    graph = json.loads(api.ok("GET", "flows", "get", flowId=flow_id)["graph"])
    body = {
        "id": str(flow_id),
        "type": 1,
        "name": "opts",
        "freq": "0 0 2 * * ? *",
        "cycle": "D",
        "alertMode": 0,
        "owners": "admin",
        "active": 0,
        "tasks": [{"taskName": "a", "taskId": graph["tasks"][0]["taskId"]}],
        "flows": [],
        "relations": [],
    }
    api.ok("POST", "flows", "save", body)  # no option key: the options stay
    exported = api.ok("GET", "flows", "export", flowId=flow_id)
    assert exported["timeZone"] == "Asia/Tokyo" and exported["failureStrategy"] == "Continue"
    api.ok("POST", "flows", "save", {**body, "timeZone": "Europe/Berlin", "rerunMode": "Denied"})
    exported = api.ok("GET", "flows", "export", flowId=flow_id)
    assert exported["timeZone"] == "Europe/Berlin" and exported["rerunMode"] == "Denied"
    assert "failureStrategy" not in exported  # options are replaced as a whole: back to the default Break
    bad = api.call("POST", "flows", "save", {**body, "timeZone": "Mars/Olympus"})
    assert bad["code"] == 62102 and "Mars/Olympus" in bad["msg"]


def test_save_refuses_unknown_task_and_cycles(api: Api) -> None:
    flow_id = api.import_flow(simple_flow("a", "b"), "f")
    graph = json.loads(api.ok("GET", "flows", "get", flowId=flow_id)["graph"])
    ids = [t["taskId"] for t in graph["tasks"]]
    base = {
        "id": flow_id,
        "type": 0,
        "name": "f",
        "freq": "0 0 0 * * ? *",
        "cycle": "D",
        "alertMode": 0,
        "doAs": "",
        "owners": "admin",
        "visitors": "",
        "active": 0,
    }
    unknown = dict(base, tasks=[{"taskId": 999999, "taskName": "x"}])
    answer = api.call("POST", "flows", "save", unknown)
    assert answer["code"] == 62102 and "999999" in answer["msg"]
    cyclic = dict(
        base,
        tasks=[{"taskId": i} for i in ids],
        relations=[
            {"source": f"t_{ids[0]}", "target": f"t_{ids[1]}"},
            {"source": f"t_{ids[1]}", "target": f"t_{ids[0]}"},
        ],
    )
    answer = api.call("POST", "flows", "save", cyclic)
    assert answer["code"] == 62102 and "cycle" in answer["msg"]
    answer = api.call("POST", "flows", "save", base, version="v2.0")
    assert answer["status"] == 0 and answer["msg"] == " Success"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["tasks"].append(dict(f["tasks"][0])), "duplicate task names: a"),
        (
            lambda f: f["relations"].append({"sourceTaskName": "a", "targetTaskName": "zz"}),
            "unknown task 'zz'",
        ),
        (
            lambda f: f["relations"].extend(
                [
                    {"sourceTaskName": "a", "targetTaskName": "b"},
                    {"sourceTaskName": "b", "targetTaskName": "a"},
                ]
            ),
            "cycle: a -> b -> a",
        ),
        (lambda f: f.update(cron="0 0 25 * * ?"), "invalid cron"),
        (lambda f: f.update(cycle="Y"), "unknown cycle 'Y'"),
        (
            lambda f: f["tasks"][0].update(runMode='{"taskMode":1,"cpu":3,"memory":1}'),
            "cpu must be between 0.1 and 2",
        ),
        (
            lambda f: f["tasks"][0].update(runMode={"taskMode": 1, "cpu": 1, "memory": 0.1}),
            "memory must be between",
        ),
        (
            lambda f: f.update(flowLinks=[{"linkId": "0", "sourceFlowName": "nope"}]),
            "unknown upstream flow 'nope'",
        ),
        (lambda f: f["tasks"][0].update(timeout="soon"), "flowJson.tasks[0].timeout must be an integer"),
        (lambda f: f["tasks"][0].update(type="TELEPORT"), "unknown type 'TELEPORT'"),
        (lambda f: f.update(parameters="[{"), "flowJson.parameters must be"),
        (lambda f: f.update(type=1, cron=""), "periodic flow needs a cron"),
        (lambda f: f["tasks"][0].pop("name"), "flowJson.tasks[0].name is required"),
    ],
)
def test_import_validation_names_the_problem(api: Api, mutate: Any, message: str) -> None:
    flow = simple_flow("a", "b")
    mutate(flow)
    body = {"flowName": "bad", "dirId": api.root_dir(), "flowJson": flow}
    answer = api.call("POST", "flows", "import", body)
    assert answer["code"] == 62102, answer
    assert message in answer["msg"]
    assert answer["data"] is None


def test_import_refuses_duplicate_name_and_unknown_directory(api: Api) -> None:
    api.import_flow(simple_flow("a"), "same")
    answer = api.call(
        "POST", "flows", "import", {"flowName": "same", "dirId": api.root_dir(), "flowJson": simple_flow("a")}
    )
    assert (answer["code"], answer["msg"]) == (62102, "Workflow validation failed: Flow name must be unique")
    answer = api.call(
        "POST", "flows", "import", {"flowName": "x", "dirId": "0" * 32, "flowJson": simple_flow("a")}
    )
    assert (answer["code"], answer["msg"]) == (62102, "Directory does not exist")
    answer = api.call("POST", "flows", "import", {"flowName": "", "dirId": api.root_dir(), "flowJson": {}})
    assert (answer["code"], answer["msg"]) == (62102, "Invalid parameter: flowName")


def test_requested_flow_id_used_when_free(api: Api) -> None:
    body = {"flowName": "a", "dirId": api.root_dir(), "flowJson": simple_flow("a"), "flowId": "424242"}
    assert api.ok("POST", "flows", "import", body) == {"flowId": 424242}
    body = dict(body, flowName="b")
    assert api.ok("POST", "flows", "import", body)["flowId"] != 424242


def test_delete_refuses_a_flow_others_depend_on(api: Api) -> None:
    up = api.import_flow(simple_flow("a"), "up")
    down = api.import_flow(
        simple_flow(
            "b",
            flowLinks=[{"linkId": "0", "sourceFlowName": "up"}],
            linkRelations=[{"linkId": "0", "targetTaskName": "b"}],
        ),
        "down",
    )
    answer = api.call("GET", "flows", "delete", flowId=up)
    assert (answer["code"], answer["msg"]) == (
        62104,
        "This workflow is relied on by other workflows and cannot be deleted.",
    )
    answer = api.call("GET", "flows", "delete", version="v2.0", flowId=up)
    assert answer["status"] == 62104 and answer["msg"].endswith("You cannot delete this workflow.")
    assert api.ok("GET", "flows", "delete", flowId=down) == ""
    assert api.ok("GET", "flows", "delete", flowId=up) == ""
    assert api.call("GET", "flows", "get", flowId=up)["code"] == 62102


def test_search_my_flows_enable_disable(world: World) -> None:
    api = world.api
    ids = [api.import_flow(simple_flow("a"), name) for name in ("alpha", "beta", "alphabet", "100%_x")]
    found = api.ok("POST", "flows", "search", {"expression": "alpha"})
    assert [f["flowName"] for f in found] == ["alpha", "alphabet"]
    assert all(isinstance(f["flowId"], str) for f in found)
    assert [f["flowName"] for f in api.ok("POST", "flows", "search", {"expression": "%_"})] == ["100%_x"]
    paged = api.ok(
        "POST",
        "flows",
        "search",
        {"pagination": {"pageNo": 2, "pageSize": 3, "sorters": [{"field": "createTime", "order": "DESC"}]}},
    )
    assert len(paged) == 1
    v20 = api.ok("POST", "flows", "search", {"pagination": {"pageNo": 0, "pageSize": 2}}, version="v2.0")
    assert [f["flowName"] for f in v20] == ["alpha", "beta"]
    bad = api.call(
        "POST",
        "flows",
        "search",
        {"pagination": {"pageNo": 1, "pageSize": 2, "sorters": [{"field": "name"}]}},
    )
    assert (bad["code"], bad["msg"]) == (
        62102,
        "Illegal field, should be one of [create_time, update_time, start_time].",
    )
    mine = api.ok("GET", "flows", "getMyFlow", expression="beta")
    assert mine == [{"flowId": str(ids[1]), "editable": True, "flowName": "beta", "cycle": "D"}]
    assert len(api.ok("GET", "flows", "getMyFlow", version="v2.0", searchValue="")) == 4
    assert api.ok("POST", "flows", "enable", {"flowId": ids[0]}) == ""
    assert api.ok("GET", "flows", "get", flowId=ids[0])["active"] == 1
    assert api.ok("POST", "flows", "disable", {"flowId": str(ids[0])}) == ""
    assert api.ok("GET", "flows", "get", flowId=ids[0])["active"] == 0


def test_directories(api: Api) -> None:
    root = api.root_dir()
    assert len(root) == 32
    child = api.ok("POST", "directories", "create", {"parentId": root, "dirName": "etl"})["dirId"]
    assert len(child) == 32 and child != root
    dup = api.call("POST", "directories", "create", {"parentId": root, "dirName": "etl"})
    assert (dup["code"], dup["msg"]) == (62102, "A directory of the same name already exists")
    assert (
        api.call("POST", "directories", "create", {"parentId": "f" * 32, "dirName": "x"})["msg"]
        == "parentId not found"
    )
    assert (
        api.call("POST", "directories", "create", {"parentId": root})["msg"]
        == "param: dirName cannot be empty"
    )
    assert (
        api.call("POST", "directories", "create", {"dirName": "x"})["msg"]
        == "param: parentId cannot be empty"
    )
    body = {"flowName": "inside", "dirId": child, "flowJson": simple_flow("a")}
    flow_id = api.ok("POST", "flows", "import", body)["flowId"]
    (tree,) = api.ok("GET", "directories", "listWorkFlowDirs")
    assert tree["title"] == "Workflow" and tree["isDirectory"] is True and tree["type"] == 1
    (etl,) = tree["children"]
    assert etl["key"] == child and etl["title"] == "etl"
    assert etl["children"] == [
        {"editable": True, "title": "inside", "type": 1, "key": flow_id, "isDirectory": False}
    ]


def test_time_operations(world: World) -> None:
    api = world.api
    assert api.ok("GET", "time", "getCurrentTime") == int(world.clock.now().timestamp() * 1000)
    assert api.ok("GET", "time", "getTimeZone") == {"timezone": "GMT+8"}
    answer = api.call("GET", "time", "getTimeZone", version="v2.0")
    assert answer == {"status": 0, "msg": " Success", "data": {"timezone": "GMT+8"}}


def test_dispatch_errors_are_envelopes(api: Api) -> None:
    assert api.call("GET", "flows", "teleport")["code"] == 62102
    assert "needs POST" in api.call("GET", "flows", "import")["msg"]
    assert api.call("GET", "nowhere", "get")["code"] == 62102
    assert api.call("POST", "flows", "import", raw=b"{not json")["msg"] == "Invalid request body."
    assert api.call("POST", "flows", "import", raw=b"[1,2]")["msg"] == "Invalid request body."
    assert (
        api.call("GET", "flows", "get", flowId="abc")["msg"] == "Invalid parameter: flowId must be an integer"
    )
    assert api.call("GET", "flows", "get")["msg"] == "Invalid parameter: flowId is required"
    response = api.client.put("/batch-processing-service/v2.1/flows?action=get")
    assert response.status_code == 405 and response.json()["code"] == 62102
    response = api.client.get("/nothing/here")
    assert response.status_code == 404 and response.json()["code"] == 62102


@pytest.mark.parametrize(
    ("version", "message"), [("v2.1", "Failed to create workflow"), ("v2.0", "Workflow creating failed")]
)
def test_internal_failure_is_62109_in_the_envelope(
    world: World, version: str, message: str, monkeypatch: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("disk on fire")

    # A crash inside the service (not bad input) must still answer an envelope, with the import wording.
    monkeypatch.setattr(world.app.state.ctx.flows, "import_flow", broken)
    body = {"flowName": "x", "dirId": world.api.root_dir(), "flowJson": simple_flow("a")}
    answer = world.api.call("POST", "flows", "import", body, version=version)
    assert answer[("status" if version == "v2.0" else "code")] == 62109
    assert answer["msg"] == message and answer["data"] is None
    monkeypatch.setattr(world.app.state.ctx.flows, "view", broken)
    answer = world.api.call("GET", "flows", "get", version=version, flowId=1)
    assert answer["msg"] == (
        "Server internal exception" if version == "v2.0" else "Internal server exception"
    )


def test_an_oversized_body_is_413_in_the_envelope(api: Api) -> None:
    answer = api.client.post(
        "/batch-processing-service/v2.1/flows",
        params={"action": "import", "userId": api.actor.user_id, "orgId": api.actor.org_id},
        content=b" " * (MAX_BODY_BYTES + 1),
    )
    assert answer.status_code == 413
    assert (answer.json()["code"], answer.json()["msg"]) == (62102, "Request size limit exceeded")


# -- Move Flow (a Flowyard extension) --------------------------------------------------------------


@pytest.fixture
def db_world(tmp_path: Path, database_url: str) -> Iterator[World]:
    yield from make_world(tmp_path, database_url)


def _dir_of(api: Api, flow_id: int) -> str:
    def walk(nodes: list[dict[str, Any]], parent: str) -> str | None:
        for node in nodes:
            if not node["isDirectory"] and str(node["key"]) == str(flow_id):
                return parent
            found = walk(node.get("children") or [], node["key"]) if node["isDirectory"] else None
            if found:
                return found
        return None

    found = walk(api.ok("GET", "directories", "listWorkFlowDirs"), "")
    assert found is not None
    return found


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
def test_move_flow_puts_it_into_another_directory(db_world: World, version: str) -> None:
    api = db_world.api
    flow_id = api.import_flow(simple_flow("a"), "movable")
    target = api.ok("POST", "directories", "create", {"parentId": api.root_dir(), "dirName": "etl"})["dirId"]
    db_world.clock.advance(timedelta(seconds=60))
    assert api.ok("POST", "flows", "move", {"flowId": str(flow_id), "dirId": target}, version=version) == ""
    assert _dir_of(api, flow_id) == target
    detail = api.ok("GET", "flows", "get", flowId=flow_id)
    assert detail["updateUser"] == "admin" and detail["updateTime"].startswith("2026-11-22 16:01:00")
    api.ok("POST", "flows", "move", {"flowId": flow_id, "dirId": api.root_dir()}, version=version)
    assert _dir_of(api, flow_id) == api.root_dir()


def test_move_flow_refusals(db_world: World) -> None:
    api = db_world.api
    flow_id = api.import_flow(simple_flow("a", owners="admin"), "guarded")
    target = api.ok("POST", "directories", "create", {"parentId": api.root_dir(), "dirName": "etl"})["dirId"]
    outsider = db_world.new_org_user("olga")
    foreign_dir = api.as_(outsider).root_dir()
    member = db_world.new_org_user("mia", db_world.admin.org_id)

    def refused(actor_api: Api, body: dict[str, Any]) -> tuple[int, str]:
        answer = actor_api.call("POST", "flows", "move", body)
        return answer["code"], answer["msg"]

    assert refused(api, {"flowId": flow_id, "dirId": foreign_dir}) == (62102, "Directory does not exist")
    assert refused(api, {"flowId": flow_id, "dirId": "no-such-dir"}) == (62102, "Directory does not exist")
    assert refused(api, {"flowId": flow_id}) == (62102, "Directory does not exist")
    assert refused(api, {"flowId": 999_999, "dirId": target}) == (62102, "Flow not found")
    # Another organisation's flow does not exist for the caller, even with a directory of its own.
    assert refused(api.as_(outsider), {"flowId": flow_id, "dirId": foreign_dir}) == (62102, "Flow not found")
    assert refused(api.as_(member), {"flowId": flow_id, "dirId": target}) == (62103, "User has no privilege.")
    db_world.app.state.ctx.flows.set_locked(flow_id, True)
    assert refused(api, {"flowId": flow_id, "dirId": target}) == (62105, "This workflow is locked")
    db_world.app.state.ctx.flows.set_locked(flow_id, False)
    db_world.app.state.ctx.identity.set_user_locked(db_world.admin.user_id, True)
    assert refused(api, {"flowId": flow_id, "dirId": target}) == (62105, "Your account has been locked")
    db_world.app.state.ctx.identity.set_user_locked(db_world.admin.user_id, False)
    assert _dir_of(api, flow_id) == api.root_dir()  # nothing moved


def test_get_flow_carries_the_non_default_flowspec_options(api: Api) -> None:
    plain = api.import_flow(simple_flow("a"), "plain")
    zoned = api.import_flow(simple_flow("a", timeZone="Europe/Berlin", failureStrategy="Continue"), "zoned")
    assert "timeZone" not in api.ok("GET", "flows", "get", flowId=plain)
    detail = api.ok("GET", "flows", "get", flowId=zoned)
    assert (detail["timeZone"], detail["failureStrategy"]) == ("Europe/Berlin", "Continue")
