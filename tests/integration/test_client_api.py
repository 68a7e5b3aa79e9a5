"""flowyard.client against the real application, in-process, for both API versions.

The app is built by ``create_app`` on a fresh SQLite data directory and
runs, lifespan included, on an event loop in a background thread (an anyio
blocking portal). The client reads the ``credentials.json`` the app wrote
and reaches it through :class:`PortalASGITransport`, a synchronous httpx
transport over ``httpx.ASGITransport``: every call is signed, verified,
dispatched and stored for real, without a socket. (Starlette's
``TestClient`` would do too, through ``FlowyardClient(http=...)``, but it is
moving from httpx to httpx2.)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("flowyard.api.app")

from anyio.from_thread import BlockingPortal, start_blocking_portal
from click.testing import CliRunner
from starlette.applications import Starlette

from flowyard.cli.dirs import dirs_group
from flowyard.cli.flows import flows_group
from flowyard.cli.output import ClientProvider
from flowyard.client import (
    AuthError,
    Credentials,
    FlowyardClient,
    InvalidParameterError,
    InvalidUserError,
    TokenServiceError,
)
from flowyard.clock import FakeClock
from flowyard.roles.embedded import create_app
from flowyard.settings import Settings

EXAMPLES = Path("/work/shared/examples/enos")
IMPORT_EXAMPLE = EXAMPLES / "seed_000_import_flow_request.json"
EXPORT_EXAMPLE = EXAMPLES / "seed_001_export_flow_response.json"


def example(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


class PortalASGITransport(httpx.BaseTransport):
    """Send synchronous httpx requests to an ASGI app whose event loop runs in ``portal``."""

    def __init__(self, app: Starlette, portal: BlockingPortal) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def round_trip() -> tuple[int, httpx.Headers, bytes]:
            response = await self._asgi.handle_async_request(request)
            try:
                return response.status_code, response.headers, await response.aread()
            finally:
                await response.aclose()

        status, headers, content = self._portal.call(round_trip)
        return httpx.Response(status, headers=headers, content=content, request=request)


@dataclass(frozen=True)
class Server:
    """A running app and the credentials it wrote on first start."""

    transport: PortalASGITransport
    credentials: Credentials

    def client(self, credentials: Credentials | None = None, **kwargs: Any) -> FlowyardClient:
        return FlowyardClient.for_credentials(
            credentials or self.credentials, transport=self.transport, **kwargs
        )


@contextmanager
def running(tmp_path: Path, clock: FakeClock | None = None, **settings: Any) -> Iterator[Server]:
    app = create_app(Settings(data_dir=tmp_path, **settings), clock=clock)
    credentials = Credentials.load(tmp_path / "credentials.json")
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        yield Server(PortalASGITransport(app, portal), credentials)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running(tmp_path) as started:
        yield started


@pytest.fixture(params=["v2.1", "v2.0"])
def client(request: pytest.FixtureRequest, server: Server) -> Iterator[FlowyardClient]:
    with server.client(api_version=request.param) as flowyard:
        yield flowyard


def root_id(client: FlowyardClient) -> str:
    (root,) = [node for node in client.list_directories() if node.get("title") == "Workflow"]
    return str(root["key"])


def import_example(client: FlowyardClient, name: str, dir_id: str | None = None) -> int:
    definition = example(IMPORT_EXAMPLE)["flowJson"]
    return client.import_flow(definition, flow_name=name, dir_id=dir_id or root_id(client))


def children(tree: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The children of the directory ``key`` anywhere in the tree."""
    for node in tree:
        if str(node.get("key")) == key:
            return list(node.get("children", []))
        found = children(node.get("children", []), key)
        if found:
            return found
    return []


# -- flows -----------------------------------------------------------------------------------------


def test_import_then_export_round_trips_the_shared_example(client: FlowyardClient) -> None:
    sent = example(IMPORT_EXAMPLE)["flowJson"]
    flow_id = import_example(client, "outuser")
    exported = client.export_flow(flow_id)

    assert exported["name"] == "outuser"  # flowName wins over flowJson.name
    for key in ("cycle", "cron", "submitter", "type", "syncType", "startTime", "alertMode"):
        assert exported[key] == sent[key], key
    assert json.loads(exported["parameters"]) == json.loads(sent["parameters"])
    (task,) = exported["tasks"]
    (sent_task,) = sent["tasks"]
    for key in ("name", "type", "cmd", "resource", "timeout", "retryLimit", "retryInterval", "successCode"):
        assert task[key] == sent_task[key], key
    assert json.loads(task["runMode"]) == json.loads(sent_task["runMode"])
    for key in ("flowLinks", "taskLinks", "relations", "linkRelations"):
        assert exported[key] == [], key


def test_an_export_imports_again_unchanged(client: FlowyardClient) -> None:
    first = client.export_flow(import_example(client, "first"))
    second = client.export_flow(client.import_flow(first, flow_name="second", dir_id=root_id(client)))
    assert {**second, "name": "first"} == first


