"""PYTHON: the command is Python source, written to ``task.py`` and run by the server's interpreter."""

from __future__ import annotations

from flowyard.domain.attempts import TaskKind
from flowyard.domain.flows import TaskDefinition
from flowyard.domain.tasktypes.registry import Program, TaskType, register


def _program(task: TaskDefinition, command: str) -> Program:
    return Program(TaskKind.PYTHON, command)


PYTHON = TaskType(
    name="PYTHON",
    instance_number=8,
    flowspec_commands=frozenset({"PYTHON", "PYODPS3"}),
    flowspec_command="PYTHON",
    empty_command="pass",
    program=_program,
)
register(PYTHON)
