"""flow schedule options

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 00:50:00.000000

``flows.options``: the FlowSpec options of a flow (time zone, schedule window, rerun mode,
failure strategy, instance mode) and of its tasks (node id, rerun mode) as one JSON object.
Existing flows get ``{}``, which means every EnOS default.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.Text(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("flows", schema=None) as batch_op:
        batch_op.drop_column("options")
