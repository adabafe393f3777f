"""Tables of incoming Slack interactions: the durable inbox and the ``serve`` processes
(replicas) that own its rows."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    String,
    Table,
)

from store.tables.schema import Id, UtcDateTime, metadata

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
