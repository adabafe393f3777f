"""Reads of the ledger's delivery: entries with their delivery state, counts, breakers.

An entry's delivery state comes from the outbox row that delivers it (dedupe key
``ledger:`` + its idempotency key, see :func:`domain.ledger_status.ledger_dedupe_key`):
``pending`` or ``sending`` read as pending, ``sent`` as sent, ``dead`` as dead, and no row
(a held entry, or one made before entries were delivered) as pending. One outer join
computes it in the database, so listing, ``--unposted`` and the counts agree and never
load the whole journal to filter it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import String, case, func, literal, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from domain.ledger_status import (
    LEDGER_BREAKER,
    BreakerState,
    BreakerStatus,
    Delivery,
    DeliveryCounts,
    JournalRecord,
)
from store.engine import Database
from store.mapping import entry_from_row
from store.outbox_sink import RowState
from store.tables import breakers, journal_entries, outbox

__all__ = ["LedgerStatusStore", "OutboxCounts", "SqlLedgerStatusRepository"]

#: The outbox row delivering each entry (an alias: the outbox holds Slack rows too).
_row = outbox.alias("ledger_row")
_JOINED = journal_entries.outerjoin(
    _row,
    _row.c.dedupe_key
    == type_coerce(literal("ledger:"), String) + journal_entries.c.idempotency_key,
)
_DELIVERY: ColumnElement[str] = case(
    (_row.c.state == RowState.SENT.value, Delivery.SENT.value),
    (_row.c.state == RowState.DEAD.value, Delivery.DEAD.value),
    else_=Delivery.PENDING.value,
)
_NOT_SENT = or_(_row.c.state.is_(None), _row.c.state != RowState.SENT.value)
#: The disjoint bucket of ``DeliveryCounts`` each entry falls in.
_BUCKET: ColumnElement[str] = case(
    (_row.c.state == RowState.SENT.value, "sent"),
    (_row.c.state == RowState.DEAD.value, "dead"),
    (journal_entries.c.hold.is_not(None), "held"),
    else_="pending",
)


def _breaker(row: Mapping[Any, Any]) -> BreakerStatus:
    return BreakerStatus(
        name=row["name"],
        state=BreakerState(row["state"]),
        failures=row["failures"],
        opened_at=row["opened_at"],
        probe_at=row["probe_at"],
        last_error=row["last_error"],
        updated_at=row["updated_at"],
    )


async def read_breaker(conn: AsyncConnection, name: str) -> BreakerStatus:
    """The named breaker, or a closed one when no row is stored."""
    found = (await conn.execute(select(breakers).where(breakers.c.name == name))).mappings().first()
    return _breaker(found) if found is not None else BreakerStatus(name=name)


async def read_delivery_counts(conn: AsyncConnection) -> DeliveryCounts:
    """Entries per delivery bucket, in one grouped query."""
    rows = await conn.execute(select(_BUCKET, func.count()).select_from(_JOINED).group_by(_BUCKET))
    return DeliveryCounts(**{bucket: int(n) for bucket, n in rows.all()})


class SqlLedgerStatusRepository:
    """Implements :class:`domain.ports.LedgerStatusRepository` on one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def breaker(self, name: str) -> BreakerStatus:
        """The named breaker; a closed one with no history when none is stored."""
        return await read_breaker(self._conn, name)

    async def delivery_counts(self) -> DeliveryCounts:
        """Journal entries per delivery state (pending, sent, dead, held)."""
        return await read_delivery_counts(self._conn)


class OutboxCounts(NamedTuple):
    """Outbox rows of every kind: waiting or in flight, sent, dead, and the oldest
    waiting one's creation time."""

    pending: int
    sent: int
    dead: int
    oldest_pending_at: datetime | None


class LedgerStatusStore:
    """The operator's reads (``recon-bot journal``, ``journal export``, ``status``)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def records(
        self, *, after_id: int = 0, unposted: bool = False, limit: int = 500
    ) -> list[JournalRecord]:
        """Up to ``limit`` entries with ``id > after_id``, oldest (lowest id) first.

        Page through a long journal by passing the last id seen as ``after_id``.

        Args:
            after_id: Only entries after this row id (0: from the first).
            unposted: Only entries the ledger does not have (delivery not ``sent``).
            limit: The most entries returned.
        """
        stmt = (
            select(journal_entries, _DELIVERY.label("delivery"))
            .select_from(_JOINED)
            .where(journal_entries.c.id > after_id)
            .order_by(journal_entries.c.id)
            .limit(limit)
        )
        if unposted:
            stmt = stmt.where(_NOT_SENT)
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            JournalRecord(id=r["id"], entry=entry_from_row(r), delivery=Delivery(r["delivery"]))
            for r in rows
        ]

    async def delivery_counts(self) -> DeliveryCounts:
        """Journal entries per delivery state (pending, sent, dead, held)."""
        async with self._db.reader.connect() as conn:
            return await read_delivery_counts(conn)

    async def breakers(self) -> list[BreakerStatus]:
        """Every stored breaker by name, the ledger's always among them (closed when it
        has no row)."""
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(select(breakers).order_by(breakers.c.name))).mappings()
            found = {r["name"]: _breaker(r) for r in rows}
        found.setdefault(LEDGER_BREAKER, BreakerStatus(name=LEDGER_BREAKER))
        return [found[name] for name in sorted(found)]

    async def outbox_counts(self) -> OutboxCounts:
        """Outbox rows of every kind (Slack messages and ledger entries alike)."""
        waiting = [RowState.PENDING.value, RowState.SENDING.value]
        async with self._db.reader.connect() as conn:
            grouped = await conn.execute(
                select(outbox.c.state, func.count()).group_by(outbox.c.state)
            )
            per_state: dict[str, int] = {state: int(n) for state, n in grouped.all()}
            oldest = (
                await conn.execute(
                    select(func.min(outbox.c.created_at)).where(outbox.c.state.in_(waiting))
                )
            ).scalar()
        return OutboxCounts(
            pending=sum(per_state.get(s, 0) for s in waiting),
            sent=per_state.get(RowState.SENT.value, 0),
            dead=per_state.get(RowState.DEAD.value, 0),
            oldest_pending_at=oldest,
        )
