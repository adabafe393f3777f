"""Tables of matching (Stage 2): matches, matching runs, match sides and consistency checks."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from store.tables.schema import Id, UtcDateTime, metadata

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
