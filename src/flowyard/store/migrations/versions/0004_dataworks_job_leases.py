"""dataworks job leases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 00:50:00.000000

Async jobs get an owner process and a lease (so several API processes can share one database and
take over the jobs of a dead one), a count of attempts, and the DryRun flag. Jobs left Running by an
older version have no owner and no lease: the first runner to look takes them over.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DEFAULTED = ("dry_run", "owner", "attempts")


def upgrade() -> None:
    with op.batch_alter_table("async_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dry_run", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("owner", sa.String(length=128), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_async_jobs_updated_at"), ["updated_at"], unique=False)
    with op.batch_alter_table("async_jobs", schema=None) as batch_op:
        for column in DEFAULTED:
            batch_op.alter_column(column, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("async_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_async_jobs_updated_at"))
        batch_op.drop_column("attempts")
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("owner")
        batch_op.drop_column("dry_run")
