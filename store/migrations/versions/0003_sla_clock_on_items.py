"""sla clock on items

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 06:26:14.680897
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_credit_seconds", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("sla_next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_items_sla_next_at"), ["sla_next_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_sla_next_at"))
        batch_op.drop_column("sla_next_at")
        batch_op.drop_column("sla_credit_seconds")
