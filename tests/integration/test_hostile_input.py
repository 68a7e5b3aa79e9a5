"""Issue 11 items 6 and 7 (and issue 9's NUL rule): hostile and out-of-range input is a 62102 naming
the field, on SQLite and PostgreSQL, never a 500 or a 62109."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from flowyard.api.limits import MAX_JSON_DEPTH, MAX_PAGE_NO, MAX_SEARCH_LENGTH, MAX_SORTERS
from tests.integration.conftest import Api, World, make_world, simple_flow

BIG = [2**62, 2**63 - 1]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hostile_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One world per backend for the whole module: these tests only read, or fail before writing."""
    from tests.conftest import create_pg_database, drop_pg_database, postgres_unavailable

    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    if request.param == "sqlite":
        yield from make_world(tmp)
        return
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    url, name = create_pg_database()
    try:
        yield from make_world(tmp, url)
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="module")
def flow_id(hostile_world: World) -> int:
    return hostile_world.api.import_flow(simple_flow("a"), "target")


@pytest.fixture
def api(hostile_world: World) -> Api:
    return hostile_world.api


def refused(answer: dict[str, Any], field: str) -> str:
    code = answer.get("code", answer.get("status"))
    assert code == 62102, answer
    message: str = answer["msg"]
    assert field in message, message
    return message


def raw_call(api: Api, method: str, resource: str, action: str, text: str, **kw: Any) -> dict[str, Any]:
    return api.call(method, resource, action, raw=text.encode(), **kw)


def import_body(api: Api, **override: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "flowName": "f",
        "desc": "",
        "dirId": api.root_dir(),
        "flowJson": simple_flow("a"),
    }
    body.update(override)
    return body


# --- nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 100_000])
def test_deep_nesting_in_the_body_names_the_field(api: Api, depth: int) -> None:
    text = '{"flowName": ' + "[" * depth + "]" * depth + "}"
    message = refused(raw_call(api, "POST", "flows", "import", text), "flowName")
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in message


def test_deep_nesting_inside_a_json_string_names_the_field(api: Api) -> None:
    inner = '{"tasks": ' + "[" * 5000 + "]" * 5000 + "}"
    body = import_body(api, flowJson=inner)
    refused(api.call("POST", "flows", "import", body), "flowJson.tasks")


def test_nesting_at_the_limit_is_parsed(api: Api) -> None:
    nested: Any = []
    for _ in range(MAX_JSON_DEPTH - 2):  # the body object is the first level
        nested = [nested]
    answer = api.call("POST", "flows", "import", {"flowName": nested})
    assert answer["code"] == 62102 and "nested" not in answer["msg"]  # refused for its type only


# --- lone surrogates ----------------------------------------------------------------------------

SURROGATE = '"\\ud800"'


@pytest.mark.parametrize(
    ("resource", "action", "text", "field"),
    [
        ("flows", "import", '{"flowName": ' + SURROGATE + "}", "flowName"),
        (
            "flows",
            "import",
            '{"flowName": "x", "dirId": "d", "flowJson": {"tasks": [{"name": ' + SURROGATE + "}]}}",
            "flowJson.tasks[0].name",
        ),
        ("flows", "search", '{"expression": ' + SURROGATE + "}", "expression"),
        ("flowInstances", "search", '{"type": 0, "expression": ' + SURROGATE + "}", "expression"),
        ("directories", "create", '{"parentId": "", "dirName": ' + SURROGATE + "}", "dirName"),
        ("flows", "search", "{" + SURROGATE + ": 1}", "name must not contain a lone UTF-16 surrogate"),
    ],
)
def test_lone_surrogate_names_the_field(api: Api, resource: str, action: str, text: str, field: str) -> None:
    message = refused(raw_call(api, "POST", resource, action, text), field)
    assert "surrogate" in message


def test_lone_surrogate_inside_a_json_string(api: Api) -> None:
    flow = json.dumps({"name": "x", "tasks": [{"name": "\ud800"}]})  # the escape survives in the string
    refused(api.call("POST", "flows", "import", import_body(api, flowJson=flow)), "flowJson.tasks[0].name")


def test_a_surrogate_pair_is_an_ordinary_character(api: Api) -> None:
    answer = raw_call(api, "POST", "flows", "search", '{"expression": "\\ud83d\\ude00"}')
    assert answer["code"] == 0


# --- page numbers, search lengths, sorters ------------------------------------------------------


