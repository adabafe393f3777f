"""Circuit breakers in the ``breakers`` table, shared by every process.

The relay that sends through a breaker changes it with :meth:`BreakerStore.change`: a
read-modify-write of one row in one write transaction (``FOR UPDATE`` on PostgreSQL;
SQLite's writer is already one at a time), with the alert the change causes enqueued in
the same transaction, so two processes never both alert about one opening. Decisions
read it through the unit of work (:class:`SqlBreakerReader`) to mark fallback mode, and
``recon-bot status`` reads it with :meth:`BreakerStore.all`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.breaker import Breaker, BreakerState, Step
from domain.notifications import Notification
from store.engine import Database
from store.outbox_sink import SqlOutboxSink
from store.tables import breakers


def _breaker(row: Mapping[Any, Any] | None, name: str) -> Breaker:
    if row is None:
        return Breaker(name=name)
    return Breaker(
        name=name,
        state=BreakerState(row["state"]),
        failures=row["failures"],
        opened_at=row["opened_at"],
        probe_at=row["probe_at"],
        last_error=row["last_error"],
    )


async def _read(conn: AsyncConnection, name: str, *, lock: bool = False) -> tuple[Breaker, bool]:
    """The stored breaker and whether a row exists."""
    stmt = select(breakers).where(breakers.c.name == name)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    return _breaker(row, name), row is not None


class SqlBreakerReader:
    """Reads breakers inside a unit of work's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, name: str) -> Breaker:
        """The breaker (closed when never stored)."""
        breaker, _ = await _read(self._conn, name)
        return breaker


class BreakerStore:
    """The relay's side of the breakers: read, change (with its alert), list."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, name: str) -> Breaker:
        """The breaker as stored now (closed when never stored)."""
        async with self._db.reader.connect() as conn:
            breaker, _ = await _read(conn, name)
        return breaker

    async def all(self) -> list[Breaker]:
        """Every stored breaker, by name."""
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(breakers).order_by(breakers.c.name))
            return [_breaker(r, r["name"]) for r in rows.mappings()]

    async def change(
        self,
        name: str,
        step: Callable[[Breaker], Step],
        *,
        now: datetime,
        notices: Callable[[Step], Sequence[Notification]] = lambda _: (),
    ) -> Step:
        """Applies ``step`` to the stored breaker and stores the result (nothing is
        written when it is unchanged), with ``notices(result)`` enqueued in the same
        transaction."""
        async with self._db.writer.begin() as conn:
            before, exists = await _read(conn, name, lock=True)
            result = step(before)
            after = result.breaker
            if after != before or not exists:
                values = {
                    "state": after.state.value,
                    "failures": after.failures,
                    "opened_at": after.opened_at,
                    "probe_at": after.probe_at,
                    "last_error": after.last_error,
                    "updated_at": now,
                }
                if exists:
                    await conn.execute(
                        update(breakers).where(breakers.c.name == name).values(**values)
                    )
                else:
                    await conn.execute(insert(breakers).values(name=name, **values))
            await SqlOutboxSink(conn).enqueue(list(notices(result)), now=now)
        return result
