"""scale out: remote attempts, shipped logs, scheduler leases, workers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 00:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=255), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("spec", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("send_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        for column in ("queue", "spec", "send_count", "cancel_requested"):
            batch_op.alter_column(column, server_default=None)

    op.create_table(
        "task_log_chunks",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("task_instance_id", sa.String(length=64), nullable=False),
        sa.Column("attempt_id", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_instance_id"],
            ["task_instances.id"],
            name=op.f("fk_task_log_chunks_task_instance_id_task_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_log_chunks")),
    )
    with op.batch_alter_table("task_log_chunks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_log_chunks_task_instance_id"), ["task_instance_id"], unique=False
        )

    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # List Flow Instances is answered from covering indexes (index-only scans), which stay fast
        # only while the visibility map is current: vacuum this insert-mostly table often.
        op.execute(
            "ALTER TABLE flow_instances SET (autovacuum_vacuum_insert_scale_factor = 0.01, "
            "autovacuum_analyze_scale_factor = 0.02)"
        )
    op.create_table(
        "workers",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("queues", sa.Text(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE flow_instances RESET (autovacuum_vacuum_insert_scale_factor, "
            "autovacuum_analyze_scale_factor)"
        )
    op.drop_table("workers")
    op.drop_table("scheduler_leases")
    with op.batch_alter_table("task_log_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_log_chunks_task_instance_id"))
    op.drop_table("task_log_chunks")
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        for column in ("cancel_requested", "send_count", "sent_at", "spec", "queue"):
            batch_op.drop_column(column)
