"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 04:29:04.956157
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "used_nonces",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "value", name=op.f("pk_used_nonces")),
    )
    with op.batch_alter_table("used_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "applications",
        sa.Column("access_key", sa.String(length=64), nullable=False),
        sa.Column("secret_key", sa.String(length=128), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_applications_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("access_key", name=op.f("pk_applications")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_applications_org_id"), ["org_id"], unique=False)

    op.create_table(
        "directories",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_directories_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["directories.id"],
            name=op.f("fk_directories_parent_id_directories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directories")),
        sa.UniqueConstraint("org_id", "parent_id", "name", name=op.f("uq_directories_org_id_parent_id_name")),
    )
    with op.batch_alter_table("directories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_directories_org_id"), ["org_id"], unique=False)

    op.create_table(
        "memberships",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_memberships_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "org_id", name=op.f("pk_memberships")),
    )
    op.create_table(
        "access_tokens",
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("access_key", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_key"],
            ["applications.access_key"],
            name=op.f("fk_access_tokens_access_key_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_access_tokens")),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_tokens_access_key"), ["access_key"], unique=False)

    op.create_table(
        "flows",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("dir_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("desc", sa.Text(), nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.String(length=4), nullable=False),
        sa.Column("cron", sa.String(length=255), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("alert_mode", sa.Integer(), nullable=False),
        sa.Column("alert_to", sa.Text(), nullable=False),
        sa.Column("app_id", sa.String(length=255), nullable=False),
        sa.Column("submitter", sa.String(length=255), nullable=False),
        sa.Column("owners", sa.Text(), nullable=False),
        sa.Column("visitors", sa.Text(), nullable=False),
        sa.Column("sync_type", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("entry", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=255), nullable=False),
        sa.Column("creator", sa.String(length=128), nullable=False),
        sa.Column("update_user", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dir_id"], ["directories.id"], name=op.f("fk_flows_dir_id_directories"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_flows_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_flows_org_id_name")),
    )
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flows_dir_id"), ["dir_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_flows_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_flows_org_updated", ["org_id", "updated_at"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("flow_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("cmd", sa.Text(), nullable=False),
        sa.Column("resource", sa.String(length=255), nullable=False),
        sa.Column("sync_type", sa.Integer(), nullable=False),
        sa.Column("submitter", sa.String(length=255), nullable=False),
        sa.Column("file_package", sa.Text(), nullable=False),
        sa.Column("cron", sa.String(length=255), nullable=False),
        sa.Column("priority_level", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("retry_limit", sa.Integer(), nullable=False),
        sa.Column("retry_interval", sa.Integer(), nullable=False),
        sa.Column("success_code", sa.String(length=255), nullable=False),
        sa.Column("wait_code", sa.String(length=255), nullable=False),
        sa.Column("as_link", sa.Boolean(), nullable=False),
        sa.Column("run_mode", sa.Text(), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_tasks_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("flow_id", "name", name=op.f("uq_tasks_flow_id_name")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_flow_id"), ["flow_id"], unique=False)

    op.create_table(
        "flow_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("link_key", sa.String(length=64), nullable=False),
        sa.Column("node_flow_id", sa.BigInteger(), nullable=False),
        sa.Column("upstream_flow_id", sa.BigInteger(), nullable=False),
        sa.Column("upstream_task_id", sa.BigInteger(), nullable=True),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_links_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["upstream_flow_id"],
            ["flows.id"],
            name=op.f("fk_flow_links_upstream_flow_id_flows"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["upstream_task_id"],
            ["tasks.id"],
            name=op.f("fk_flow_links_upstream_task_id_tasks"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_links")),
    )
    with op.batch_alter_table("flow_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_links_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_flow_links_upstream_flow_id"), ["upstream_flow_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_flow_links_upstream_task_id"), ["upstream_task_id"], unique=False
        )

    op.create_table(
        "task_relations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source_task_id", sa.BigInteger(), nullable=False),
        sa.Column("target_task_id", sa.BigInteger(), nullable=False),
        sa.Column("rerun", sa.Boolean(), nullable=False),
        sa.Column("cycle_gap", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_task_relations_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_task_id"],
            ["tasks.id"],
            name=op.f("fk_task_relations_source_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_task_id"],
            ["tasks.id"],
            name=op.f("fk_task_relations_target_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_relations")),
    )
    with op.batch_alter_table("task_relations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_relations_flow_id"), ["flow_id"], unique=False)

    op.create_table(
        "link_relations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flow_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("link_row_id", sa.Integer(), nullable=False),
        sa.Column("target_task_id", sa.BigInteger(), nullable=False),
        sa.Column("rerun", sa.Boolean(), nullable=False),
        sa.Column("cycle_gap", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_link_relations_flow_id_flows"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["link_row_id"],
            ["flow_links.id"],
            name=op.f("fk_link_relations_link_row_id_flow_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_task_id"],
            ["tasks.id"],
            name=op.f("fk_link_relations_target_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_relations")),
    )
    with op.batch_alter_table("link_relations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_relations_flow_id"), ["flow_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_relations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_relations_flow_id"))

    op.drop_table("link_relations")
    with op.batch_alter_table("task_relations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_relations_flow_id"))

    op.drop_table("task_relations")
    with op.batch_alter_table("flow_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_links_upstream_task_id"))
        batch_op.drop_index(batch_op.f("ix_flow_links_upstream_flow_id"))
        batch_op.drop_index(batch_op.f("ix_flow_links_flow_id"))

    op.drop_table("flow_links")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_flow_id"))

    op.drop_table("tasks")
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_index("ix_flows_org_updated")
        batch_op.drop_index(batch_op.f("ix_flows_org_id"))
        batch_op.drop_index(batch_op.f("ix_flows_dir_id"))

    op.drop_table("flows")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_access_key"))

    op.drop_table("access_tokens")
    op.drop_table("memberships")
    with op.batch_alter_table("directories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directories_org_id"))

    op.drop_table("directories")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_org_id"))

    op.drop_table("applications")
    op.drop_table("users")
    with op.batch_alter_table("used_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_nonces_expires_at"))

    op.drop_table("used_nonces")
    op.drop_table("organizations")
    op.drop_table("counters")
