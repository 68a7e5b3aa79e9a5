"""VIRTUAL: a node that runs nothing (FlowSpec's ``VIRTUAL``, a join or start point of a DAG).

Its attempt succeeds at once without a process; it still gets a log with the attempt header.
"""

from __future__ import annotations

from flowyard.domain.attempts import TaskKind
from flowyard.domain.flows import TaskDefinition
from flowyard.domain.tasktypes.registry import Program, TaskType, register


def _program(task: TaskDefinition, command: str) -> Program:
    return Program(TaskKind.NOOP, "")


VIRTUAL = TaskType(
    name="VIRTUAL",
    instance_number=3,
    flowspec_commands=frozenset({"VIRTUAL"}),
    flowspec_command="VIRTUAL",
    program=_program,
)
register(VIRTUAL)
