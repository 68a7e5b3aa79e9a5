"""Issue 11 items 2-4: request shapes of Envision's own samples, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Api, World, make_world, simple_flow


@pytest.fixture
def db_world(tmp_path: Path, database_url: str) -> Iterator[World]:
    yield from make_world(tmp_path, database_url)


@pytest.fixture
def dbapi(db_world: World) -> Api:
    return db_world.api


# --- item 2: V2.0 import with a placeholder premise ------------------------------------------


def java_v20_import_body(api: Api, name: str) -> dict[str, Any]:
    """The V2.0 Java import sample's shape: a placeholder premise with a null source."""
    flow = simple_flow("a", "b", relations=(("a", "b"),))
    flow["flowLinks"] = [{"linkId": "0", "sourceFlowName": None}]
    flow["taskLinks"] = []
    flow["linkRelations"] = []
    return {"flowName": name, "desc": "", "dirId": api.root_dir(), "flowJson": flow}


def test_v20_import_with_a_placeholder_flow_link(dbapi: Api) -> None:
    body = java_v20_import_body(dbapi, "java_sample")
    flow_id = dbapi.ok("POST", "flows", "import", body, version="v2.0")["flowId"]
    exported = dbapi.ok("GET", "flows", "export", version="v2.0", flowId=flow_id)
    assert exported["flowLinks"] == [] and exported["taskLinks"] == [] and exported["linkRelations"] == []


def test_placeholder_links_and_their_link_relations_are_dropped(dbapi: Api) -> None:
    dbapi.import_flow(simple_flow("up"), "upstream")
    body = java_v20_import_body(dbapi, "mixed")
    flow = body["flowJson"]
    flow["flowLinks"] = [
        {"linkId": "0", "sourceFlowName": None},
        {"linkId": "1", "sourceFlowName": ""},
        {"linkId": "2", "sourceFlowName": "upstream"},
    ]
    flow["taskLinks"] = [{"linkId": "3", "sourceFlowName": None, "sourceTaskName": None}]
    flow["linkRelations"] = [
        {"linkId": "0", "targetTaskName": "a", "rerun": False},
        {"linkId": "3", "targetTaskName": "b", "rerun": False},
        {"linkId": "2", "targetTaskName": "a", "rerun": False},
    ]
    flow_id = dbapi.ok("POST", "flows", "import", body, version="v2.0")["flowId"]
    exported = dbapi.ok("GET", "flows", "export", version="v2.0", flowId=flow_id)
    assert exported["flowLinks"] == [{"linkId": "2", "sourceFlowName": "upstream"}]
    assert exported["taskLinks"] == []
    assert exported["linkRelations"] == [{"linkId": "2", "targetTaskName": "a", "rerun": False}]


def test_a_half_named_task_link_is_still_refused(dbapi: Api) -> None:
    body = java_v20_import_body(dbapi, "half")
    body["flowJson"]["flowLinks"] = []
    body["flowJson"]["taskLinks"] = [{"linkId": "0", "sourceFlowName": "x", "sourceTaskName": None}]
    answer = dbapi.call("POST", "flows", "import", body, version="v2.0")
    assert answer["status"] == 62102
    assert answer["msg"] == "Invalid parameter: flowJson.taskLinks[0].sourceTaskName is required"


# --- item 3: Save Flow with a flow premise marked isVirtual -----------------------------------


