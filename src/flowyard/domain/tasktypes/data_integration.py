"""DATA_INTEGRATION (Data Synchronization, export number 0, task-instance type 7).

Flowyard has no data-integration engine yet: the task runs its ``cmd`` with bash,
as the README says ("Task types"); the data-sources issue gives it real syncs.
"""

from __future__ import annotations

from flowyard.domain.tasktypes.registry import TaskType, register

DATA_INTEGRATION = TaskType(name="DATA_INTEGRATION", instance_number=7, export_number=0)
register(DATA_INTEGRATION)