@pytest.mark.parametrize("page_no", BIG)
@pytest.mark.parametrize("size", [1, 10, 1000])
@pytest.mark.parametrize(("resource", "extra"), [("flows", {}), ("flowInstances", {"type": 0})])
def test_huge_page_numbers(api: Api, page_no: int, size: int, resource: str, extra: dict[str, Any]) -> None:
    body = {**extra, "pagination": {"pageNo": page_no, "pageSize": size}}
    for version in ("v2.0", "v2.1"):
        message = refused(api.call("POST", resource, "search", body, version=version), "pagination.pageNo")
        assert f"at most {MAX_PAGE_NO}" in message


def test_the_last_allowed_page_is_empty(api: Api) -> None:
    body = {"type": 0, "pagination": {"pageNo": MAX_PAGE_NO, "pageSize": 1000}}
    assert api.ok("POST", "flowInstances", "search", body) == {"flowInsts": [], "count": 0}
    assert api.ok("POST", "flows", "search", {"pagination": body["pagination"]}) == []


@pytest.mark.parametrize("resource", ["flows", "flowInstances"])
def test_long_search_expression(api: Api, resource: str) -> None:
    body = {"type": 0, "expression": "%_" * 30_000}
    message = refused(api.call("POST", resource, "search", body), "expression")
    assert f"longer than {MAX_SEARCH_LENGTH}" in message
    assert (
        api.call("POST", resource, "search", {"type": 0, "expression": "x" * MAX_SEARCH_LENGTH})["code"] == 0
    )


@pytest.mark.parametrize("name", ["expression", "searchValue"])
def test_long_get_my_flow_expression(api: Api, name: str) -> None:
    refused(api.call("GET", "flows", "getMyFlow", **{name: "a" * 50_001}), "expression")


def test_long_owner_filter(api: Api) -> None:
    refused(api.call("POST", "flowInstances", "search", {"type": 0, "owner": "o" * 60_000}), "owner")


@pytest.mark.parametrize("resource", ["flows", "flowInstances"])
def test_too_many_sorters(api: Api, resource: str) -> None:
    sorters = [{"field": "create_time", "order": "ASC"}] * 2_001
    body = {"type": 0, "pagination": {"pageNo": 1, "pageSize": 10, "sorters": sorters}}
    message = refused(api.call("POST", resource, "search", body), "pagination.sorters")
    assert f"at most {MAX_SORTERS}" in message


# --- NUL characters (PostgreSQL text cannot hold them) ------------------------------------------


@pytest.mark.parametrize(
    ("resource", "action", "body", "field"),
    [
        ("flows", "import", {"flowName": "a\x00b"}, "flowName"),
        ("flows", "import", {"flowName": "x", "desc": "\x00"}, "desc"),
        ("flows", "import", {"flowName": "x", "dirId": "\x00"}, "dirId"),
        (
            "flows",
            "import",
            {"flowName": "x", "dirId": "d", "flowJson": {"tasks": [{"name": "t", "cmd": "echo \x00"}]}},
            "flowJson.tasks[0].cmd",
        ),
        ("flows", "search", {"expression": "\x00"}, "expression"),
        ("flows", "enable", {"flowId": "1\x00"}, "flowId"),
        ("flows", "trigger", {"flowId": 1, "triggerTime": 0, "x\x00": 1}, "x"),
        ("flows", "updateAndTrigger", {"flowId": 1, "parameters": ["k=\x00"]}, "parameters[0]"),
        ("flowInstances", "search", {"type": 0, "owner": "\x00"}, "owner"),
        ("flowInstances", "cancel", {"flowInstId": "abc\x00"}, "flowInstId"),
        ("directories", "create", {"parentId": "\x00", "dirName": "d"}, "parentId"),
        ("directories", "create", {"parentId": "", "dirName": "d\x00"}, "dirName"),
    ],
)
def test_nul_in_a_body_field(api: Api, resource: str, action: str, body: dict[str, Any], field: str) -> None:
    message = refused(api.call("POST", resource, action, body), field)
    assert "NUL" in message


@pytest.mark.parametrize(
    ("resource", "action", "query", "field"),
    [
        ("flows", "export", {"flowId": "1\x00"}, "flowId"),
        ("flowInstances", "get", {"flowInstId": "x\x00"}, "flowInstId"),
        ("taskInstances", "get", {"taskInstId": "x\x00"}, "taskInstId"),
        ("taskInstances", "getLog", {"taskInstId": "x\x00", "maxLength": "10"}, "taskInstId"),
        ("flows", "getMyFlow", {"expression": "\x00"}, "expression"),
    ],
)
def test_nul_in_a_query_parameter(
    api: Api, resource: str, action: str, query: dict[str, str], field: str
) -> None:
    message = refused(api.call("GET", resource, action, **query), field)
    assert "NUL" in message


