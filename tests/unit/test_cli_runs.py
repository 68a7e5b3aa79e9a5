"""`flowyard trigger`, `flowyard instances` and `flowyard logs` through CliRunner, against a fake server.

The fake server answers the EnOS envelopes over ``httpx.MockTransport`` and
plays scripted answers, one per poll. Time comes from a FakeClock that only
the fake sleeper moves: nothing sleeps and nothing reads the clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result

from flowyard.cli.instances import instances_group
from flowyard.cli.logs import logs_command
from flowyard.cli.output import ClientProvider, ConnectionOptions
from flowyard.cli.run_context import RunEnvironment
from flowyard.cli.trigger import trigger_command
from flowyard.client import FlowyardClient
from flowyard.clock import FakeClock
from flowyard.domain.states import Status

URL = "http://flowyard.test"
START = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
START_MS = 1714564800000
INSTANCE_ID = "7-20240501120000"
TASKS = {"extract": "101-20240501120000", "load": "102-20240501120000"}


class Script:
    """Answers in order, one per request; the last one repeats."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def next(self) -> Any:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class FakeServer:
    """Answers ``resource.action`` with data, an httpx.Response or a Script of them; records requests."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.url.path.rsplit('/', 1)[1]}.{request.url.params['action']}"
        answer = self.answers.get(key, "")
        if isinstance(answer, Script):
            answer = answer.next()
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json={"code": 0, "msg": "OK", "data": answer})

    def actions(self) -> list[str]:
        return [request.url.params["action"] for request in self.requests]

    def bodies(self, action: str) -> list[Any]:
        return [json.loads(r.content) for r in self.requests if r.url.params["action"] == action]

    def params(self, action: str) -> list[dict[str, str]]:
        return [dict(r.url.params) for r in self.requests if r.url.params["action"] == action]


class Cli:
    """Runs commands with a RunEnvironment: clients on ``server``, a fake clock moved by the sleeper."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.clock = FakeClock(START)
        self.sleeps: list[float] = []
        self.interrupt_after: int | None = None

    def sleep(self, seconds: float) -> None:
        if self.interrupt_after is not None and len(self.sleeps) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.sleeps.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))

    def _factory(self, options: ConnectionOptions) -> FlowyardClient:
        transport = httpx.MockTransport(self.server)
        return FlowyardClient(URL, "o1", "u1", api_version=options.api_version, transport=transport)

    def __call__(self, command: click.Command, *args: str) -> Result:
        environment = RunEnvironment(self._factory, clock=self.clock, sleep=self.sleep, zone=UTC)
        return CliRunner().invoke(command, list(args), obj=environment)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def cli(server: FakeServer) -> Cli:
    return Cli(server)


def failure(code: int, msg: str) -> httpx.Response:
    return httpx.Response(200, json={"code": code, "msg": msg, "data": None})