def test_export_fields_follow_the_api_version(client: FlowyardClient) -> None:
    exported = client.export_flow(import_example(client, "versioned"))
    v20_only = {"alertTo", "appId"} & set(exported)
    if client.api_version == "v2.0":
        assert v20_only == {"alertTo", "appId"}
        assert "waitCode" in exported["tasks"][0]
    else:
        assert v20_only == set()
        assert "waitCode" not in exported["tasks"][0]


def test_the_v21_export_example_imports(client: FlowyardClient) -> None:
    definition = example(EXPORT_EXAMPLE)["data"]
    flow_id = client.import_flow(definition, flow_name="nFlow", dir_id=root_id(client), desc="ga")
    assert client.export_flow(flow_id)["tasks"][0]["cmd"] == "echo 'hello'"


def test_import_uses_a_free_requested_id(client: FlowyardClient) -> None:
    flow_id = client.import_flow(
        example(IMPORT_EXAMPLE)["flowJson"], flow_name="wanted", dir_id=root_id(client), flow_id=4242
    )
    assert flow_id == 4242
    again = client.import_flow(
        example(IMPORT_EXAMPLE)["flowJson"], flow_name="clash", dir_id=root_id(client), flow_id=4242
    )
    assert again != 4242


def test_get_flow_reports_the_flow_and_the_callers_rights(client: FlowyardClient) -> None:
    flow_id = import_example(client, "detailed")
    detail = client.get_flow(flow_id)
    assert detail["flowId"] == flow_id
    assert detail["flowName"] == "detailed"
    assert detail["active"] == 0
    assert detail["hasEditPri"] is True
    graph = json.loads(detail["graph"])
    assert [task["taskName"] for task in graph["tasks"]] == ["tass"]
    assert client.load_flow_for_edit(flow_id)["flowId"] == flow_id


def test_enable_and_disable_switch_active(client: FlowyardClient) -> None:
    flow_id = import_example(client, "switch")
    client.enable_flow(flow_id)
    assert client.get_flow(flow_id)["active"] == 1
    client.disable_flow(flow_id)
    assert client.get_flow(flow_id)["active"] == 0


def test_delete_removes_the_flow(client: FlowyardClient) -> None:
    flow_id = import_example(client, "doomed")
    client.delete_flow(flow_id)
    with pytest.raises(InvalidParameterError):
        client.get_flow(flow_id)
    assert [f for f in client.search_flows() if f["flowName"] == "doomed"] == []


def test_search_and_my_flows(client: FlowyardClient) -> None:
    ids = {name: import_example(client, name) for name in ("alpha", "beta", "alphabet")}
    found = client.search_flows("alpha", page_size=10)
    assert sorted(f["flowName"] for f in found) == ["alpha", "alphabet"]
    assert {str(ids["alpha"]), str(ids["alphabet"])} == {str(f["flowId"]) for f in found}

    everything = client.search_flows(page_size=50, sorters=[("create_time", "ASC")])
    assert [f["flowName"] for f in everything] == ["alpha", "beta", "alphabet"]
    first_page = client.search_flows(page_size=2, sorters=[("create_time", "ASC")])
    second_page = client.search_flows(
        page_no=(1 if client.api_version == "v2.0" else 2), page_size=2, sorters=[("create_time", "ASC")]
    )
    assert [f["flowName"] for f in first_page + second_page] == ["alpha", "beta", "alphabet"]

    mine = client.get_my_flows("bet")
    assert [(f["flowName"], f["editable"]) for f in mine] == [("beta", True), ("alphabet", True)]
    assert len(client.get_my_flows()) == 3


def test_search_refuses_an_unknown_sort_field(client: FlowyardClient) -> None:
    with pytest.raises(InvalidParameterError, match="Illegal field"):
        client.search_flows(sorters=[("flowName", "ASC")])


# -- errors ----------------------------------------------------------------------------------------


def test_unknown_flow_is_an_invalid_parameter(client: FlowyardClient) -> None:
    for call in (client.get_flow, client.export_flow, client.enable_flow, client.delete_flow):
        with pytest.raises(InvalidParameterError) as caught:
            call(987654)
        assert caught.value.code == 62102


def test_bad_import_input_is_an_invalid_parameter(client: FlowyardClient) -> None:
    definition = example(IMPORT_EXAMPLE)["flowJson"]
    with pytest.raises(InvalidParameterError, match="Directory does not exist"):
        client.import_flow(definition, flow_name="x", dir_id="0" * 32)
    with pytest.raises(InvalidParameterError):
        client.import_flow(definition, flow_name="", dir_id=root_id(client))
    import_example(client, "taken")
    with pytest.raises(InvalidParameterError, match="unique"):
        import_example(client, "taken")


def test_a_wrong_secret_is_refused_by_the_token_service(server: Server) -> None:
    wrong = dataclasses.replace(server.credentials, secret_key="wrong")
    with server.client(wrong) as client, pytest.raises(TokenServiceError) as caught:
        client.list_directories()
    assert caught.value.code == 1003


