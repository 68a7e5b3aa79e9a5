"""flow instances

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:28:25.674713
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flow_snapshots",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_snapshots")),
    )
    op.create_table(
        "flow_instances",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.BigInteger(), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("flow_name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("trigger_kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("trigger_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cal_dt", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("snapshot_id", sa.String(length=64), nullable=False),
        sa.Column("owners", sa.Text(), nullable=False),
        sa.Column("creator", sa.String(length=128), nullable=False),
        sa.Column("from_task_id", sa.BigInteger(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_instances_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["flow_snapshots.id"],
            name=op.f("fk_flow_instances_snapshot_id_flow_snapshots"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_instances")),
        sa.UniqueConstraint("flow_id", "scheduled_at", name=op.f("uq_flow_instances_flow_id_scheduled_at")),
    )
    with op.batch_alter_table("flow_instances", schema=None) as batch_op:
        batch_op.create_index("ix_flow_instances_flow_status", ["flow_id", "status"], unique=False)
        batch_op.create_index(
            "ix_flow_instances_search",
            ["org_id", "type", "trigger_at", "status", "started_at", "flow_name", "id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_flow_instances_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_flow_instances_status_search", ["org_id", "type", "status", "trigger_at"], unique=False
        )

    op.create_table(
        "flow_schedules",
        sa.Column("flow_id", sa.BigInteger(), nullable=False),
        sa.Column("cursor_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_tick_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_schedules_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("flow_id", name=op.f("pk_flow_schedules")),
    )
    with op.batch_alter_table("flow_schedules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_schedules_next_tick_at"), ["next_tick_at"], unique=False)

    op.create_table(
        "task_instances",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("flow_instance_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("run_num", sa.Integer(), nullable=False),
        sa.Column("retry_limit", sa.Integer(), nullable=False),
        sa.Column("retry_interval", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("upstream", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("is_timeout", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_instance_id"],
            ["flow_instances.id"],
            name=op.f("fk_task_instances_flow_instance_id_flow_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_instances")),
    )
    with op.batch_alter_table("task_instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_instances_flow_instance_id"), ["flow_instance_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_task_instances_status"), ["status"], unique=False)

    op.create_table(
        "task_attempts",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("task_instance_id", sa.String(length=64), nullable=False),
        sa.Column("run_num", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_instance_id"],
            ["task_instances.id"],
            name=op.f("fk_task_attempts_task_instance_id_task_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_attempts")),
    )
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_attempts_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_task_attempts_task_instance_id"), ["task_instance_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("task_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_attempts_task_instance_id"))
        batch_op.drop_index(batch_op.f("ix_task_attempts_state"))

    op.drop_table("task_attempts")
    with op.batch_alter_table("task_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_instances_status"))
        batch_op.drop_index(batch_op.f("ix_task_instances_flow_instance_id"))

    op.drop_table("task_instances")
    with op.batch_alter_table("flow_schedules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_schedules_next_tick_at"))

    op.drop_table("flow_schedules")
    with op.batch_alter_table("flow_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_flow_instances_status_search")
        batch_op.drop_index(batch_op.f("ix_flow_instances_status"))
        batch_op.drop_index("ix_flow_instances_search")
        batch_op.drop_index("ix_flow_instances_flow_status")

    op.drop_table("flow_instances")
    op.drop_table("flow_snapshots")
