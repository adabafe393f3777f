"""Tables of the audit log: its records, its head, its signed checkpoints and signing keys."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    String,
    Table,
)

from store.tables.schema import Id, UtcDateTime, metadata

audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("body", LargeBinary, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("item_id", Id, index=True),
    Column("event", String(60), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("log", String(60), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("frontier", JSON, nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("log", String(60), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", String(64), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("signature", String(128), nullable=False),
    Index(None, "log", "size"),
)

audit_keys = Table(
    "audit_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("algorithm", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
