"""stored JSON uses Python names: tasks.run_mode and flows.options lose EnOS's camelCase

EnOS's camelCase belongs to the API edge (flowyard.services.enos_fields); the
store keeps the domain's attribute names, like the flow snapshots always did.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:30:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RUN_MODE = {
    "taskMode": "task_mode",
    "maxParallel": "max_parallel",
    "keyType": "key_type",
    "datasourceId": "datasource_id",
}
OPTIONS = {
    "timeZone": "time_zone",
    "scheduleStartTime": "schedule_start",
    "scheduleEndTime": "schedule_end",
    "rerunMode": "rerun_mode",
    "failureStrategy": "failure_strategy",
    "instanceMode": "instance_mode",
}
TASK_OPTIONS = {"nodeId": "node_id", "rerunMode": "rerun_mode"}
BATCH = 1000


def _renamed(raw: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {names.get(key, key): value for key, value in raw.items()}


def _run_mode(names: dict[str, str]) -> Callable[[str], str]:
    return lambda text: json.dumps(_renamed(json.loads(text), names), ensure_ascii=False)


def _options(names: dict[str, str], task_names: dict[str, str]) -> Callable[[str], str]:
    def convert(text: str) -> str:
        raw = _renamed(json.loads(text or "{}"), names)
        if "tasks" in raw:
            raw["tasks"] = {name: _renamed(entry, task_names) for name, entry in raw["tasks"].items()}
        return json.dumps(raw, ensure_ascii=False, sort_keys=True)

    return convert


def _rewrite(table: str, key: str, column: str, convert: Callable[[str], str]) -> None:
    """Rewrite ``column`` of every row, in batches by primary key (bounded memory and locks)."""
    bind = op.get_bind()
    rows_of = sa.text(
        f"SELECT {key}, {column} FROM {table} WHERE {key} > :after ORDER BY {key} LIMIT {BATCH}"
    )
    write = sa.text(f"UPDATE {table} SET {column} = :value WHERE {key} = :id")
    after: Any = -1
    while True:
        rows = bind.execute(rows_of, {"after": after}).all()
        if not rows:
            return
        changes = [{"id": r[0], "value": convert(r[1])} for r in rows]
        changes = [c for c, r in zip(changes, rows, strict=True) if c["value"] != r[1]]
        if changes:
            bind.execute(write, changes)
        after = rows[-1][0]


def upgrade() -> None:
    _rewrite("tasks", "id", "run_mode", _run_mode(RUN_MODE))
    _rewrite("flows", "id", "options", _options(OPTIONS, TASK_OPTIONS))


def downgrade() -> None:
    back = {v: k for k, v in RUN_MODE.items()}
    _rewrite("tasks", "id", "run_mode", _run_mode(back))
    _rewrite(
        "flows",
        "id",
        "options",
        _options({v: k for k, v in OPTIONS.items()}, {v: k for k, v in TASK_OPTIONS.items()}),
    )
