"""general-ledger entries (ledger import), dated FX rates (fx import), items.fx

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fx", sa.JSON(), nullable=True))
    op.create_table(
        "ledger_entries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=200), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=300), nullable=True),
        sa.Column("counterparty", sa.String(length=300), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("match_status", sa.String(length=20), server_default="unmatched", nullable=False),
        sa.Column("run_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["ingest_runs.id"], name=op.f("fk_ledger_entries_run_id_ingest_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("entry_id", "account", name=op.f("uq_ledger_entries_entry_id_account")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_account_booked_on"),
            ["account", "booked_on"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_ledger_entries_run_id"), ["run_id"], unique=False)
    op.create_table(
        "fx_rates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("base", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
        sa.UniqueConstraint(
            "rate_date",
            "base",
            "currency",
            "source",
            name=op.f("uq_fx_rates_rate_date_base_currency_source"),
        ),
    )
    with op.batch_alter_table("fx_rates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fx_rates_base_currency_rate_date"),
            ["base", "currency", "rate_date"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("fx_rates")
    op.drop_table("ledger_entries")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("fx")