def test_nul_in_user_and_org_ids(api: Api) -> None:
    for who in ("userId", "orgId"):
        response = api.client.get(
            "/batch-processing-service/v2.1/flows",
            params={
                "action": "getMyFlow",
                "userId": api.actor.user_id,
                "orgId": api.actor.org_id,
                who: "u\x00",
            },
        )
        refused(response.json(), who)


# --- item 7: out-of-range values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"retryLimit": 2**63 - 1}, "flowJson.tasks[0].retryLimit must be between 0 and 100"),
        ({"retryLimit": -1}, "flowJson.tasks[0].retryLimit must be between 0 and 100"),
        ({"retryInterval": 2**40}, "flowJson.tasks[0].retryInterval must be between 0 and 86400"),
        ({"timeout": 2**63 - 1}, "flowJson.tasks[0].timeout must be between 0 and 2678400"),
        ({"successCode": "256"}, "flowJson.tasks[0].successCode must be comma-separated exit codes"),
        ({"successCode": "-1"}, "flowJson.tasks[0].successCode must be comma-separated exit codes"),
        ({"successCode": "0," + "9" * 5000}, "flowJson.tasks[0].successCode must be comma-separated"),
    ],
)
def test_task_values_out_of_range(api: Api, task: dict[str, Any], field: str) -> None:
    flow = simple_flow("a")
    flow["tasks"][0].update(task)
    refused(api.call("POST", "flows", "import", import_body(api, flowJson=flow)), field)


def test_success_codes_in_range_are_kept(api: Api) -> None:
    flow = simple_flow("a")
    flow["tasks"][0]["successCode"] = "0,1,255"
    flow_id = api.import_flow(flow, "codes")
    assert api.ok("GET", "flows", "export", flowId=flow_id)["tasks"][0]["successCode"] == "0,1,255"


@pytest.mark.parametrize("requested", [-5, 0, 2**63 - 1, 2**53])
def test_requested_flow_id_out_of_range(api: Api, requested: int) -> None:
    message = refused(api.call("POST", "flows", "import", import_body(api, flowId=requested)), "flowId")
    assert f"between 1 and {2**53 - 1}" in message


def test_list_flow_instances_type_99(api: Api) -> None:
    for version in ("v2.0", "v2.1"):
        message = refused(api.call("POST", "flowInstances", "search", {"type": 99}, version=version), "type")
        assert "0 (manual), 1 (periodic) or 2 (temporary)" in message


def test_nothing_was_created_by_the_battery(hostile_world: World, api: Api) -> None:
    hostile_world.clock.advance(timedelta(seconds=1))
    names = {f["flowName"] for f in api.ok("POST", "flows", "search", {"expression": ""})}
    assert names <= {"target", "codes"}


def test_token_service_deep_nesting_is_1004(api: Api) -> None:
    text = '{"appKey": ' + "[" * 50_000 + "]" * 50_000 + "}"
    answer = api.client.post("/apim-token-service/v2.0/token/get", content=text.encode()).json()
    assert answer["status"] == 1004 and "appKey is nested deeper" in answer["msg"], answer


# --- the DataWorks face -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataworks(hostile_world: World) -> int:
    project_id: int = hostile_world.app.state.credentials.project_id
    return project_id


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"Action": "GetWorkflowDefinition", "Id": "7\x00"}, "Id"),
        ({"Action": "DeleteWorkflowDefinition", "Id": "\x00"}, "Id"),
        ({"Action": "ListWorkflowDefinitions", "Name": "a\x00"}, "Name"),
        ({"Action": "ImportWorkflowDefinition", "Spec": '{"a": "\x00"}'}, "Spec"),
        ({"Action": "ImportWorkflowDefinition", "Spec": '{"a": "\\u0000"}'}, "Spec.a"),
        ({"Action": "ImportWorkflowDefinition", "Spec": '{"a": "\\ud800"}'}, "Spec.a"),
        ({"Action": "ImportWorkflowDefinition", "Spec": '{"a": ' + "[" * 5000 + "]" * 5000 + "}"}, "Spec.a"),
    ],
)
def test_dataworks_hostile_parameters(
    hostile_world: World, dataworks: int, params: dict[str, str], field: str
) -> None:
    form = {"Version": "2024-05-18", "ProjectId": str(dataworks), **params}
    response = hostile_world.api.client.post("/", data=form)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["Code"] == "InvalidParameter" and field in body["Message"], body


def test_an_unterminated_string_of_escaped_quotes_is_refused_quickly(api: Api) -> None:
    # Scanning such text for strings before decoding it would be quadratic; it is decoded first.
    text = '{"flowName": "' + '\\"' * 2_000_000
    started = time.perf_counter()
    answer = raw_call(api, "POST", "flows", "import", text)
    assert answer["code"] == 62102 and answer["msg"] == "Invalid request body."
    assert time.perf_counter() - started < 5
