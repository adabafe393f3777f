"""Tables of the people at the desk: their App Home pages, their delegations while away and
their verdicts as reviewers."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from store.tables.schema import Id, UtcDateTime, metadata

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
