"""flowyard.client against a fake EnOS server behind httpx.MockTransport: no sockets, no clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from flowyard.client import (
    AuthError,
    ConnectionFailedError,
    Credentials,
    FlowyardClient,
    FlowyardError,
    InvalidParameterError,
    TokenServiceError,
    default_credentials_path,
)
from flowyard.clock import FakeClock
from flowyard.domain.signing import request_signature, token_encryption
from flowyard.errors import ERRORS_BY_CODE

URL = "http://flowyard.test"
ORG = "o15"
USER = "u42"
ACCESS_KEY = "ak-123"
SECRET_KEY = "sk-456"
TOKEN_PATH = "/apim-token-service/v2.0/token/get"
START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
PREFIX = {"v2.0": "/dataflow-batch-service/v2.0", "v2.1": "/batch-processing-service/v2.1"}


def envelope(version: str, data: Any = "", code: int = 0, msg: str | None = None) -> dict[str, Any]:
    if version == "v2.0":
        return {"status": code, "msg": msg if msg is not None else " Success", "data": data}
    return {"code": code, "msg": msg if msg is not None else "OK", "requestId": "r1", "data": data}


class FakeEnos:
    """A scripted EnOS server: the token service plus API answers, recording every request."""

    def __init__(self, version: str = "v2.1", token_expire: int = 7200) -> None:
        self.version = version
        self.token_expire = token_expire
        self.token_status = 0
        self.requests: list[httpx.Request] = []
        self.api_answers: list[httpx.Response] = []  # consumed first, then `default_data`
        self.default_data: Any = ""
        self.tokens_issued = 0

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == TOKEN_PATH]

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != TOKEN_PATH]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # A snapshot: a retried request is the same object, re-signed.
        self.requests.append(
            httpx.Request(
                request.method, request.url, headers=request.headers.copy(), content=request.content
            )
        )
        if request.url.path == TOKEN_PATH:
            if self.token_status:
                return httpx.Response(200, json={"status": self.token_status, "msg": "appKey does not exist"})
            self.tokens_issued += 1
            data = {"accessToken": f"token-{self.tokens_issued}", "expire": self.token_expire}
            return httpx.Response(200, json={"status": 0, "msg": "SUCCESS", "business": "x", "data": data})
        if self.api_answers:
            return self.api_answers.pop(0)
        return httpx.Response(200, json=envelope(self.version, self.default_data))


def make_client(
    server: FakeEnos, *, signed: bool = True, clock: FakeClock | None = None, **kw: Any
) -> FlowyardClient:
    keys = (ACCESS_KEY, SECRET_KEY) if signed else (None, None)
    return FlowyardClient(
        URL,
        ORG,
        USER,
        *keys,
        api_version=server.version,
        transport=httpx.MockTransport(server),
        clock=clock or FakeClock(START),
        **kw,
    )


@pytest.fixture
def server() -> FakeEnos:
    return FakeEnos()


# -- signing ---------------------------------------------------------------------------------------


def test_signature_is_that_of_the_query_and_body_actually_sent(server: FakeEnos) -> None:
    server.default_data = []
    with make_client(server) as client:
        client.search_flows("日報 & co", sorters=[("update_time", "desc")])

    (sent,) = server.api_requests
    timestamp = sent.headers["apim-timestamp"]
    token = sent.headers["apim-accesstoken"]
    assert token == "token-1"
    # The query as a server decodes it from the raw URL, not as the client built it.
    query = parse_qsl(sent.url.query.decode(), keep_blank_values=True)
    assert {name for name, _ in query} == {"action", "userId", "orgId"}
    expected = request_signature(token, query, sent.content, timestamp, SECRET_KEY)
    assert sent.headers["apim-signature"] == expected
    assert sent.headers["content-type"] == "application/json;charset=UTF-8"
    # The signed bytes are the compact UTF-8 JSON of the body, sent once.
    assert (
        sent.content
        == json.dumps(json.loads(sent.content), ensure_ascii=False, separators=(",", ":")).encode()
    )
    assert "日報".encode() in sent.content


def test_a_get_is_signed_over_an_empty_body(server: FakeEnos) -> None:
    server.default_data = {"flowId": 5}
    with make_client(server) as client:
        client.get_flow(5)
    (sent,) = server.api_requests
    assert sent.content == b""
    query = parse_qsl(sent.url.query.decode(), keep_blank_values=True)
    expected = request_signature("token-1", query, b"", sent.headers["apim-timestamp"], SECRET_KEY)
    assert sent.headers["apim-signature"] == expected


def test_token_request_carries_the_encryption_of_key_timestamp_and_secret(server: FakeEnos) -> None:
    with make_client(server) as client:
        client.delete_flow(1)
    (token_request,) = server.token_requests
    body = json.loads(token_request.content)
    assert set(body) == {"appKey", "encryption", "timestamp"}
    assert body["appKey"] == ACCESS_KEY
    assert isinstance(body["timestamp"], int)
    assert body["timestamp"] == START_MS
    assert body["encryption"] == token_encryption(ACCESS_KEY, body["timestamp"], SECRET_KEY)
    assert token_request.headers["content-type"] == "application/json;charset=UTF-8"


def test_identical_requests_in_the_same_millisecond_get_different_signatures(server: FakeEnos) -> None:
    with make_client(server) as client:  # the fake clock never moves
        client.delete_flow(1)
        client.delete_flow(1)
    first, second = server.api_requests
    assert int(second.headers["apim-timestamp"]) > int(first.headers["apim-timestamp"])
    assert first.headers["apim-signature"] != second.headers["apim-signature"]


def test_without_keys_no_token_is_fetched_and_no_auth_header_is_sent(server: FakeEnos) -> None:
    with make_client(server, signed=False) as client:
        client.enable_flow(3)
    (sent,) = server.requests
    assert not [name for name in sent.headers if name.startswith("apim-")]
    assert client.auth is None


# -- token cache -----------------------------------------------------------------------------------


def test_token_is_fetched_once_and_reused(server: FakeEnos) -> None:
    with make_client(server) as client:
        client.enable_flow(1)
        client.disable_flow(1)
        client.delete_flow(1)
    assert len(server.token_requests) == 1
    assert {r.headers["apim-accesstoken"] for r in server.api_requests} == {"token-1"}


def test_token_is_renewed_a_minute_before_it_expires(server: FakeEnos) -> None:
    clock = FakeClock(START)
    with make_client(server, clock=clock) as client:
        client.enable_flow(1)
        clock.advance(timedelta(seconds=7200 - 61))
        client.enable_flow(1)
        assert len(server.token_requests) == 1
        clock.advance(timedelta(seconds=2))
        client.enable_flow(1)
    assert len(server.token_requests) == 2
    assert server.api_requests[-1].headers["apim-accesstoken"] == "token-2"


def test_a_short_lived_token_is_renewed_at_half_life() -> None:
    server = FakeEnos(token_expire=60)
    clock = FakeClock(START)
    with make_client(server, clock=clock) as client:
        client.enable_flow(1)
        clock.advance(timedelta(seconds=29))
        client.enable_flow(1)
        assert len(server.token_requests) == 1
        clock.advance(timedelta(seconds=2))
        client.enable_flow(1)
    assert len(server.token_requests) == 2


def test_401_about_the_token_fetches_a_new_token_and_retries_once(server: FakeEnos) -> None:
    server.api_answers = [
        httpx.Response(401, json=envelope("v2.1", None, 401, "Access token expired at 2024-03-01T12:00:00Z"))
    ]
    server.default_data = {"flowId": 9}
    with make_client(server) as client:
        assert client.get_flow(9) == {"flowId": 9}
    assert len(server.token_requests) == 2
    first, retry = server.api_requests
    assert first.headers["apim-accesstoken"] == "token-1"
    assert retry.headers["apim-accesstoken"] == "token-2"
    query = parse_qsl(retry.url.query.decode(), keep_blank_values=True)
    expected = request_signature("token-2", query, retry.content, retry.headers["apim-timestamp"], SECRET_KEY)
    assert retry.headers["apim-signature"] == expected


def test_a_second_401_is_raised_after_the_single_retry(server: FakeEnos) -> None:
    unknown = envelope("v2.1", None, 401, "Unknown access token: get one from the token service")
    server.api_answers = [httpx.Response(401, json=unknown), httpx.Response(401, json=unknown)]
    with make_client(server) as client, pytest.raises(AuthError, match="Unknown access token"):
        client.enable_flow(1)
    assert len(server.api_requests) == 2
    assert len(server.token_requests) == 2


def test_401_about_something_else_is_not_retried(server: FakeEnos) -> None:
    server.api_answers = [httpx.Response(401, json=envelope("v2.1", None, 401, "Signature mismatch"))]
    with make_client(server) as client, pytest.raises(AuthError) as caught:
        client.enable_flow(1)
    assert type(caught.value) is AuthError
    assert caught.value.message == "Signature mismatch"
    assert caught.value.exit_code == 3
    assert len(server.api_requests) == 1


def test_401_without_a_body_is_an_auth_error_with_the_default_message(server: FakeEnos) -> None:
    server.api_answers = [httpx.Response(401, text="")]
    with make_client(server) as client, pytest.raises(AuthError, match="Invalid authentication credentials"):
        client.enable_flow(1)


def test_token_service_refusal_raises_token_service_error(server: FakeEnos) -> None:
    server.token_status = 1002
    with make_client(server) as client, pytest.raises(TokenServiceError) as caught:
        client.enable_flow(1)
    assert caught.value.code == 1002
    assert caught.value.message == "appKey does not exist"
    assert isinstance(caught.value, AuthError)
    assert server.api_requests == []


def test_a_token_service_that_is_not_one_is_a_connection_failure() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>Not Found</html>", headers={"content-type": "text/html"})

    client = FlowyardClient(URL, ORG, USER, ACCESS_KEY, SECRET_KEY, transport=httpx.MockTransport(handler))
    with client, pytest.raises(ConnectionFailedError, match="token-service"):
        client.enable_flow(1)


# -- envelopes and errors --------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
@pytest.mark.parametrize(("code", "error_class"), sorted(ERRORS_BY_CODE.items()))
def test_each_enos_code_raises_its_class(version: str, code: int, error_class: type[FlowyardError]) -> None:
    server = FakeEnos(version)
    server.api_answers = [httpx.Response(200, json=envelope(version, None, code, f"message {code}"))]
    with make_client(server) as client, pytest.raises(FlowyardError) as caught:
        client.get_flow(1)
    assert type(caught.value) is error_class
    assert caught.value.code == code
    assert caught.value.message == f"message {code}"


def test_an_unknown_code_raises_a_plain_flowyard_error_with_that_code(server: FakeEnos) -> None:
    server.api_answers = [httpx.Response(200, json=envelope("v2.1", None, 99400, "Invalid Argument action"))]
    with make_client(server) as client, pytest.raises(FlowyardError) as caught:
        client.get_flow(1)
    assert type(caught.value) is FlowyardError
    assert caught.value.code == 99400
    assert caught.value.message == "Invalid Argument action"


def test_a_non_json_answer_is_a_connection_failure(server: FakeEnos) -> None:
    server.api_answers = [
        httpx.Response(502, text="<html>Bad Gateway</html>", headers={"content-type": "text/html"})
    ]
    with make_client(server) as client, pytest.raises(ConnectionFailedError) as caught:
        client.get_flow(1)
    assert "HTTP 502" in caught.value.message
    assert "Bad Gateway" in caught.value.message
    assert caught.value.exit_code == 6


def test_json_that_is_not_an_envelope_is_a_connection_failure(server: FakeEnos) -> None:
    server.api_answers = [httpx.Response(200, json={"hello": "world"})]
    with make_client(server) as client, pytest.raises(ConnectionFailedError, match=r"v2\.1 envelope"):
        client.get_flow(1)


@pytest.mark.parametrize(("client_version", "server_version"), [("v2.1", "v2.0"), ("v2.0", "v2.1")])
def test_the_envelope_of_the_other_version_is_refused(client_version: str, server_version: str) -> None:
    server = FakeEnos(client_version)
    server.api_answers = [httpx.Response(200, json=envelope(server_version, {"flowId": 1}))]
    with make_client(server) as client, pytest.raises(ConnectionFailedError):
        client.get_flow(1)


def test_an_unreachable_server_is_a_connection_failure() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = FlowyardClient(URL, ORG, USER, transport=httpx.MockTransport(refuse))
    with client, pytest.raises(ConnectionFailedError, match=r"http://flowyard\.test.*ConnectError"):
        client.get_current_time()


def test_data_of_the_wrong_shape_is_a_connection_failure(server: FakeEnos) -> None:
    server.default_data = ["not", "an", "object"]
    with make_client(server) as client, pytest.raises(ConnectionFailedError, match="Get Flow"):
        client.get_flow(1)


@pytest.mark.parametrize("flow_id", [2839, "2839"])
def test_import_returns_the_flow_id_as_an_int(server: FakeEnos, flow_id: int | str) -> None:
    server.default_data = {"flowId": flow_id}
    with make_client(server) as client:
        assert client.import_flow({"name": "x"}, flow_name="x", dir_id="d") == 2839


# -- routing ---------------------------------------------------------------------------------------

Call = Callable[[FlowyardClient], Any]


@dataclass(frozen=True)
class Route:
    """One API as the spec routes it, the data a server answers and what the method returns."""

    name: str
    call: Call
    method: str
    resource: str
    action: str
    query: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    data: Any = ""
    returned: Any = None


INSTANCE = {"flowInstanceId": "5-1"}
ROUTES = [
    Route(
        "import",
        lambda c: c.import_flow({"name": "n"}, flow_name="f", dir_id="d1", desc="x", flow_id=77),
        "POST",
        "flows",
        "import",
        body={"flowName": "f", "desc": "x", "dirId": "d1", "flowJson": {"name": "n"}, "flowId": 77},
        data={"flowId": 77},
        returned=77,
    ),
    Route(
        "import without id",
        lambda c: c.import_flow({"name": "n"}, flow_name="f", dir_id="d1"),
        "POST",
        "flows",
        "import",
        body={"flowName": "f", "desc": "", "dirId": "d1", "flowJson": {"name": "n"}},
        data={"flowId": 1},
        returned=1,
    ),
    Route(
        "export",
        lambda c: c.export_flow(5),
        "GET",
        "flows",
        "export",
        {"flowId": "5"},
        data={"a": 1},
        returned={"a": 1},
    ),
    Route(
        "get",
        lambda c: c.get_flow(5),
        "GET",
        "flows",
        "get",
        {"flowId": "5"},
        data={"a": 1},
        returned={"a": 1},
    ),
    Route(
        "load for edit",
        lambda c: c.load_flow_for_edit(5),
        "GET",
        "flows",
        "loadForEdit",
        {"flowId": "5"},
        data={"a": 1},
        returned={"a": 1},
    ),
    Route(
        "save",
        lambda c: c.save_flow({"id": "5", "name": "n"}),
        "POST",
        "flows",
        "save",
        body={"id": "5", "name": "n"},
        data={"flowId": 5},
        returned=5,
    ),
    Route("delete", lambda c: c.delete_flow(5), "GET", "flows", "delete", {"flowId": "5"}),
    Route("enable", lambda c: c.enable_flow(5), "POST", "flows", "enable", body={"flowId": 5}),
    Route("disable", lambda c: c.disable_flow(5), "POST", "flows", "disable", body={"flowId": 5}),
    Route("move", lambda c: c.move_flow(5, "d1"), "POST", "flows", "move", body={"flowId": 5, "dirId": "d1"}),
    Route(
        "create directory",
        lambda c: c.create_directory("p1", "etl"),
        "POST",
        "directories",
        "create",
        body={"parentId": "p1", "dirName": "etl"},
        data={"dirId": "abc"},
        returned="abc",
    ),
    Route(
        "list directories",
        lambda c: c.list_directories(),
        "GET",
        "directories",
        "listWorkFlowDirs",
        data=[{"title": "Workflow"}],
        returned=[{"title": "Workflow"}],
    ),
    Route(
        "trigger",
        lambda c: c.trigger_flow(5, 1000),
        "POST",
        "flows",
        "trigger",
        body={"flowId": 5, "triggerTime": 1000},
        data=INSTANCE,
        returned="5-1",
    ),
    Route(
        "trigger from task",
        lambda c: c.trigger_flow_from_task(5, 8, 1000),
        "POST",
        "flows",
        "triggerFromTask",
        body={"flowId": 5, "taskId": 8, "triggerTime": 1000},
        data=INSTANCE,
        returned="5-1",
    ),
    Route(
        "update and trigger",
        lambda c: c.update_and_trigger_flow(5, 1000, [{"key": "k", "value": "v"}]),
        "POST",
        "flows",
        "updateAndTrigger",
        body={"flowId": 5, "triggerTime": 1000, "parameters": [{"key": "k", "value": "v"}]},
        data=INSTANCE,
        returned="5-1",
    ),
    Route(
        "cancel",
        lambda c: c.cancel_flow_instance("5-1"),
        "POST",
        "flowInstances",
        "cancel",
        body={"flowInstId": "5-1"},
    ),
    Route(
        "get flow instance",
        lambda c: c.get_flow_instance("5-1"),
        "GET",
        "flowInstances",
        "get",
        {"flowInstId": "5-1"},
        data={"a": 1},
        returned={"a": 1},
    ),
    Route(
        "get task instance",
        lambda c: c.get_task_instance("8-1"),
        "GET",
        "taskInstances",
        "get",
        {"taskInstId": "8-1"},
        data={"a": 1},
        returned={"a": 1},
    ),
    Route(
        "log",
        lambda c: c.get_task_instance_log("8-1", max_length=100),
        "GET",
        "taskInstances",
        "getLog",
        {"taskInstId": "8-1", "maxLength": "100"},
        data={"log": "hi\n"},
        returned="hi\n",
    ),
    Route(
        "whole log",
        lambda c: c.get_task_instance_log("8-1"),
        "GET",
        "taskInstances",
        "getLog",
        {"taskInstId": "8-1"},
        data={"log": ""},
        returned="",
    ),
]


@pytest.mark.parametrize("version", ["v2.0", "v2.1"])
@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_each_api_is_routed_as_the_spec_says(version: str, route: Route) -> None:
    server = FakeEnos(version)
    server.default_data = route.data
    with make_client(server) as client:
        assert route.call(client) == route.returned
    (sent,) = server.api_requests
    assert sent.method == route.method
    assert sent.url.path == f"{PREFIX[version]}/{route.resource}"
    expected_query = {"action": route.action, **route.query, "userId": USER, "orgId": ORG}
    assert dict(sent.url.params.multi_items()) == expected_query
    assert len(sent.url.params.multi_items()) == len(expected_query)
    if route.body is None:
        assert sent.content == b""
    else:
        assert json.loads(sent.content) == route.body


@pytest.mark.parametrize(
    ("version", "call", "action", "returned"),
    [
        ("v2.1", lambda c: c.get_current_time(), "getCurrentTime", 1565251865242),
        ("v2.0", lambda c: c.get_current_time(), "getCurrentTime", 1565251865242),
        ("v2.1", lambda c: c.get_time_zone(), "getTimeZone", "GMT+8"),
        ("v2.0", lambda c: c.get_time_zone(), "getTimeZone", "GMT+8"),
    ],
)
def test_time_apis_carry_no_user(version: str, call: Call, action: str, returned: Any) -> None:
    server = FakeEnos(version)
    server.default_data = returned if isinstance(returned, int) else {"timezone": returned}
    with make_client(server) as client:
        assert call(client) == returned
    (sent,) = server.api_requests
    assert sent.method == "GET"
    assert sent.url.path == f"{PREFIX[version]}/time"
    assert list(sent.url.params.multi_items()) == [("action", action)]


@pytest.mark.parametrize(("version", "first_page"), [("v2.0", 0), ("v2.1", 1)])
def test_search_starts_on_the_first_page_of_the_version(version: str, first_page: int) -> None:
    server = FakeEnos(version)
    server.default_data = [{"flowId": "1", "flowName": "a"}]
    with make_client(server) as client:
        assert client.search_flows() == [{"flowId": "1", "flowName": "a"}]
        client.search_flows("ab", page_no=3, page_size=50, sorters=[("create_time", "desc")])
    default, explicit = (json.loads(r.content) for r in server.api_requests)
    assert default == {"expression": "", "pagination": {"pageNo": first_page, "pageSize": 10, "sorters": []}}
    assert explicit == {
        "expression": "ab",
        "pagination": {"pageNo": 3, "pageSize": 50, "sorters": [{"field": "create_time", "order": "DESC"}]},
    }


@pytest.mark.parametrize(("version", "name"), [("v2.0", "searchValue"), ("v2.1", "expression")])
def test_get_my_flows_names_its_filter_per_version(version: str, name: str) -> None:
    server = FakeEnos(version)
    server.default_data = []
    with make_client(server) as client:
        client.get_my_flows("rep")
        client.get_my_flows()
    filtered, unfiltered = server.api_requests
    assert filtered.url.params[name] == "rep"
    assert name not in unfiltered.url.params


@pytest.mark.parametrize(("version", "first_page"), [("v2.0", 0), ("v2.1", 1)])
def test_list_flow_instances_sends_every_filter(version: str, first_page: int) -> None:
    server = FakeEnos(version)
    server.default_data = {"flowInsts": [], "count": 0}
    with make_client(server) as client:
        result = client.list_flow_instances(
            flow_type=0,
            from_trigger_time_ms=1,
            to_trigger_time_ms=2,
            status=[1, -1],
            sorters=[("startTime", "asc")],
        )
    assert result == {"flowInsts": [], "count": 0}
    (sent,) = server.api_requests
    assert sent.url.params["action"] == "search"
    assert sent.url.path == f"{PREFIX[version]}/flowInstances"
    assert json.loads(sent.content) == {
        "type": 0,
        "fromTriggerTime": 1,
        "toTriggerTime": 2,
        "status": "1,-1",
        "owner": "",
        "expression": "",
        "pagination": {
            "pageNo": first_page,
            "pageSize": 10,
            "sorters": [{"field": "startTime", "order": "ASC"}],
        },
    }


# -- construction and credentials ------------------------------------------------------------------


def test_constructor_refuses_half_a_key_pair_two_transports_and_unknown_versions() -> None:
    with pytest.raises(ValueError, match="together"):
        FlowyardClient(URL, ORG, USER, access_key="a")
    with httpx.Client() as http, pytest.raises(ValueError, match="not both"):
        FlowyardClient(URL, ORG, USER, transport=httpx.MockTransport(FakeEnos()), http=http)
    with pytest.raises(ValueError, match=r"v2\.0, v2\.1"):
        FlowyardClient(URL, ORG, USER, api_version="v3")


def test_a_given_http_client_is_used_and_left_open(server: FakeEnos) -> None:
    http = httpx.Client(transport=httpx.MockTransport(server))
    with FlowyardClient(URL + "/", ORG, USER, http=http) as client:
        client.enable_flow(1)
    assert not http.is_closed
    assert str(server.requests[0].url).startswith(URL + "/batch-processing-service/v2.1/flows?")
    http.close()


def write_credentials(path: Any, **overrides: Any) -> None:
    raw = {
        "url": URL,
        "orgId": ORG,
        "userId": USER,
        "username": "admin",
        "accessKey": ACCESS_KEY,
        "secretKey": SECRET_KEY,
    }
    raw.update(overrides)
    path.write_text(json.dumps(raw), encoding="utf-8")


def test_default_credentials_path_follows_flowyard_home(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYARD_HOME", str(tmp_path))
    assert default_credentials_path() == tmp_path / "credentials.json"
    monkeypatch.delenv("FLOWYARD_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_credentials_path() == tmp_path / "home" / ".flowyard" / "credentials.json"


def test_from_credentials_reads_the_default_file_and_signs(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, server: FakeEnos
) -> None:
    monkeypatch.setenv("FLOWYARD_HOME", str(tmp_path))
    write_credentials(tmp_path / "credentials.json")
    with FlowyardClient.from_credentials(transport=httpx.MockTransport(server)) as client:
        client.enable_flow(1)
    (sent,) = server.api_requests
    assert sent.url.params["userId"] == USER
    assert sent.url.params["orgId"] == ORG
    assert sent.headers["apim-accesstoken"] == "token-1"


def test_from_credentials_url_override_and_keyless_file(tmp_path: Any, server: FakeEnos) -> None:
    path = tmp_path / "creds.json"
    write_credentials(path, url="http://elsewhere", accessKey=None, secretKey=None)
    other = "http://override.test:9000"
    with FlowyardClient.from_credentials(path, url=other, transport=httpx.MockTransport(server)) as client:
        client.enable_flow(1)
    (sent,) = server.requests
    assert str(sent.url).startswith(other + "/batch-processing-service/v2.1/flows")
    assert "apim-accesstoken" not in sent.headers


def test_credentials_errors_name_the_file(tmp_path: Any) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(InvalidParameterError, match=r"nope\.json"):
        Credentials.load(missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match="not valid JSON"):
        Credentials.load(broken)
    partial = tmp_path / "partial.json"
    write_credentials(partial, userId="", orgId=None)
    with pytest.raises(InvalidParameterError, match="missing orgId, userId"):
        Credentials.load(partial)
    half = tmp_path / "half.json"
    write_credentials(half, secretKey=None)
    with pytest.raises(InvalidParameterError, match="together"):
        Credentials.load(half)


def test_credentials_round_trip_and_hide_the_secret(tmp_path: Any) -> None:
    path = tmp_path / "c.json"
    write_credentials(path)
    credentials = Credentials.load(path)
    assert credentials.to_mapping() == json.loads(path.read_text(encoding="utf-8"))
    assert SECRET_KEY not in repr(credentials)
    assert credentials.has_keys
