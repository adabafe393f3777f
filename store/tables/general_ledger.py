"""Tables of the general-ledger side of matching: imported GL entries and dated FX rates."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from store.tables.schema import Id, UtcDateTime, metadata

#: General-ledger entries from ERP exports (``recon-bot ledger import``): the other side
#: Stage 2 matches bank lines against. One row per (entry id, account), at its latest
#: version; earlier content lives in the audit records. ``match_status`` is Stage 2's.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entry_id", String(200), nullable=False),
    Column("account", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("booked_on", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reference", String(300)),
    Column("counterparty", String(300)),
    Column("description", Text),
    Column("content_hash", String(64), nullable=False),
    Column("match_status", String(20), nullable=False, server_default="unmatched"),
    Column("run_id", Id, ForeignKey("ingest_runs.id"), index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("entry_id", "account"),
    Index(None, "account", "booked_on"),
)

#: Dated FX rates (``recon-bot fx import``): ``1 base = rate currency`` on ``rate_date``,
#: the rate as exact decimal text. A second import of the same key with another rate
#: replaces it (newest import wins; the audit record keeps the old one).
fx_rates = Table(
    "fx_rates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("rate_date", Date, nullable=False),
    Column("base", String(3), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rate", String(40), nullable=False),
    Column("source", String(100), nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    UniqueConstraint("rate_date", "base", "currency", "source"),
    Index(None, "base", "currency", "rate_date"),
)
