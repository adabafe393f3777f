"""who is away and to whom work goes; reviewers' verdicts for accuracy

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 04:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=50), nullable=False),
        sa.Column("delegate_id", sa.String(length=50), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delegations_ended_at_until"), ["ended_at", "until"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_delegations_user_id"), ["user_id"], unique=False)
    # Existing decisions are not back-filled: accuracy counts from the upgrade on, and a
    # reviewer without decisions ranks after those with some (domain.assignment).
    op.create_table(
        "reviewer_decisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.String(length=50), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overturned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviewer_decisions")),
    )
    with op.batch_alter_table("reviewer_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reviewer_decisions_item_id_verdict"),
            ["item_id", "verdict"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reviewer_decisions_user_id_decided_at"),
            ["user_id", "decided_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("reviewer_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviewer_decisions_user_id_decided_at"))
        batch_op.drop_index(batch_op.f("ix_reviewer_decisions_item_id_verdict"))
    op.drop_table("reviewer_decisions")
    with op.batch_alter_table("delegations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegations_user_id"))
        batch_op.drop_index(batch_op.f("ix_delegations_ended_at_until"))
    op.drop_table("delegations")
