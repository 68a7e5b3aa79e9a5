"""`flowyard flows` and `flowyard dirs` through CliRunner, on a client whose transport is a mock server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result

from flowyard.cli.dirs import dirs_group
from flowyard.cli.flows import flows_group
from flowyard.cli.output import ClientProvider, ConnectionOptions, default_client_factory, render_table
from flowyard.client import FlowyardClient

URL = "http://flowyard.test"
EXAMPLES = Path("/work/shared/examples/enos")

DEFINITION: dict[str, Any] = {
    "name": "nFlow",
    "cycle": "D",
    "cron": "0 0 0 * * ? *",
    "parameters": "[]",
    "type": 1,
    "tasks": [{"name": "tass", "type": "COMMAND", "cmd": "echo 'hello'"}],
    "flowLinks": [],
    "taskLinks": [],
    "relations": [],
    "linkRelations": [],
}

FLOW_DETAIL: dict[str, Any] = {
    "flowId": 2479,
    "flowName": "test0722-1",
    "active": 0,
    "type": 0,
    "cycle": "D",
    "freq": "0 0 0 * * ? *",
    "parameters": '[{"key":"ouids","value":"o1"},{"key":"overwrite","value":"true"}]',
    "owner": "alice",
    "graph": json.dumps(
        {
            "tasks": [
                {"taskName": "MDM-Sync", "taskId": "104506", "nodeId": "t_104506"},
                {"task_name": "MDMHive", "task_id": "104507", "nodeId": "t_104507"},
            ],
            "flows": [],
            "relations": [{"cycleGap": "D0", "rerun": True, "source": "t_104506", "target": "t_104507"}],
        }
    ),
}

DIRECTORIES: list[dict[str, Any]] = [
    {
        "title": "Workflow",
        "type": 1,
        "key": "root0",
        "isDirectory": True,
        "children": [
            {"children": [], "title": "String1", "type": 1, "key": "dir1", "isDirectory": True},
            {
                "title": "ffdir",
                "type": 1,
                "key": "dir2",
                "isDirectory": True,
                "children": [
                    {"editable": True, "title": "workflow1", "type": 1, "key": 2512.0, "isDirectory": False}
                ],
            },
            {"children": [], "title": "dirt", "type": 1, "key": "dir3", "isDirectory": True},
        ],
    }
]


class MockServer:
    """Answers ``resource.action`` with the configured data (or response); records what it got."""

    def __init__(self, version: str = "v2.1") -> None:
        self.version = version
        self.answers: dict[str, Any] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.url.path.rsplit('/', 1)[1]}.{request.url.params['action']}"
        answer = self.answers.get(key, "")
        if isinstance(answer, httpx.Response):
            return answer
        status = "code" if self.version == "v2.1" else "status"
        return httpx.Response(200, json={status: 0, "msg": "OK", "data": answer})

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


class Cli:
    """Runs a command group with a ClientProvider whose clients talk to ``server``."""

    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.options: list[ConnectionOptions] = []

    def _factory(self, options: ConnectionOptions) -> FlowyardClient:
        self.options.append(options)
        return FlowyardClient(
            options.url or URL,
            "o1",
            "u1",
            api_version=options.api_version,
            transport=httpx.MockTransport(self.server),
        )

    def __call__(self, group: click.Group, *args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(group, list(args), input=stdin, obj=ClientProvider(self._factory))


@pytest.fixture
def server() -> MockServer:
    return MockServer()


@pytest.fixture
def cli(server: MockServer) -> Cli:
    return Cli(server)


def failure(code: int, msg: str) -> httpx.Response:
    return httpx.Response(200, json={"code": code, "msg": msg, "data": None})


# -- output formats --------------------------------------------------------------------------------


def test_render_table_aligns_columns_including_wide_characters() -> None:
    table = render_table(("ID", "NAME", "OK"), [(1, "日報", True), (22, "b", None)])
    assert table.splitlines() == [
        "ID  NAME  OK",
        "--  ----  ---",
        "1   日報  yes",
        "22  b",
    ]


def test_search_prints_a_table(cli: Cli, server: MockServer) -> None:
    server.answers["flows.search"] = [
        {"flowId": "20", "flowName": "vd_text"},
        {"flowId": "21", "flowName": "dim"},
    ]
    result = cli(flows_group, "search")
    assert result.exit_code == 0, result.output
    assert result.stdout == "FLOW ID  NAME\n-------  -------\n20       vd_text\n21       dim\n"


def test_search_json_prints_exactly_the_data(cli: Cli, server: MockServer) -> None:
    data = [{"flowId": "20", "flowName": "vd_text", "extra": None}]
    server.answers["flows.search"] = data
    result = cli(flows_group, "search", "vd", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == data
    assert server.body() == {"expression": "vd", "pagination": {"pageNo": 1, "pageSize": 10, "sorters": []}}


def test_search_passes_paging_and_sorting(cli: Cli, server: MockServer) -> None:
    server.answers["flows.search"] = []
    result = cli(
        flows_group,
        "search",
        "--page",
        "2",
        "--size",
        "5",
        "--sort",
        "update_time:desc",
        "--sort",
        "start_time",
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No flows found" in result.stderr
    assert server.body()["pagination"] == {
        "pageNo": 2,
        "pageSize": 5,
        "sorters": [{"field": "update_time", "order": "DESC"}, {"field": "start_time", "order": "ASC"}],
    }


def test_a_bad_sort_is_a_usage_error_before_any_request(cli: Cli, server: MockServer) -> None:
    result = cli(flows_group, "search", "--sort", "update_time:sideways")
    assert result.exit_code == 2
    assert "--sort" in result.stderr
    assert server.requests == []


def test_mine_lists_flows_with_editability(cli: Cli, server: MockServer) -> None:
    server.answers["flows.getMyFlow"] = [
        {"flowId": "3318", "editable": True, "flowName": "reduce_entity", "cycle": "D"},
        {"flowId": "2809", "editable": False, "flowName": "map", "cycle": "H"},
    ]
    result = cli(flows_group, "mine", "re")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[2].split() == ["3318", "reduce_entity", "D", "yes"]
    assert result.stdout.splitlines()[3].split() == ["2809", "map", "H", "no"]
    assert server.requests[0].url.params["expression"] == "re"


def test_get_shows_fields_tasks_and_relations(cli: Cli, server: MockServer) -> None:
    server.answers["flows.get"] = FLOW_DETAIL
    result = cli(flows_group, "get", "2479")
    assert result.exit_code == 0
    out = result.stdout
    assert "flowName    test0722-1" in out
    assert "active      0 (paused)" in out
    assert "parameters  ouids=o1, overwrite=true" in out
    assert "t_104507  104507   MDMHive" in out  # snake_case graph keys are read too
    assert "t_104506  t_104507  D0         yes" in out
    assert server.requests[0].url.params["flowId"] == "2479"


def test_get_json_prints_exactly_the_data(cli: Cli, server: MockServer) -> None:
    server.answers["flows.get"] = FLOW_DETAIL
    result = cli(flows_group, "get", "2479", "--json")
    assert json.loads(result.stdout) == FLOW_DETAIL


@pytest.mark.parametrize(
    "document",
    [
        DEFINITION,
        {"code": 0, "msg": "OK", "data": DEFINITION},
        {"status": 0, "msg": "Success", "data": DEFINITION},
        {"flowName": "x", "dirId": "y", "flowJson": DEFINITION},
    ],
    ids=["definition", "v2.1 export answer", "v2.0 export answer", "import request"],
)
def test_import_accepts_a_definition_or_an_export_answer(
    cli: Cli, server: MockServer, tmp_path: Path, document: dict[str, Any]
) -> None:
    file = tmp_path / "flow.json"
    file.write_text(json.dumps(document), encoding="utf-8")
    server.answers["flows.import"] = {"flowId": 2839}
    result = cli(flows_group, "import", str(file), "--name", "daily", "--dir", "d1")
    assert result.exit_code == 0, result.output
    assert result.stdout == "2839\n"
    assert server.body() == {"flowName": "daily", "desc": "", "dirId": "d1", "flowJson": DEFINITION}


def test_import_json_desc_and_flow_id(cli: Cli, server: MockServer, tmp_path: Path) -> None:
    file = tmp_path / "flow.json"
    file.write_text(json.dumps(DEFINITION), encoding="utf-8")
    server.answers["flows.import"] = {"flowId": 77}
    result = cli(
        flows_group,
        "import",
        str(file),
        "--name",
        "n",
        "--dir",
        "d",
        "--desc",
        "hi",
        "--flow-id",
        "77",
        "--json",
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"flowId": 77}
    assert server.body()["desc"] == "hi"
    assert server.body()["flowId"] == 77


def test_import_reads_stdin_for_a_dash(cli: Cli, server: MockServer) -> None:
    server.answers["flows.import"] = {"flowId": 3}
    result = cli(flows_group, "import", "-", "--name", "n", "--dir", "d", stdin=json.dumps(DEFINITION))
    assert result.exit_code == 0, result.output
    assert result.stdout == "3\n"
    assert server.body()["flowJson"] == DEFINITION


def test_import_of_the_shared_example_sends_its_flow_json(cli: Cli, server: MockServer) -> None:
    example = json.loads((EXAMPLES / "seed_000_import_flow_request.json").read_text(encoding="utf-8"))
    server.answers["flows.import"] = {"flowId": 1}
    result = cli(
        flows_group,
        "import",
        str(EXAMPLES / "seed_000_import_flow_request.json"),
        "--name",
        "a",
        "--dir",
        "b",
    )
    assert result.exit_code == 0
    assert server.body()["flowJson"] == example["flowJson"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "Expecting property name"),
        ("[1, 2]", "expected a JSON object"),
        ('{"code": 62102, "msg": "Flow validation exception", "data": null}', "failed answer"),
    ],
)
def test_import_of_a_bad_file_is_a_usage_error(
    cli: Cli, server: MockServer, tmp_path: Path, content: str, message: str
) -> None:
    file = tmp_path / "flow.json"
    file.write_text(content, encoding="utf-8")
    result = cli(flows_group, "import", str(file), "--name", "n", "--dir", "d")
    assert result.exit_code == 2
    assert message in result.stderr
    assert server.requests == []


def test_export_prints_json_or_writes_a_file(cli: Cli, server: MockServer, tmp_path: Path) -> None:
    server.answers["flows.export"] = DEFINITION
    printed = cli(flows_group, "export", "5")
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == DEFINITION

    target = tmp_path / "out.workflow"
    written = cli(flows_group, "export", "5", "-o", str(target))
    assert written.exit_code == 0
    assert written.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == DEFINITION
    assert [r.url.params["flowId"] for r in server.requests] == ["5", "5"]


@pytest.mark.parametrize(
    ("command", "method", "action", "message"),
    [
        ("delete", "GET", "delete", "Deleted flow 7."),
        ("enable", "POST", "enable", "Enabled flow 7"),
        ("disable", "POST", "disable", "Disabled flow 7"),
    ],
)
def test_delete_enable_disable(
    cli: Cli, server: MockServer, command: str, method: str, action: str, message: str
) -> None:
    result = cli(flows_group, command, "7")
    assert result.exit_code == 0
    assert message in result.stdout
    (request,) = server.requests
    assert (request.method, request.url.params["action"]) == (method, action)
    as_json = cli(flows_group, command, "7", "--json")
    assert json.loads(as_json.stdout) == ""


def test_move_names_the_directory(cli: Cli, server: MockServer) -> None:
    result = cli(flows_group, "move", "7", "--dir", "d1")
    assert result.exit_code == 0
    assert "Moved flow 7 into directory d1." in result.stdout
    (request,) = server.requests
    assert (request.method, request.url.params["action"]) == ("POST", "move")
    assert json.loads(request.content) == {"flowId": 7, "dirId": "d1"}
    assert cli(flows_group, "move", "7").exit_code == 2  # --dir is required


# -- errors and exit codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "exit_code", "message"),
    [
        (failure(62102, "Directory does not exist"), 2, "Directory does not exist"),
        (failure(62101, "userId does not exist"), 4, "userId does not exist"),
        (failure(62103, "User has no privilege."), 4, "User has no privilege."),
        (failure(62105, "Your account has been locked"), 4, "Your account has been locked"),
        (failure(62104, "This workflow is relied on"), 5, "This workflow is relied on"),
        (failure(62109, "Internal server exception"), 1, "Internal server exception"),
        (failure(12345, "Something new"), 1, "Something new"),
        (
            httpx.Response(401, json={"code": 401, "msg": "Signature mismatch", "data": None}),
            3,
            "Signature mismatch",
        ),
        (httpx.Response(502, text="<html>bad gateway</html>"), 6, "HTTP 502"),
    ],
)
def test_errors_go_to_stderr_with_the_exit_code_of_their_class(
    cli: Cli, server: MockServer, answer: httpx.Response, exit_code: int, message: str
) -> None:
    server.answers["flows.delete"] = answer
    result = cli(flows_group, "delete", "7")
    assert result.exit_code == exit_code
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr


def test_an_unreachable_server_exits_6(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def factory(options: ConnectionOptions) -> FlowyardClient:
        return FlowyardClient(URL, "o", "u", transport=httpx.MockTransport(refuse))

    result = CliRunner().invoke(dirs_group, ["list"], obj=ClientProvider(factory))
    assert result.exit_code == 6
    assert URL in result.stderr


def test_connection_options_reach_the_factory(cli: Cli, server: MockServer, tmp_path: Path) -> None:
    server.version = "v2.0"
    server.answers["flows.getMyFlow"] = []
    creds = tmp_path / "c.json"
    result = cli(
        flows_group, "mine", "--credentials", str(creds), "--url", "http://other:1", "--api-version", "v2.0"
    )
    assert result.exit_code == 0, result.output
    assert cli.options == [ConnectionOptions(credentials=creds, url="http://other:1", api_version="v2.0")]
    assert str(server.requests[0].url).startswith("http://other:1/dataflow-batch-service/v2.0/flows?")


def test_without_a_provider_the_credentials_file_is_used(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = CliRunner().invoke(flows_group, ["mine", "--credentials", str(missing)])
    assert result.exit_code == 2
    assert str(missing) in result.stderr

    creds = tmp_path / "c.json"
    creds.write_text(json.dumps({"url": "http://a:1", "orgId": "o", "userId": "u"}), encoding="utf-8")
    options = ConnectionOptions(credentials=creds, url="http://b:2", api_version="v2.0")
    with default_client_factory(options) as client:
        assert (client.url, client.api_version, client.auth) == ("http://b:2", "v2.0", None)


# -- dirs ------------------------------------------------------------------------------------------


def test_dirs_list_draws_the_tree(cli: Cli, server: MockServer) -> None:
    server.answers["directories.listWorkFlowDirs"] = DIRECTORIES
    result = cli(dirs_group, "list")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Workflow/  root0",
        "├── String1/  dir1",
        "├── ffdir/  dir2",
        "│   └── workflow1  (flow 2512)",
        "└── dirt/  dir3",
    ]


def test_dirs_list_json(cli: Cli, server: MockServer) -> None:
    server.answers["directories.listWorkFlowDirs"] = DIRECTORIES
    result = cli(dirs_group, "list", "--json")
    assert json.loads(result.stdout) == DIRECTORIES


def test_dirs_create_under_a_given_parent(cli: Cli, server: MockServer) -> None:
    server.answers["directories.create"] = {"dirId": "62e3038840514caf9af60ad36878851e"}
    result = cli(dirs_group, "create", "etl", "--parent", "dir2")
    assert result.exit_code == 0
    assert result.stdout == "62e3038840514caf9af60ad36878851e\n"
    assert server.body() == {"parentId": "dir2", "dirName": "etl"}
    assert len(server.requests) == 1


def test_dirs_create_defaults_to_the_root(cli: Cli, server: MockServer) -> None:
    server.answers["directories.listWorkFlowDirs"] = DIRECTORIES
    server.answers["directories.create"] = {"dirId": "new"}
    result = cli(dirs_group, "create", "etl", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"dirId": "new"}
    assert server.body() == {"parentId": "root0", "dirName": "etl"}


def test_dirs_create_without_a_root_fails(cli: Cli, server: MockServer) -> None:
    server.answers["directories.listWorkFlowDirs"] = []
    result = cli(dirs_group, "create", "etl")
    assert result.exit_code == 1
    assert "--parent" in result.stderr
    assert len(server.requests) == 1
