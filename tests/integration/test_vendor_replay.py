"""Issue 11 item 1: identical reads inside one second are not replays; identical writes still are."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.conftest import simple_flow
from tests.integration.signing_world import VendorClient, signed_client

REPLAYED = "Replayed request: this apim-signature has already been used"


@pytest.fixture
def vendor(tmp_path: Path, database_url: str) -> Iterator[VendorClient]:
    yield from signed_client(tmp_path, database_url)


def import_flow(vendor: VendorClient, name: str) -> int:
    root = vendor.ok("GET", "directories", "listWorkFlowDirs")[0]["key"]
    body = {"flowName": name, "desc": "", "dirId": root, "flowJson": simple_flow("a")}
    return int(vendor.ok("POST", "flows", "import", body)["flowId"])


def test_polling_get_flow_instance_ten_times_a_second(vendor: VendorClient) -> None:
    flow_id = import_flow(vendor, "polled")
    vendor.clock.advance(timedelta(seconds=1))
    trigger_ms = int(vendor.clock.now().timestamp() * 1000)
    instance = vendor.ok("POST", "flows", "trigger", {"flowId": flow_id, "triggerTime": trigger_ms})
    vendor.clock.advance(timedelta(seconds=1))
    for _ in range(10):  # one second, ten polls: every signature is the same
        got = vendor.ok("GET", "flowInstances", "get", flowInstId=instance["flowInstanceId"])
        assert got["instanceId"] == instance["flowInstanceId"]
        vendor.clock.advance(timedelta(milliseconds=90))


def test_the_same_query_on_v20_then_v21_in_one_second(vendor: VendorClient) -> None:
    flow_id = import_flow(vendor, "both")
    vendor.clock.advance(timedelta(seconds=1))
    v20 = vendor.ok("GET", "flows", "export", version="v2.0", flowId=flow_id)
    v21 = vendor.ok("GET", "flows", "export", version="v2.1", flowId=flow_id)
    assert v20["name"] == v21["name"] == "both"


@pytest.mark.parametrize(
    ("method", "resource", "action", "body", "query"),
    [
        ("GET", "directories", "listWorkFlowDirs", None, {}),
        ("GET", "time", "getCurrentTime", None, {}),
        ("GET", "time", "getTimeZone", None, {}),
        ("POST", "flows", "search", {"expression": ""}, {}),
        ("POST", "flowInstances", "search", {"type": 0}, {}),
        ("GET", "flows", "getMyFlow", None, {}),
    ],
)
def test_every_read_accepts_a_repeated_signature(
    vendor: VendorClient, method: str, resource: str, action: str, body: object, query: dict[str, str]
) -> None:
    for _ in range(3):
        vendor.ok(method, resource, action, body, **query)


def test_an_exact_replay_of_a_change_is_refused(vendor: VendorClient) -> None:
    flow_id = import_flow(vendor, "changed")
    vendor.clock.advance(timedelta(seconds=1))
    vendor.ok("POST", "flows", "disable", {"flowId": flow_id})
    status, answer = vendor.request("POST", "flows", "disable", {"flowId": flow_id})
    assert (status, answer["code"], answer["msg"]) == (401, 401, REPLAYED)
    root = vendor.ok("GET", "directories", "listWorkFlowDirs")[0]["key"]
    body = {"flowName": "twice", "desc": "", "dirId": root, "flowJson": simple_flow("a")}
    vendor.ok("POST", "flows", "import", body)
    status, answer = vendor.request("POST", "flows", "import", body)
    assert (status, answer["msg"]) == (401, REPLAYED)


def test_a_read_signature_cannot_be_spent_on_a_write_of_the_same_query(vendor: VendorClient) -> None:
    # "get" is read-only on every resource, "delete" is not: a replayable action is decided per
    # action name because the signature does not cover the path.
    flow_id = import_flow(vendor, "kept")
    vendor.clock.advance(timedelta(seconds=1))
    for _ in range(2):
        vendor.ok("GET", "flows", "get", flowId=flow_id)
    vendor.ok("GET", "flows", "delete", flowId=flow_id)
    status, answer = vendor.request("GET", "flows", "delete", flowId=flow_id)
    assert status == 401 and answer["msg"] == REPLAYED
