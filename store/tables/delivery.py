"""Tables of delivery to outside systems: the outbox of messages to send, the keys of
effects that happen once whatever the retries, and the circuit breakers around them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from store.tables.schema import Id, UtcDateTime, metadata

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
