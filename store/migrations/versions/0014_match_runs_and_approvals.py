"""matching runs, numbered; each match's run and the people's accepts awaiting a second

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "match_runs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("statement_id", _ID, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_runs")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approvals", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("run_id", _ID, nullable=True))
    with op.batch_alter_table("match_sides", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_sides_statement_id_line_number"),
            ["statement_id", "line_number"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("match_sides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_sides_statement_id_line_number"))
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_column("run_id")
        batch_op.drop_column("approvals")
    op.drop_table("match_runs")
