"""The task-type registry: a type added in a test alone is validated, runs, and maps to FlowSpec."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowyard.domain import tasktypes
from flowyard.domain.attempts import TaskKind
from flowyard.domain.flows import TaskDefinition
from flowyard.domain.tasktypes import Program, TaskType
from flowyard.errors import InvalidParameterError
from flowyard.services.workflow_specs import node_command
from tests.integration.conftest import World, simple_flow
from tests.integration.test_api_runs import log_of, tasks_of, trigger, wait_final


def _shout(task: TaskDefinition, command: str) -> Program:
    return Program(TaskKind.SHELL, f"echo {command.upper()}; echo {command.upper()}")


def _needs_text(task: TaskDefinition, where: str) -> None:
    if not task.cmd.strip():
        raise InvalidParameterError(f"Invalid parameter: {where}: a SHOUT task needs something to shout")


SHOUT = TaskType(
    name="SHOUT",
    instance_number=42,
    flowspec_commands=frozenset({"LOUD_SHELL"}),
    flowspec_command="LOUD_SHELL",
    validate=_needs_text,
    program=_shout,
)


@pytest.fixture
def shout() -> Iterator[TaskType]:
    unregister = tasktypes.register(SHOUT)
    yield SHOUT
    unregister()


def shout_flow(cmd: str) -> dict[str, object]:
    return simple_flow("s", tasks=[{"name": "s", "type": "shout", "cmd": cmd}])


def test_a_toy_type_is_validated_runs_and_reports_its_number(world: World, shout: TaskType) -> None:
    api = world.api
    refused = api.call(
        "POST", "flows", "import", {"flowName": "x", "dirId": api.root_dir(), "flowJson": shout_flow("  ")}
    )
    assert refused["code"] == 62102 and "needs something to shout" in refused["msg"]
    flow_id = api.import_flow(shout_flow("hello"), "loud")
    done = wait_final(api, trigger(world, flow_id))
    assert done["status"] == 1
    task_instance = str(tasks_of(done)["s"]["taskInstId"])
    assert log_of(api, task_instance).count("HELLO\n") == 2
    assert api.ok("GET", "taskInstances", "get", taskInstId=task_instance)["type"] == 42
    assert node_command("SHOUT") == "LOUD_SHELL" and tasktypes.for_flowspec_command("loud_shell") is shout


def test_an_unknown_type_is_refused_with_the_known_ones(world: World) -> None:
    api = world.api
    answer = api.call(
        "POST", "flows", "import", {"flowName": "x", "dirId": api.root_dir(), "flowJson": shout_flow("a")}
    )
    assert answer["code"] == 62102
    assert (
        "unknown type 'shout'" in answer["msg"] and "PYTHON" in answer["msg"] and "SHOUT" not in answer["msg"]
    )


def test_registering_a_name_twice_is_refused(shout: TaskType) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        tasktypes.register(TaskType(name="Shout", instance_number=1))
    with pytest.raises(ValueError, match="number 3"):
        tasktypes.register(TaskType(name="OTHER", instance_number=1, export_number=3))
    assert tasktypes.lookup("OTHER") is None


def test_the_built_in_types() -> None:
    assert tasktypes.export_numbers() == {
        0: "DATA_INTEGRATION",
        1: "WORMHOLE",
        2: "CALCULATE",
        3: "SHELL",
        4: "CANAAN",
        5: "HIVE",
        6: "MR",
    }
    assert tasktypes.lookup("command") is tasktypes.lookup("SHELL")
    numbers = {
        name: tasktypes.of_name(name).instance_number for name in ("SHELL", "PYTHON", "DATA_INTEGRATION")
    }
    assert numbers == {"SHELL": 3, "PYTHON": 8, "DATA_INTEGRATION": 7}
    virtual = tasktypes.of_name("VIRTUAL").program(TaskDefinition(name="v", type="VIRTUAL"), "ignored")
    assert virtual.kind is TaskKind.NOOP
    python = tasktypes.of_name("PYTHON").program(TaskDefinition(name="p", type="PYTHON"), "print(1)")
    assert (python.kind, python.source) == (TaskKind.PYTHON, "print(1)")
    assert tasktypes.for_flowspec_command("ODPS_SQL") is None
    assert node_command("EXTERNAL_APP") == "DIDE_SHELL" and node_command("PYTHON", "PYODPS3") == "PYODPS3"
