"""SHELL (alias COMMAND): the command runs with ``bash -c``; FlowSpec shell nodes import as it."""

from __future__ import annotations

from flowyard.domain.tasktypes.registry import TaskType, register

SHELL = TaskType(
    name="SHELL",
    aliases=("COMMAND",),
    instance_number=3,
    export_number=3,
    flowspec_commands=frozenset({"DIDE_SHELL", "SHELL", "EMR_SHELL", "CDH_SHELL", "SSH"}),
    flowspec_command="DIDE_SHELL",
    empty_command="true",
)
register(SHELL)
