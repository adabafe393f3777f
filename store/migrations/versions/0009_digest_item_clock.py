"""a digest item's SLA clock waits for its digest's post

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing items keep the clock they have (sla_waits false): only items ingested
    # from now on wait for their digest.
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_waits", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("shown_in_digest", sa.String(length=60), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_items_sla_waits_digest_window"),
            ["sla_waits", "digest_window"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_sla_waits_digest_window"))
        batch_op.drop_column("shown_in_digest")
        batch_op.drop_column("sla_waits")
