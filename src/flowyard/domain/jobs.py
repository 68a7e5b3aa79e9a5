"""DataWorks asynchronous jobs as data: what GetJobStatus reports (status literals are DataWorks')."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RUNNING = "Running"
SUCCESS = "Success"
FAIL = "Fail"
CANCEL = "Cancel"

CREATE = "Create"
UPDATE = "Update"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    project_id: int
    type: str
    status: str
    progress: int
    spec: str
    error: str
    response: str
    created_at: datetime
    updated_at: datetime
    dry_run: bool = False
    owner: str = ""
    lease_expires_at: datetime | None = None
    attempts: int = 0

    @property
    def completed(self) -> bool:
        return self.status != RUNNING