def save_body(flow_id: int, task_ids: dict[str, Any], premise: dict[str, Any]) -> dict[str, Any]:
    """The shape of the vendor Save Flow samples (Java and Python, V2.0 and V2.1)."""
    node = premise["nodeId"]
    return {
        "id": str(flow_id),
        "type": 0,
        "name": "downstream",
        "freq": "0 0 0 * * ? *",
        "cycle": "D",
        "alertMode": 0,
        "doAs": "",
        "owners": "admin",
        "visitors": "",
        "active": 0,
        "tasks": [
            {"taskName": name, "taskId": tid, "nodeId": f"t_{tid}", "x": 1, "y": 2}
            for name, tid in task_ids.items()
        ],
        "flows": [premise],
        "relations": [{"source": node, "target": f"t_{task_ids['a']}", "rerun": False, "cycleGap": "D0"}],
    }


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
def test_save_flow_premise_as_the_vendor_samples_send_it(dbapi: Api, version: str) -> None:
    upstream = dbapi.import_flow(simple_flow("u"), "upstream")
    flow_id = dbapi.import_flow(simple_flow("a"), "downstream")
    graph = json.loads(dbapi.ok("GET", "flows", "get", flowId=flow_id)["graph"])
    ids = {t["taskName"]: t["taskId"] for t in graph["tasks"]}
    premise = {"flowId": str(upstream), "flowName": "upstream", "nodeId": f"t_{upstream}", "isVirtual": True}
    assert dbapi.ok("POST", "flows", "save", save_body(flow_id, ids, premise), version=version) == {
        "flowId": flow_id
    }
    exported = dbapi.ok("GET", "flows", "export", flowId=flow_id)
    assert [link["sourceFlowName"] for link in exported["flowLinks"]] == ["upstream"]
    assert exported["taskLinks"] == []
    assert [r["targetTaskName"] for r in exported["linkRelations"]] == ["a"]
    graph = json.loads(dbapi.ok("GET", "flows", "get", flowId=flow_id)["graph"])
    assert [(f["flowId"], f["isVirtual"]) for f in graph["flows"]] == [(str(upstream), False)]


def test_a_virtual_node_naming_no_flow_is_still_refused(dbapi: Api) -> None:
    flow_id = dbapi.import_flow(simple_flow("a"), "downstream")
    graph = json.loads(dbapi.ok("GET", "flows", "get", flowId=flow_id)["graph"])
    ids = {t["taskName"]: t["taskId"] for t in graph["tasks"]}
    premise = {"flowId": "987654", "flowName": "nowhere", "nodeId": "t_987654", "isVirtual": True}
    answer = dbapi.call("POST", "flows", "save", save_body(flow_id, ids, premise))
    assert answer["code"] == 62102 and "must be named '<taskId>(<taskName>)'" in answer["msg"]


# --- item 4: Update And Trigger with key=value strings ---------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [["day=2026-11-22", "expr=a=b"], json.dumps(["day=2026-11-22", "expr=a=b"])],
    ids=["list", "json-string"],
)
def test_update_and_trigger_with_key_value_strings(
    db_world: World, dbapi: Api, parameters: object, tmp_path: Path
) -> None:
    flow = simple_flow(
        "a", parameters=json.dumps([{"key": "day", "value": "x"}, {"key": "expr", "value": ""}])
    )
    flow_id = dbapi.import_flow(flow, "param_flow")
    db_world.clock.advance(timedelta(minutes=2))
    body = {"flowId": flow_id, "triggerTime": int(db_world.clock.now().timestamp() * 1000)}
    body["parameters"] = parameters
    instance = dbapi.ok("POST", "flows", "updateAndTrigger", body)["flowInstanceId"]
    got = dbapi.ok("GET", "flowInstances", "get", flowInstId=instance)
    assert json.loads(got["parameters"]) == [
        {"key": "day", "value": "2026-11-22"},
        {"key": "expr", "value": "a=b"},
    ]


def test_update_and_trigger_string_without_equals_names_the_element(db_world: World, dbapi: Api) -> None:
    flow_id = dbapi.import_flow(simple_flow("a"), "param_flow")
    db_world.clock.advance(timedelta(minutes=2))
    body = {
        "flowId": flow_id,
        "triggerTime": int(db_world.clock.now().timestamp() * 1000),
        "parameters": ["day=1", "nonsense"],
    }
    answer = dbapi.call("POST", "flows", "updateAndTrigger", body)
    assert answer["code"] == 62102
    assert (
        answer["msg"]
        == "Invalid parameter: parameters[1] must be a key=value string or a {key, value} object"
    )
