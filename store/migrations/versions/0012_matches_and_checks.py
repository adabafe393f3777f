"""matches, their sides and the consistency checks of matching runs (Stage 2)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 05:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "matches",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=2000), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("statement_id", _ID, nullable=False),
        sa.Column("sides_digest", sa.String(length=64), nullable=False),
        sa.Column("held", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.id"], name=op.f("fk_matches_statement_id_statements")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matches_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_state_band"), ["state", "band"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_statement_id"), ["statement_id"], unique=False)
    op.create_table(
        "match_sides",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("match_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("statement_id", _ID, nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.String(length=200), nullable=True),
        sa.Column("gl_account", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_sides_match_id_matches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_sides")),
    )
    with op.batch_alter_table("match_sides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_sides_match_id"), ["match_id"], unique=False)
    op.create_table(
        "match_checks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("statement_id", _ID, nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("resolution", sa.String(length=30), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_checks")),
        sa.UniqueConstraint("key", name=op.f("uq_match_checks_key")),
    )
    with op.batch_alter_table("match_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_checks_statement_id"), ["statement_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("match_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_checks_statement_id"))
    op.drop_table("match_checks")
    with op.batch_alter_table("match_sides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_sides_match_id"))
    op.drop_table("match_sides")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_statement_id"))
        batch_op.drop_index(batch_op.f("ix_matches_state_band"))
        batch_op.drop_index(batch_op.f("ix_matches_key"))
    op.drop_table("matches")
