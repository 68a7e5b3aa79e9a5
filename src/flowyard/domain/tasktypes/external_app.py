"""EXTERNAL_APP (task-instance type 9): an external application started by its ``cmd`` with bash."""

from __future__ import annotations

from flowyard.domain.tasktypes.registry import TaskType, register

EXTERNAL_APP = TaskType(name="EXTERNAL_APP", instance_number=9)
register(EXTERNAL_APP)
