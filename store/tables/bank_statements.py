"""Tables of bank statements (Stage 1): the statements, their lines and original files."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from store.tables.schema import Id, UtcDateTime, metadata

#: One row per statement identity (``identity``: the hash of account, currency, the
#: bank's statement id, sequence and period); a new revision rewrites the row and its
#: lines. Balances are minor units of ``currency``; checks, edits and approvals are JSON.
statements = Table(
    "statements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("identity", String(64), nullable=False, unique=True),
    Column("account", String(100), nullable=False),
    Column("file_account", String(100), nullable=False),
    Column("entity", String(100), nullable=False),
    Column("team", String(100), nullable=False),
    Column("gl_account", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("format", String(10), nullable=False),
    Column("bank", String(200)),
    Column("statement_ref", String(200)),
    Column("sequence", String(100)),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("opening_minor", BigInteger),
    Column("closing_minor", BigInteger),
    Column("opening_derived", Boolean, nullable=False),
    Column("control_total_minor", BigInteger),
    Column("control_count", Integer),
    Column("file_name", String(500), nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("content_hash", String(64), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("stage1_status", String(20), nullable=False, index=True),
    Column("checks", JSON, nullable=False),
    Column("edits", JSON, nullable=False),
    Column("approvals", JSON, nullable=False),
    Column("rejection", Text),
    Column("policy_version", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "account", "currency", "period_end"),
)

#: The lines of each statement as they stand after edits (``edited``/``added``/
#: ``removed`` say how); ``match_status`` is Stage 2's, never the statement's status.
statement_lines = Table(
    "statement_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("statement_id", Id, ForeignKey("statements.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("booking_date", Date),
    Column("value_date", Date),
    Column("reference", Text),
    Column("end_to_end_id", Text),
    Column("counterparty", Text),
    Column("counterparty_account", Text),
    Column("description", Text),
    Column("bank_reference", Text),
    Column("type_code", String(50)),
    Column("location", String(200), nullable=False),
    Column("match_status", String(20), nullable=False, index=True),
    Column("edited", Boolean, nullable=False),
    Column("added", Boolean, nullable=False),
    Column("removed", Boolean, nullable=False),
    UniqueConstraint("statement_id", "number"),
)

#: The bytes of every imported bank file, once per SHA-256: what a reviewer verifies
#: against and what a re-parse reads.
statement_originals = Table(
    "statement_originals",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("file_name", String(500), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
