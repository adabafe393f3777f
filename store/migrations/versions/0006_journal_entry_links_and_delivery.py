"""journal entries: kind, entity, dispute and reversal links, hold, ledger reference;
circuit breakers

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "breakers",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("probe_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_breakers")),
    )
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="approval", nullable=False)
        )
        batch_op.add_column(
            sa.Column("entity", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("dispute_id", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("reverses", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("hold", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("reference", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_journal_entries_dispute_id"), ["dispute_id"], unique=False
        )
    # Entries made before this revision: their kind is the key's suffix, their entity the
    # item's.
    op.execute(
        "UPDATE journal_entries SET kind = 'write_off' WHERE idempotency_key LIKE '%-write_off'"
    )
    op.execute(
        "UPDATE journal_entries SET entity = "
        "(SELECT items.entity FROM items WHERE items.id = journal_entries.item_id)"
    )


def downgrade() -> None:
    op.drop_table("breakers")
    with op.batch_alter_table("journal_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_entries_dispute_id"))
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("reference")
        batch_op.drop_column("hold")
        batch_op.drop_column("reverses")
        batch_op.drop_column("dispute_id")
        batch_op.drop_column("entity")
        batch_op.drop_column("kind")