def instance(status: Status, tasks: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """A FlowInstance of flow 7 whose graph has the tasks ``{name: status name}``."""
    nodes = [
        {
            "taskName": name,
            "taskInstId": TASKS[name],
            "taskId": int(TASKS[name].split("-")[0]),
            "nodeId": "t_" + TASKS[name].split("-")[0],
            "status": task_status,
        }
        for name, task_status in (tasks or {}).items()
    ]
    graph = {"id": 7, "instId": INSTANCE_ID, "tasks": nodes, "flows": [], "relations": []}
    return {
        "instanceId": INSTANCE_ID,
        "flowId": 7,
        "flowName": "daily",
        "cycle": "D",
        "freq": "0 0 0 * * ? *",
        "parameters": '[{"key":"region","value":"eu"}]',
        "graph": json.dumps(graph),
        "status": int(status),
        "statusDesc": status.name,
        "triggerTime": "2024-05-01 12:00:00",
        "startTime": "2024-05-01 12:00:05",
        "endTime": "2024-05-01 12:01:10" if status.final else "",
        "calDt": "2024-04-30",
        "owner": "alice",
        **fields,
    }


def task_instance(status: Status) -> dict[str, Any]:
    return {
        "instanceId": TASKS["extract"],
        "taskId": 101,
        "taskName": "extract",
        "cycle": "D",
        "status": int(status),
        "stsDesc": status.name,
        "runNum": 1,
        "recallNum": 0,
        "recallLimit": 3,
        "timeout": 300,
        "isTimeout": False,
        "triggerTime": "2024-05-01 12:00:00",
        "startTime": "2024-05-01 12:00:05",
        "endTime": "",
        "flowInstId": INSTANCE_ID,
        "cmd": "echo hi",
        "doAs": "etl",
    }


def lines(text: str) -> list[str]:
    return text.splitlines()


# -- trigger ---------------------------------------------------------------------------------------


def test_trigger_runs_the_flow_now_and_prints_the_instance_id(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    result = cli(trigger_command, "7")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{INSTANCE_ID}\n"
    assert server.bodies("trigger") == [{"flowId": 7, "triggerTime": START_MS}]
    assert server.actions() == ["trigger"]


def test_trigger_json_prints_the_api_data(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    result = cli(trigger_command, "7", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"flowInstanceId": INSTANCE_ID}


@pytest.mark.parametrize(
    ("at", "millis"),
    [
        ("2024-04-30T08:30:00", 1714465800000),  # naive: the environment's zone (UTC here)
        ("2024-04-30T10:30:00+02:00", 1714465800000),
        ("2024-04-30", 1714435200000),
        ("1714465800123", 1714465800123),
    ],
)
def test_trigger_at_sets_the_trigger_time(cli: Cli, server: FakeServer, at: str, millis: int) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    result = cli(trigger_command, "7", "--at", at)
    assert result.exit_code == 0, result.output
    assert server.bodies("trigger")[0]["triggerTime"] == millis


def test_a_bad_trigger_time_is_a_usage_error(cli: Cli, server: FakeServer) -> None:
    result = cli(trigger_command, "7", "--at", "yesterday")
    assert result.exit_code == 2
    assert "--at" in result.stderr
    assert server.requests == []


def test_params_use_update_and_trigger_and_keep_equals_in_values(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.updateAndTrigger"] = {"flowInstanceId": INSTANCE_ID}
    result = cli(trigger_command, "7", "--param", "filter=a=b", "--param", "empty=", "--param", "env.X=1")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{INSTANCE_ID}\n"
    assert server.bodies("updateAndTrigger") == [
        {
            "flowId": 7,
            "triggerTime": START_MS,
            "parameters": [
                {"key": "filter", "value": "a=b"},
                {"key": "empty", "value": ""},
                {"key": "env.X", "value": "1"},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("novalue", "is not KEY=VALUE"),
        ("=value", "is not a parameter key"),
        (" key=value", "is not a parameter key"),
        ("a}=value", "is not a parameter key"),
    ],
)
def test_a_bad_param_is_a_usage_error(cli: Cli, server: FakeServer, param: str, message: str) -> None:
    result = cli(trigger_command, "7", "--param", param)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "--param" in result.stderr
    assert server.requests == []


def test_a_repeated_param_key_is_a_usage_error(cli: Cli, server: FakeServer) -> None:
    result = cli(trigger_command, "7", "--param", "a=1", "--param", "a=2")
    assert result.exit_code == 2
    assert "key given more than once: a" in result.stderr
    assert server.requests == []


def test_from_task_uses_trigger_flow_from_task(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.triggerFromTask"] = {"flowInstanceId": INSTANCE_ID}
    result = cli(trigger_command, "7", "--from-task", "102")
    assert result.exit_code == 0
    assert server.bodies("triggerFromTask") == [{"flowId": 7, "taskId": 102, "triggerTime": START_MS}]


def test_param_and_from_task_together_are_a_usage_error(cli: Cli, server: FakeServer) -> None:
    result = cli(trigger_command, "7", "--param", "a=1", "--from-task", "102")
    assert result.exit_code == 2
    assert "--param and --from-task cannot be combined" in result.stderr
    assert server.requests == []


@pytest.mark.parametrize("option", [["--timeout", "10"], ["--poll-interval", "1"]])
def test_wait_options_without_wait_are_a_usage_error(cli: Cli, server: FakeServer, option: list[str]) -> None:
    result = cli(trigger_command, "7", *option)
    assert result.exit_code == 2
    assert "only applies with --wait" in result.stderr
    assert server.requests == []


def test_wait_prints_each_task_status_change_and_a_summary(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    server.answers["flowInstances.get"] = Script(
        instance(Status.INIT, {"extract": "INIT", "load": "INIT"}),
        instance(Status.RUNNING, {"extract": "RUNNING", "load": "INIT"}),
        instance(Status.RUNNING, {"extract": "RUNNING", "load": "INIT"}),
        instance(Status.RUNNING, {"extract": "SUCCESS", "load": "RUNNING"}),
        instance(Status.SUCCESS, {"extract": "SUCCESS", "load": "SUCCESS"}),
    )
    result = cli(trigger_command, "7", "--wait", "--poll-interval", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{INSTANCE_ID}\n"
    assert lines(result.stderr) == [
        "12:00:00  (flow instance)  INIT",
        "12:00:00  extract          INIT",
        "12:00:00  load             INIT",
        "12:00:02  (flow instance)  RUNNING",
        "12:00:02  extract          RUNNING",
        "12:00:06  extract          SUCCESS",
        "12:00:06  load             RUNNING",
        "12:00:08  (flow instance)  SUCCESS",
        "12:00:08  load             SUCCESS",
        f"Flow instance {INSTANCE_ID} finished: SUCCESS in 1m05s (tasks: 2 SUCCESS)",
    ]
    assert cli.sleeps == [2, 2, 2, 2]
    assert (
        server.params("get")
        == [{"action": "get", "flowInstId": INSTANCE_ID, "userId": "u1", "orgId": "o1"}] * 5
    )


def test_wait_on_a_failure_exits_1_and_points_at_the_failed_task_log(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    server.answers["flowInstances.get"] = Script(
        instance(Status.RUNNING, {"extract": "RUNNING", "load": "INIT"}),
        instance(Status.FAIL, {"extract": "FAIL", "load": "SKIP"}),
    )
    result = cli(trigger_command, "7", "--wait")
    assert result.exit_code == 1
    assert lines(result.stderr)[-2:] == [
        f"Flow instance {INSTANCE_ID} finished: FAIL in 1m05s (tasks: 1 FAIL, 1 SKIP)",
        f"  extract FAIL: see `flowyard logs {TASKS['extract']}`",
    ]
    assert cli.sleeps == [0.5]  # the default poll: a quick task returns within half a second


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [
        (Status.SUCCESS, 0),
        (Status.FAIL, 1),
        (Status.INTERNAL_ERROR, 1),
        (Status.TIMEOUT, 1),
        (Status.CANCEL, 8),
        (Status.SKIP, 10),
    ],
)
def test_wait_exit_code_follows_the_final_status(
    cli: Cli, server: FakeServer, status: Status, exit_code: int
) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    server.answers["flowInstances.get"] = Script(
        instance(Status.WAIT, {"extract": "INIT"}), instance(Status.RUNNING), instance(status)
    )
    result = cli(trigger_command, "7", "--wait")
    assert result.exit_code == exit_code
    assert f"finished: {status.name}" in result.stderr
    assert "cancel" not in server.actions()


def test_wait_reads_the_status_name_when_the_code_is_missing(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    done = instance(Status.CANCEL)
    del done["status"]
    server.answers["flowInstances.get"] = done
    result = cli(trigger_command, "7", "--wait")
    assert result.exit_code == 8


def test_wait_json_prints_the_last_instance(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    final = instance(Status.SUCCESS, {"extract": "SUCCESS"})
    server.answers["flowInstances.get"] = Script(instance(Status.RUNNING), final)
    result = cli(trigger_command, "7", "--wait", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == final


def test_wait_timeout_exits_124_without_cancelling(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    server.answers["flowInstances.get"] = instance(Status.RUNNING, {"extract": "RUNNING"})
    result = cli(trigger_command, "7", "--wait", "--timeout", "12", "--poll-interval", "5")
    assert result.exit_code == 124
    assert cli.sleeps == [5, 5, 2]  # the last pause is cut to meet the deadline
    assert server.actions() == ["trigger", "get", "get", "get", "get"]
    last = lines(result.stderr)[-1]
    assert last.startswith(f"Gave up waiting after 12s: flow instance {INSTANCE_ID} is RUNNING.")
    assert f"flowyard instances cancel {INSTANCE_ID}" in last


def test_ctrl_c_stops_waiting_with_130_and_leaves_the_instance_running(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    server.answers["flowInstances.get"] = instance(Status.RUNNING)
    cli.interrupt_after = 1
    result = cli(trigger_command, "7", "--wait")
    assert result.exit_code == 130
    assert result.stdout == f"{INSTANCE_ID}\n"
    assert f"Stopped waiting for flow instance {INSTANCE_ID}" in result.stderr
    assert f"flowyard instances cancel {INSTANCE_ID}" in result.stderr
    assert server.actions() == ["trigger", "get", "get"]


@pytest.mark.parametrize(
    ("answer", "exit_code", "message"),
    [
        (failure(62102, "Cannot create workflow instance."), 2, "Cannot create workflow instance."),
        (failure(62103, "User has no privilege."), 4, "User has no privilege."),
        (failure(62104, "This workflow has no task. You cannot trigger it."), 5, "no task"),
        (failure(62109, "Internal server exception"), 1, "Internal server exception"),
        (httpx.Response(502, text="bad gateway"), 6, "HTTP 502"),
    ],
)
def test_trigger_errors_exit_with_the_code_of_their_class(
    cli: Cli, server: FakeServer, answer: httpx.Response, exit_code: int, message: str
) -> None:
    server.answers["flows.trigger"] = answer
    result = cli(trigger_command, "7", "--wait")
    assert result.exit_code == exit_code
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert message in result.stderr


def test_an_error_while_waiting_exits_with_its_code(cli: Cli, server: FakeServer) -> None:
    server.answers["flows.trigger"] = {"flowInstanceId": INSTANCE_ID}
    server.answers["flowInstances.get"] = failure(62102, "Instance not found")
    result = cli(trigger_command, "7", "--wait")
    assert result.exit_code == 2
    assert result.stdout == f"{INSTANCE_ID}\n"
    assert "Error: Instance not found" in result.stderr


def test_trigger_help_documents_the_exit_codes(cli: Cli) -> None:
    text = cli(trigger_command, "--help").stdout
    table = [line.split(maxsplit=1) for line in lines(text)]
    for code, meaning in [
        ("0", "SUCCESS"),
        ("1", "FAIL, INTERNAL_ERROR or TIMEOUT"),
        ("8", "CANCEL"),
        ("10", "SKIP"),
        ("124", "--timeout expired"),
        ("130", "interrupted (Ctrl-C)"),
    ]:
        assert [code, meaning] in table


# -- instances list --------------------------------------------------------------------------------


def listing(*instances: dict[str, Any], count: int | None = None) -> dict[str, Any]:
    return {"flowInsts": list(instances), "count": len(instances) if count is None else count}


def row(instance_id: str, trigger_time: str, status: Status = Status.SUCCESS) -> dict[str, Any]:
    return instance(status, instanceId=instance_id, triggerTime=trigger_time)


def test_list_without_type_merges_the_three_types_newest_first(cli: Cli, server: FakeServer) -> None:
    server.answers["flowInstances.search"] = Script(
        listing(row("7-20240501100000", "2024-05-01 10:00:00")),
        listing(
            row("8-2024050111", "2024-05-01 11:00:00", Status.RUNNING),
            row("8-2024043011", "2024-04-30 11:00:00"),
        ),
        listing(),
    )
    result = cli(instances_group, "list")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
        "INSTANCE ID       FLOW   STATUS   TRIGGER TIME         START TIME           END TIME",
        "----------------  -----  -------  -------------------  -------------------  -------------------",
        "8-2024050111      daily  RUNNING  2024-05-01 11:00:00  2024-05-01 12:00:05",
        "7-20240501100000  daily  SUCCESS  2024-05-01 10:00:00  2024-05-01 12:00:05  2024-05-01 12:01:10",
        "8-2024043011      daily  SUCCESS  2024-04-30 11:00:00  2024-05-01 12:00:05  2024-05-01 12:01:10",
    ]
    week_ago, tomorrow = START_MS - 7 * 86_400_000, START_MS + 86_400_000
    assert server.bodies("search") == [
        {
            "type": flow_type,
            "fromTriggerTime": week_ago,
            "toTriggerTime": tomorrow,
            "status": "",
            "owner": "",
            "expression": "",
            "pagination": {
                "pageNo": 1,
                "pageSize": 10,
                "sorters": [{"field": "triggerTime", "order": "DESC"}],
            },
        }
        for flow_type in (0, 1, 2)
    ]


def test_list_merged_pages_are_cut_from_the_merge(cli: Cli, server: FakeServer) -> None:
    server.answers["flowInstances.search"] = Script(
        listing(row("a", "2024-05-01 06:00:00"), row("b", "2024-05-01 03:00:00"), count=5),
        listing(row("c", "2024-05-01 05:00:00"), row("d", "2024-05-01 04:00:00"), count=2),
        listing(row("e", "2024-05-01 02:00:00"), count=1),
    )
    result = cli(instances_group, "list", "--page", "2", "--size", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [i["instanceId"] for i in data["flowInsts"]] == ["d", "b"]
    assert data["count"] == 8
    assert [body["pagination"]["pageSize"] for body in server.bodies("search")] == [4, 4, 4]
    assert [body["pagination"]["pageNo"] for body in server.bodies("search")] == [1, 1, 1]


def test_list_merge_sorts_by_the_given_keys(cli: Cli, server: FakeServer) -> None:
    server.answers["flowInstances.search"] = Script(
        listing(row("a", "2024-05-01 06:00:00"), row("b", "2024-05-01 03:00:00")),
        listing(row("c", "2024-05-01 05:00:00")),
        listing(),
    )
    result = cli(instances_group, "list", "--sort", "trigger_time:asc", "--json")
    assert result.exit_code == 0, result.output
    assert [i["instanceId"] for i in json.loads(result.stdout)["flowInsts"]] == ["b", "c", "a"]


def test_list_merge_refuses_a_sort_it_cannot_do_before_any_request(cli: Cli, server: FakeServer) -> None:
    result = cli(instances_group, "list", "--sort", "updateTime")
    assert result.exit_code == 2
    assert "needs --type" in result.stderr
    assert server.requests == []


def test_list_with_one_type_is_one_call_and_json_prints_the_data(cli: Cli, server: FakeServer) -> None:
    data = listing(row("8-2024050111", "2024-05-01 11:00:00"), count=31)
    server.answers["flowInstances.search"] = data
    result = cli(
        instances_group,
        "list",
        "--type",
        "periodic",
        "--flow",
        "daily",
        "--status",
        "success,FAIL",
        "--status",
        "8",
        "--owner",
        "alice",
        "--from",
        "2024-04-01",
        "--to",
        "2024-05-01T00:00:00Z",
        "--page",
        "3",
        "--size",
        "5",
        "--sort",
        "updateTime:asc",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == data
    assert server.bodies("search") == [
        {
            "type": 1,
            "fromTriggerTime": 1711929600000,
            "toTriggerTime": 1714521600000,
            "status": "-1,1,8",
            "owner": "alice",
            "expression": "daily",
            "pagination": {"pageNo": 3, "pageSize": 5, "sorters": [{"field": "updateTime", "order": "ASC"}]},
        }
    ]


def test_list_says_when_there_are_more_pages(cli: Cli, server: FakeServer) -> None:
    server.answers["flowInstances.search"] = listing(row("a", "2024-05-01 06:00:00"), count=31)
    result = cli(instances_group, "list", "--type", "0", "--status", "-1")
    assert result.exit_code == 0
    assert "1 of 31 instances" in result.stderr
    assert server.bodies("search")[0]["status"] == "-1"


def test_list_of_nothing_says_so_on_stderr(cli: Cli, server: FakeServer) -> None:
    server.answers["flowInstances.search"] = listing()
    result = cli(instances_group, "list", "--type", "2")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No instances found." in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "done"], "'done' is not a status"),
        (["--status", "11"], "'11' is not a status"),
        (["--type", "3"], "--type"),
        (["--from", "soon"], "--from"),
        (["--from", "2024-05-02", "--to", "2024-05-01"], "must be later than --from"),
        (["--sort", "triggerTime:up"], "--sort"),
    ],
)
def test_bad_list_options_are_usage_errors(
    cli: Cli, server: FakeServer, args: list[str], message: str
) -> None:
    result = cli(instances_group, "list", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert server.requests == []


# -- instances get / cancel / task -----------------------------------------------------------------


def test_get_shows_the_instance_and_its_tasks(cli: Cli, server: FakeServer) -> None:
    server.answers["flowInstances.get"] = instance(Status.RUNNING, {"extract": "SUCCESS", "load": "RUNNING"})
    result = cli(instances_group, "get", INSTANCE_ID)
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert f"instanceId   {INSTANCE_ID}" in out
    assert "status       RUNNING" in out
    assert "parameters   region=eu" in out
    assert out[out.index("Tasks") :] == [
        "Tasks",
        "TASK     TASK ID  TASK INSTANCE       STATUS",
        "-------  -------  ------------------  -------",
        "extract  101      101-20240501120000  SUCCESS",
        "load     102      102-20240501120000  RUNNING",
    ]
    assert server.params("get")[0]["flowInstId"] == INSTANCE_ID


def test_get_reads_snake_case_graphs_and_upstream_flows(cli: Cli, server: FakeServer) -> None:
    graph = {
        "tasks": [{"task_name": "extract", "task_id": "101", "task_inst_id": "101-x", "status": "INIT"}],
        "flows": [{"flowName": "upstream", "flowId": 3, "flowInstId": "3-x", "status": "NONE"}],
    }
    server.answers["flowInstances.get"] = instance(Status.INIT, graph=graph)
    result = cli(instances_group, "get", INSTANCE_ID)
    assert result.exit_code == 0
    assert "extract  101      101-x          INIT" in result.stdout
    assert "upstream  3        3-x            NONE" in result.stdout


def test_get_json_prints_exactly_the_data(cli: Cli, server: FakeServer) -> None:
    data = instance(Status.SUCCESS, {"extract": "SUCCESS"})
    server.answers["flowInstances.get"] = data
    result = cli(instances_group, "get", INSTANCE_ID, "--json")
    assert json.loads(result.stdout) == data


def test_get_of_an_unknown_instance_exits_2(cli: Cli, server: FakeServer) -> None:
    server.answers["flowInstances.get"] = failure(62102, "Instance not found")
    result = cli(instances_group, "get", "nope")
    assert result.exit_code == 2
    assert result.stderr == "Error: Instance not found\n"


def test_cancel_posts_the_instance_id(cli: Cli, server: FakeServer) -> None:
    result = cli(instances_group, "cancel", INSTANCE_ID)
    assert result.exit_code == 0
    assert result.stdout == f"Cancelled flow instance {INSTANCE_ID}.\n"
    assert server.bodies("cancel") == [{"flowInstId": INSTANCE_ID}]
    as_json = cli(instances_group, "cancel", INSTANCE_ID, "--json")
    assert json.loads(as_json.stdout) == ""


def test_cancel_refused_exits_with_the_error_code(cli: Cli, server: FakeServer) -> None:
    server.answers["flowInstances.cancel"] = failure(62103, "User has no privilege.")
    result = cli(instances_group, "cancel", INSTANCE_ID)
    assert result.exit_code == 4


def test_task_shows_a_task_instance(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.get"] = task_instance(Status.RUNNING)
    result = cli(instances_group, "task", TASKS["extract"])
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert f"instanceId   {TASKS['extract']}" in out
    assert "status       RUNNING" in out
    assert "isTimeout    no" in out
    assert "cmd          echo hi" in out
    assert server.params("get")[0]["taskInstId"] == TASKS["extract"]


def test_task_json_prints_exactly_the_data(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.get"] = task_instance(Status.SUCCESS)
    result = cli(instances_group, "task", TASKS["extract"], "--json")
    assert json.loads(result.stdout) == task_instance(Status.SUCCESS)


# -- logs ------------------------------------------------------------------------------------------


def log_answers(*texts: str) -> Script:
    return Script(*({"log": text} for text in texts))


def test_logs_prints_the_log(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.getLog"] = {"log": "run num:\t1\nhello\n"}
    result = cli(logs_command, TASKS["extract"])
    assert result.exit_code == 0
    assert result.stdout == "run num:\t1\nhello\n"
    assert server.params("getLog") == [
        {"action": "getLog", "taskInstId": TASKS["extract"], "userId": "u1", "orgId": "o1"}
    ]


def test_logs_max_length_and_json(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.getLog"] = {"log": "hel"}
    result = cli(logs_command, TASKS["extract"], "--max-length", "3", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"log": "hel"}
    assert server.params("getLog")[0]["maxLength"] == "3"


def test_logs_without_a_final_newline_gets_one(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.getLog"] = {"log": "no newline"}
    assert cli(logs_command, "x").stdout == "no newline\n"


def test_logs_error_exits_with_its_code(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.getLog"] = failure(62102, "Invalid taskInstId or it has no log")
    result = cli(logs_command, "nope")
    assert result.exit_code == 2
    assert result.stderr == "Error: Invalid taskInstId or it has no log\n"


def test_follow_prints_only_new_text_until_the_task_ends(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.get"] = Script(
        task_instance(Status.RUNNING),
        task_instance(Status.RUNNING),
        task_instance(Status.RUNNING),
        task_instance(Status.SUCCESS),
    )
    server.answers["taskInstances.getLog"] = log_answers(
        "line 1\n", "line 1\nline 2\n", "line 1\nline 2\n", "line 1\nline 2\nbye\n"
    )
    result = cli(logs_command, TASKS["extract"], "--follow", "--poll-interval", "0.5")
    assert result.exit_code == 0, result.output
    assert result.stdout == "line 1\nline 2\nbye\n"
    assert result.stderr == f"Task instance {TASKS['extract']} finished: SUCCESS\n"
    assert cli.sleeps == [0.5, 0.5, 0.5]
    assert {p["maxLength"] for p in server.params("getLog")} == {str(2**31 - 1)}
    # The status is read before the log, so the last log read follows the final status.
    assert server.actions()[-2:] == ["get", "getLog"]


@pytest.mark.parametrize("status", [Status.FAIL, Status.CANCEL, Status.TIMEOUT, Status.SKIP])
def test_follow_exits_1_when_the_task_does_not_succeed(cli: Cli, server: FakeServer, status: Status) -> None:
    server.answers["taskInstances.get"] = Script(task_instance(Status.RUNNING), task_instance(status))
    server.answers["taskInstances.getLog"] = log_answers("start", "start\nboom")
    result = cli(logs_command, TASKS["extract"], "-f")
    assert result.exit_code == 1
    assert result.stdout == "start\nboom\n"
    assert f"finished: {status.name}" in result.stderr


def test_follow_waits_for_a_log_that_does_not_exist_yet(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.get"] = Script(
        task_instance(Status.INIT), task_instance(Status.RUNNING), task_instance(Status.SUCCESS)
    )
    server.answers["taskInstances.getLog"] = Script(
        failure(62102, "Invalid taskInstId or it has no log"), {"log": "a\n"}, {"log": "a\nb\n"}
    )
    result = cli(logs_command, TASKS["extract"], "--follow", "--max-length", "100")
    assert result.exit_code == 0, result.output
    assert result.stdout == "a\nb\n"
    assert {p["maxLength"] for p in server.params("getLog")} == {"100"}


def test_follow_reprints_a_log_that_restarted(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.get"] = Script(task_instance(Status.RUNNING), task_instance(Status.SUCCESS))
    server.answers["taskInstances.getLog"] = log_answers("attempt 1 long\n", "try 2\n")
    result = cli(logs_command, TASKS["extract"], "--follow")
    assert result.stdout == "attempt 1 long\ntry 2\n"
    assert "[log restarted]" in result.stderr


def test_follow_ctrl_c_exits_130(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.get"] = task_instance(Status.RUNNING)
    server.answers["taskInstances.getLog"] = {"log": "x\n"}
    cli.interrupt_after = 0
    result = cli(logs_command, TASKS["extract"], "--follow")
    assert result.exit_code == 130
    assert result.stdout == "x\n"
    assert "keeps running" in result.stderr


def test_follow_of_an_unknown_task_instance_exits_2(cli: Cli, server: FakeServer) -> None:
    server.answers["taskInstances.get"] = failure(62102, "Instance not found")
    result = cli(logs_command, "nope", "--follow")
    assert result.exit_code == 2
    assert server.actions() == ["get"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--follow", "--json"], "--json cannot be combined with --follow"),
        (["--poll-interval", "1"], "only applies with --follow"),
        (["--max-length", "0"], "--max-length"),
    ],
)
def test_bad_logs_options_are_usage_errors(
    cli: Cli, server: FakeServer, args: list[str], message: str
) -> None:
    result = cli(logs_command, "x", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert server.requests == []


def test_commands_fall_back_to_a_default_environment(server: FakeServer) -> None:
    """A plain ClientProvider in ctx.obj still works for commands that need no clock."""

    def factory(options: ConnectionOptions) -> FlowyardClient:
        return FlowyardClient(URL, "o", "u", transport=httpx.MockTransport(server))

    server.answers["taskInstances.getLog"] = {"log": "ok\n"}
    result = CliRunner().invoke(logs_command, ["x"], obj=ClientProvider(factory))
    assert result.exit_code == 0
    assert result.stdout == "ok\n"
