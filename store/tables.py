"""SQLAlchemy Core tables: the single schema for SQLite and PostgreSQL.

Money is integer minor units (``*_minor``), decimals that are not money are exact text,
datetimes are timezone-aware UTC on the way in and out (``UtcDateTime``). Alembic
migrations in ``store/migrations`` are the source of truth for existing databases; a test
checks that they produce exactly this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; BigInteger elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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

# --- delivery outbox ---------------------------------------------------------------------

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("target", String(50), nullable=False),
    Column("item_id", Id, index=True),
    Column("payload", JSON, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("available_at", UtcDateTime, nullable=False),
    Column("lease_expires_at", UtcDateTime),
    Column("last_error", Text),
    Column("result_channel", String(50)),
    Column("result_ts", String(40)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Index(None, "state", "available_at"),
    # Which item a thread belongs to: a reply names its parent message by ts.
    Index(None, "result_ts"),
)

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

#: Effects that happen once per key, whatever the retries: a thread message recorded in
#: a dispute's log (Slack may deliver an event twice), a dispute's resolution reminder.
#: Inserted in the transaction that has the effect, so the key and it commit together.
once_keys = Table(
    "once_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("item_id", Id, index=True),
    Column("created_at", UtcDateTime, nullable=False),
)

#: The durable inbox (``store.inbox``): each Slack interaction's body, stored before its
#: ack by the process (``owner``) that took it, and marked done in the transaction of its
#: first audited change (or once its listener ends). A row whose owner stopped beating is
#: adopted by a live process and dispatched again. The body is cleared when done; the
#: row itself is kept an hour, so a late redelivery of the same interaction is known.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    #: What identifies the interaction across Slack's redeliveries (its ``trigger_id`` or
    #: ``event_id``): a second copy finds the first and is not run again.
    Column("key", String(200), unique=True),
    Column("owner", String(100), nullable=False, index=True),
    Column("kind", String(40), nullable=False),
    Column("body", JSON),  # cleared when done
    Column("received_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("done_at", UtcDateTime, index=True),
)

#: The ``serve`` processes sharing the database and when each last beat (its own clock on
#: SQLite, where they share a host; the database's on PostgreSQL). A process that stops
#: cleanly removes its row; one that dies leaves it to go stale.
replicas = Table(
    "replicas",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)

#: Circuit breakers around outside systems (``ledger``), shared by every process: the
#: relay that trips one writes it, decisions and ``recon-bot status`` read it.
breakers = Table(
    "breakers",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("state", String(20), nullable=False),  # closed, open, half_open
    Column("failures", Integer, nullable=False),  # consecutive, since the last success
    Column("opened_at", UtcDateTime),
    Column("probe_at", UtcDateTime),  # when an open breaker lets one probe through
    Column("last_error", Text),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: Where each user's views stand: the App Home page they last chose (0 first), so a
#: refresh after someone else's change shows them the same page, across restarts too.
home_pages = Table(
    "home_pages",
    metadata,
    Column("user_id", String(50), primary_key=True),
    Column("page", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: Who is away and to whom their work goes (``/recon away``); a row ends when they are
#: back (``ended_at``) or when ``until`` passes. History is kept: rows are never deleted.
delegations = Table(
    "delegations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", String(50), nullable=False),
    Column("delegate_id", String(50), nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("note", Text),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Index(None, "ended_at", "until"),
    Index(None, "user_id"),
)

#: Each reviewer's verdicts and whether they were later overturned: accuracy is one
#: grouped count over (user_id, decided_at), never a scan of the audit log.
reviewer_decisions = Table(
    "reviewer_decisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("item_id", Id, nullable=False),
    Column("user_id", String(50), nullable=False),
    Column("verdict", String(10), nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
    Column("overturned_at", UtcDateTime),
    Index(None, "user_id", "decided_at"),
    Index(None, "item_id", "verdict"),
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

# --- audit log -------------------------------------------------------------------------

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

# --- bank statements (Stage 1) ---------------------------------------------------------

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

#: Stage 2's matches: one row per match of a matching run, with its score, band, state
#: and the score's components (JSON). ``key`` is the matcher's stable id of the pairing.
matches = Table(
    "matches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(2000), nullable=False, index=True),
    Column("band", String(20), nullable=False),
    Column("score", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("components", JSON, nullable=False),
    Column("statement_id", Id, ForeignKey("statements.id"), nullable=False, index=True),
    Column("sides_digest", String(64), nullable=False),
    Column("held", Text),
    Column("version", Integer, nullable=False),
    Column("decided_by", String(100)),
    Column("decided_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The people's accepts so far ([{"user", "at"}]): one while a match under dual
    # control waits for its second, distinct person; null before any.
    Column("approvals", JSON),
    #: The run that found (or last re-scored) the match.
    Column("run_id", Id),
    Index(None, "state", "band"),
)

#: Matching runs, numbered: "matched by run N / match M".
match_runs = Table(
    "match_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("statement_id", Id),
    Column("started_at", UtcDateTime, nullable=False),
)

#: The sides of each match: a bank line (statement id, line number) or a ledger entry
#: (entry id as imported, GL account), in the order the match lists them.
match_sides = Table(
    "match_sides",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("match_id", Id, ForeignKey("matches.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("statement_id", Id),
    Column("line_number", Integer),
    Column("entry_id", String(200)),
    Column("gl_account", String(200)),
    # A bank line's matches (the match history read by routing).
    Index(None, "statement_id", "line_number"),
)

#: Consistency checks of matching runs: open until a person resolves them. ``key`` is
#: the check's stable id (the same data gives the same key in every run).
match_checks = Table(
    "match_checks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(500), nullable=False, unique=True),
    Column("kind", String(30), nullable=False),
    Column("state", String(20), nullable=False),
    Column("statement_id", Id, index=True),
    Column("detail", Text, nullable=False),
    Column("resolution", String(30)),
    Column("note", Text),
    Column("resolved_by", String(100)),
    Column("resolved_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
)
