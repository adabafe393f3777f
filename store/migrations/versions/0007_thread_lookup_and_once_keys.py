"""once keys (effects that happen once per key); thread lookups by message ts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 03:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "once_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_once_keys")),
    )
    with op.batch_alter_table("once_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_once_keys_item_id"), ["item_id"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_result_ts"), ["result_ts"], unique=False)
    with op.batch_alter_table("item_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_cards_ts"), ["ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("item_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_cards_ts"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_result_ts"))
    op.drop_table("once_keys")