def test_an_unsigned_request_is_refused(server: Server) -> None:
    credentials = server.credentials
    client = FlowyardClient(
        credentials.url, credentials.org_id, credentials.user_id, transport=server.transport
    )
    with client, pytest.raises(AuthError, match="apim-accesstoken"):
        client.list_directories()


def test_unknown_user_is_an_invalid_user(server: Server) -> None:
    credentials = server.credentials
    stranger = Credentials(
        url=credentials.url,
        org_id=credentials.org_id,
        user_id="u00000000000000",
        access_key=credentials.access_key,
        secret_key=credentials.secret_key,
    )
    with server.client(stranger) as client, pytest.raises(InvalidUserError):
        client.list_directories()


# -- directories and time --------------------------------------------------------------------------


def test_directories_create_and_list(client: FlowyardClient) -> None:
    root = root_id(client)
    etl = client.create_directory(root, "etl")
    assert len(etl) == 32
    nested = client.create_directory(etl, "daily")
    flow_id = import_example(client, "in-etl", dir_id=etl)

    tree = client.list_directories()
    assert [(c["title"], c["key"], c["isDirectory"]) for c in children(tree, root)] == [("etl", etl, True)]
    below = {c["title"]: c for c in children(tree, etl)}
    assert below["daily"]["key"] == nested
    assert below["in-etl"]["isDirectory"] is False
    assert int(below["in-etl"]["key"]) == flow_id

    with pytest.raises(InvalidParameterError, match="same name"):
        client.create_directory(root, "etl")
    with pytest.raises(InvalidParameterError, match="parentId not found"):
        client.create_directory("f" * 32, "orphan")
    with pytest.raises(InvalidParameterError, match="dirName"):
        client.create_directory(root, "")


def test_time_apis(client: FlowyardClient) -> None:
    assert client.get_current_time() > 1_700_000_000_000
    assert client.get_time_zone().startswith("GMT")


# -- tokens over time ------------------------------------------------------------------------------

START = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def epoch_ms(when: datetime) -> int:
    return int(when.timestamp()) * 1000


def test_the_client_asks_again_near_expiry_and_gets_a_new_token_after_it(tmp_path: Path) -> None:
    clock = FakeClock(START)  # one clock for both: no skew
    with running(tmp_path, clock, token_ttl_seconds=600) as server, server.client(clock=clock) as client:
        assert client.auth is not None
        client.list_directories()
        first = client.auth.token
        assert first is not None
        assert first.renew_at_ms == epoch_ms(START + timedelta(seconds=600 - 60))

        clock.advance(timedelta(seconds=590))  # past the client's margin, inside the server's 600 s
        client.list_directories()
        client.list_directories()  # the identical request in the same millisecond is not a replay
        again = client.auth.token
        # EnOS hands out the same token until it expires, with the seconds it has left (10 s here).
        assert again is not None
        assert again.value == first.value
        assert again.renew_at_ms == epoch_ms(START + timedelta(seconds=595))

        clock.advance(timedelta(seconds=11))
        client.list_directories()
        renewed = client.auth.token
    assert renewed is not None
    assert renewed.value != first.value


def test_a_token_the_server_calls_expired_is_replaced_and_the_call_retried(tmp_path: Path) -> None:
    server_clock = FakeClock(START)
    client_clock = FakeClock(START)
    with (
        running(tmp_path, server_clock, token_ttl_seconds=600) as server,
        server.client(clock=client_clock) as client,
    ):
        assert client.auth is not None
        client.list_directories()
        first = client.auth.token
        server_clock.advance(timedelta(seconds=610))  # the token expired at 600 s
        client_clock.advance(timedelta(seconds=520))  # a slow client clock still trusts it (skew 90 s)
        assert client.list_directories()[0]["title"] == "Workflow"
        second = client.auth.token
    assert first is not None and second is not None
    assert first.value != second.value


# -- the CLI on the real app -----------------------------------------------------------------------


def test_cli_import_export_and_dirs_on_the_real_app(server: Server) -> None:
    provider = ClientProvider(lambda options: server.client(api_version=options.api_version))
    runner = CliRunner()
    created = runner.invoke(dirs_group, ["create", "etl"], obj=provider)
    assert created.exit_code == 0, created.output
    dir_id = created.stdout.strip()

    imported = runner.invoke(
        flows_group, ["import", str(IMPORT_EXAMPLE), "--name", "cli-flow", "--dir", dir_id], obj=provider
    )
    assert imported.exit_code == 0, imported.output
    flow_id = int(imported.stdout)

    exported = runner.invoke(flows_group, ["export", str(flow_id), "--api-version", "v2.0"], obj=provider)
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["name"] == "cli-flow"

    tree = runner.invoke(dirs_group, ["list"], obj=provider)
    assert f"cli-flow  (flow {flow_id})" in tree.stdout
    assert f"etl/  {dir_id}" in tree.stdout

    missing = runner.invoke(flows_group, ["delete", "987654"], obj=provider)
    assert missing.exit_code == 2
    assert missing.stderr.startswith("Error: ")
