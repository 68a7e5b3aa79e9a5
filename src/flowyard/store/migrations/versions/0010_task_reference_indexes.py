"""indexes on the columns that reference tasks

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 20:50:00.000000

Deleting a task makes the database check every row that references it (``ON DELETE CASCADE``
on ``task_relations.source_task_id``/``target_task_id`` and ``link_relations.target_task_id``).
Without an index each check scans the whole table, so deleting a flow of thousands of tasks cost
time proportional to tasks x relations of every flow, holding the write lock throughout
(issue 11 item 8). With these indexes each check is one index probe.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_task_relations_source_task_id", "task_relations", "source_task_id"),
    ("ix_task_relations_target_task_id", "task_relations", "target_task_id"),
    ("ix_link_relations_target_task_id", "link_relations", "target_task_id"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
