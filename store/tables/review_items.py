"""Tables of the review desk's items: the items themselves, their posted cards, digest
clusters, the ingest runs that brought them (with their quarantined lines), the policy
versions they were routed under and the journal entries their decisions posted."""

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
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.sql.expression import false

from store.tables.schema import Id, UtcDateTime, metadata

items = Table(
    "items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("entity", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("counterparty", String(300)),
    Column("risk_tier", String(10)),
    Column("aging_days", Integer),
    Column("booked_on", Date),
    Column("confidence", String(40)),
    Column("score", Integer),
    Column("matched_minor", BigInteger),
    Column("variance_minor", BigInteger),
    Column("record_count", Integer),
    Column("entity_risk_score", String(40)),
    Column("prepared_by", String(50)),
    Column("reference", String(300)),
    Column("description", Text),
    Column("extra", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("state", String(30), nullable=False),
    Column("route", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("policy_version", String(40), nullable=False),
    Column("team", String(100)),
    Column("required_approvals", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sla_started_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("assignee", String(50)),
    Column("claim_expires_at", UtcDateTime),
    Column("approvals", JSON, nullable=False),
    Column("ladder_level", Integer, nullable=False),
    # The escalation tier the ladder moved the item into (domain.escalation.tier_of).
    Column("escalation_tier", String(100)),
    Column("sla_credit_seconds", Integer, nullable=False, server_default="0"),
    Column("sla_next_at", UtcDateTime, index=True),
    Column("digest_window", String(60)),
    Column("dispute", JSON),
    Column("ledger_ref", String(60)),
    Column("decided_by", String(50)),
    Column("decided_at", UtcDateTime),
    Column("decision_note", Text),
    # A digest item's clock waits for its digest's post (domain.sla); the digest that
    # started it.
    Column("sla_waits", Boolean, nullable=False, server_default=false()),
    Column("shown_in_digest", String(60)),
    # The FX rate routing converted the amount at (AppliedRate.audit_data), or null.
    Column("fx", JSON),
    UniqueConstraint("source", "external_id"),
    Index(None, "state", "team", "priority"),
    Index(None, "assignee", "state"),
    Index(None, "claim_expires_at"),
    Index(None, "route", "state"),
    Index(None, "sla_started_at"),
    Index(None, "sla_waits", "digest_window"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(100), nullable=False, unique=True),
    Column("ledger_ref", String(60), nullable=False, unique=True),
    Column("item_id", Id, ForeignKey("items.id"), nullable=False, index=True),
    Column("currency", String(3), nullable=False),
    Column("lines", JSON, nullable=False),
    Column("memo", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("kind", String(20), nullable=False, server_default="approval"),
    Column("entity", String(100), nullable=False, server_default=""),
    Column("dispute_id", String(60), index=True),
    Column("reverses", String(100)),
    Column("hold", String(100)),
    Column("reference", String(200)),
    Column("delivered_at", UtcDateTime),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("file_name", String(500), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("policy_version", String(40), nullable=False),
    Column("summary", JSON),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("run_id", Id, ForeignKey("ingest_runs.id"), nullable=False, index=True),
    Column("line", Integer, nullable=False),
    Column("field", String(100), nullable=False),
    Column("error", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("version", String(40), primary_key=True),
    Column("body", Text, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
)

digest_clusters = Table(
    "digest_clusters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("window", String(60), nullable=False),
    Column("team", String(100), nullable=False),
    Column("cluster_key", String(500), nullable=False),
    Column("items", JSON, nullable=False),  # [[item_id, version], ...] at digest time
    Column("apart", Integer, nullable=False),  # 1: listed for individual review only
    Column("state", String(20), nullable=False),
    Column("decided_by", String(50)),
    Column("decided_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("window", "team", "cluster_key"),
)

item_cards = Table(
    "item_cards",
    metadata,
    Column("item_id", Id, ForeignKey("items.id"), primary_key=True),
    Column("channel", String(50), nullable=False),
    Column("ts", String(40), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
