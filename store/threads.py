"""Slack threads and once-keys: which item a thread is about, and effects done once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from store.bulk import dialect_insert
from store.tables import item_cards, once_keys, outbox


class SqlThreadRepository:
    """Implements :class:`domain.ports.ThreadRepository` on one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def item_of_thread(self, *, channel: str, thread_ts: str) -> int | None:
        """The item whose card is at (``channel``, ``thread_ts``), else the item of a sent
        outbox message there (a reminder, an escalation alert, a DM, a thread reply)."""
        card = await self._conn.execute(
            select(item_cards.c.item_id).where(
                item_cards.c.ts == thread_ts, item_cards.c.channel == channel
            )
        )
        found = card.scalar()
        if found is not None:
            return int(found)
        sent = await self._conn.execute(
            select(outbox.c.item_id)
            .where(
                outbox.c.result_ts == thread_ts,
                outbox.c.result_channel == channel,
                outbox.c.item_id.is_not(None),
            )
            .limit(1)
        )
        found = sent.scalar()
        return int(found) if found is not None else None


class SqlOnceKeys:
    """Implements :class:`domain.ports.OnceKeys` on one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def first_time(self, key: str, *, item_id: int | None, now: datetime) -> bool:
        """Inserts the key unless it is there (one statement: concurrent callers wait on
        the key's row, and all but the first insert nothing)."""
        stmt = dialect_insert(self._conn.dialect.name, once_keys).values(
            key=key, item_id=item_id, created_at=now
        )
        result = await self._conn.execute(
            stmt.on_conflict_do_nothing(index_elements=[once_keys.c.key])
        )
        return bool(result.rowcount)
