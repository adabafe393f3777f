"""The durable inbox's keeping (``store.inbox``): each ``serve`` process beats in
``replicas``; what a dead one stored and never finished is adopted by a live one (or
the next start), or given up; done rows and silent processes are forgotten; and
``recon-bot status`` reads who is alive and what is not finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from store.engine import Database
from store.interactions import (
    FORGET_REPLICA,
    KEEP_DONE,
    MAX_ATTEMPTS,
    Observer,
    Receipt,
    once_key,
    running,
)
from store.tables import inbox, once_keys, replicas

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Adopted:
    """An interaction adopted from a dead process, to dispatch again."""

    receipt: Receipt
    body: dict[str, Any]


async def beat_clock(conn: AsyncConnection, fallback: Callable[[], datetime]) -> datetime:
    """The clock beats are compared on: the database's on PostgreSQL (replicas on several
    hosts), this process's (``fallback``) on SQLite (its processes share one host)."""
    if conn.dialect.name != "postgresql":
        return fallback()
    value = (await conn.execute(select(func.now()))).scalar_one()
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


class InboxKeeping:
    """The keeper's side of a process's inbox (:class:`store.inbox.SqlInbox` adds the
    listener's side): beats, adoption, forgetting."""

    _db: Database
    _desk: Database
    owner: str
    _host: str
    _pid: int
    timeout: timedelta
    _now: Callable[[], datetime]
    _observe: Observer
    _started: datetime

    async def beat(self) -> None:
        """Says this process is alive (its first beat registers it)."""
        async with self._db.writer.begin() as conn:
            now = await self._clock(conn)
            seen = await conn.execute(
                update(replicas).where(replicas.c.id == self.owner).values(seen_at=now)
            )
            if not seen.rowcount:
                await conn.execute(
                    insert(replicas).values(
                        id=self.owner,
                        host=self._host[:200],
                        pid=self._pid,
                        started_at=self._started,
                        seen_at=now,
                    )
                )

    async def leave(self) -> None:
        """This process stops: what it still holds is adopted at once by the others."""
        async with self._db.writer.begin() as conn:
            await conn.execute(delete(replicas).where(replicas.c.id == self.owner))

    async def adopt(self, *, limit: int = 20) -> list[Adopted]:
        """Takes up to ``limit`` interactions whose owners are dead, oldest first (each
        process its own rows: ``SKIP LOCKED`` on PostgreSQL). One adopted too often is
        given up instead (:data:`MAX_ATTEMPTS`)."""
        now = self._now()
        adopted: list[Adopted] = []
        async with self._db.writer.begin() as conn:
            alive = await self._alive(conn)
            stmt = (
                select(
                    inbox.c.id,
                    inbox.c.key,
                    inbox.c.kind,
                    inbox.c.body,
                    inbox.c.attempts,
                    inbox.c.owner,
                )
                .where(inbox.c.done_at.is_(None), inbox.c.owner.not_in(alive))
                .order_by(inbox.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = (await conn.execute(stmt)).all()
            happened = await self._happened([once_key(r.key, r.id) for r in rows])
            for row in rows:
                kind = str(row.kind)
                if once_key(row.key, row.id) in happened:  # its change committed: done
                    await conn.execute(
                        update(inbox).where(inbox.c.id == row.id).values(done_at=now, body=None)
                    )
                    continue
                if row.attempts + 1 >= MAX_ATTEMPTS or not isinstance(row.body, dict):
                    await conn.execute(
                        update(inbox).where(inbox.c.id == row.id).values(done_at=now, body=None)
                    )
                    log.error(
                        "gave up an interaction adopted %d times without finishing",
                        row.attempts + 1,
                        extra={"event": "inbox_abandoned", "kind": kind, "row": row.id},
                    )
                    self._observe("abandoned", kind)
                    continue
                taken = await conn.execute(
                    update(inbox)
                    .where(inbox.c.id == row.id, inbox.c.owner == row.owner)
                    .values(owner=self.owner, attempts=row.attempts + 1)
                )
                if taken.rowcount:
                    receipt = Receipt(
                        id=int(row.id),
                        owner=self.owner,
                        kind=kind,
                        key=once_key(row.key, row.id),
                        replayed=True,
                    )
                    adopted.append(Adopted(receipt, dict(row.body)))
        for each in adopted:
            self._observe("adopted", each.receipt.kind)
        return adopted

    async def _happened(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` the desk holds: those interactions' changes committed."""
        if not keys:
            return set()
        async with self._desk.reader.connect() as conn:
            found = await conn.execute(select(once_keys.c.key).where(once_keys.c.key.in_(keys)))
            return {str(r[0]) for r in found}

    @staticmethod
    def bind(receipt: Receipt) -> None:
        """Makes ``receipt`` the running context's interaction (to dispatch it again in)."""
        running.set(receipt)

    async def forget(self) -> None:
        """Deletes done rows and the desk's interaction keys past :data:`KEEP_DONE`, and
        replicas silent for a day."""
        now = self._now()
        async with self._db.writer.begin() as conn:
            await conn.execute(delete(inbox).where(inbox.c.done_at < now - KEEP_DONE))
            silent_since = await self._clock(conn) - FORGET_REPLICA
            await conn.execute(delete(replicas).where(replicas.c.seen_at < silent_since))
        async with self._desk.writer.begin() as conn:
            await conn.execute(
                delete(once_keys).where(
                    once_keys.c.key.startswith("interaction:", autoescape=True),
                    once_keys.c.created_at < now - KEEP_DONE,
                )
            )

    async def _alive(self, conn: AsyncConnection) -> list[str]:
        since = await self._clock(conn) - self.timeout
        rows = await conn.execute(select(replicas.c.id).where(replicas.c.seen_at >= since))
        # This process is alive whatever its last beat says (a stalled loop beats late):
        # it must never adopt, and so run twice, what its own listeners are running.
        return [str(r[0]) for r in rows] + [self.owner]

    async def _clock(self, conn: AsyncConnection) -> datetime:
        return await beat_clock(conn, self._now)


@dataclass(frozen=True, slots=True)
class InboxStatus:
    """What ``recon-bot status`` shows of the live processes and the inbox."""

    live: list[str]
    #: Stored interactions not done yet: in flight, or waiting for a dead process's
    #: interactions to be adopted.
    waiting: int
    oldest_waiting_at: datetime | None


async def inbox_status(database: Database, *, silent_for: timedelta) -> InboxStatus:
    """The processes that beat within ``silent_for`` and the interactions not done."""
    async with database.reader.connect() as conn:
        now = await beat_clock(conn, lambda: datetime.now(UTC))
        beating = replicas.c.seen_at >= now - silent_for
        live = await conn.execute(select(replicas.c.id).where(beating).order_by(replicas.c.id))
        waiting = (
            await conn.execute(
                select(func.count(), func.min(inbox.c.received_at)).where(inbox.c.done_at.is_(None))
            )
        ).one()
    return InboxStatus(
        live=[str(r[0]) for r in live], waiting=int(waiting[0]), oldest_waiting_at=waiting[1]
    )
