"""The outbox rows a state change writes, in its own transaction, and the states a row
goes through afterwards (the relay's side is :mod:`store.outbox`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.notifications import NoticeKind, Notification
from domain.templates import HomeRefresh, encode
from store.bulk import insert_values
from store.tables import outbox


class RowState(StrEnum):
    """Outbox row lifecycle."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


#: outbox columns in the order SqlOutboxSink.enqueue builds its rows.
_ENQUEUED_COLUMNS = (
    "dedupe_key",
    "kind",
    "target",
    "item_id",
    "payload",
    "state",
    "attempts",
    "failures",
    "available_at",
    "created_at",
)


class SqlOutboxSink:
    """Enqueues notifications inside the unit of work's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.enqueued = 0
        #: The kinds of the rows enqueued (to wake only the relays that deliver them).
        self.kinds: set[NoticeKind] = set()

    async def enqueue(
        self,
        notifications: Sequence[Notification],
        *,
        now: datetime,
        delay: timedelta = timedelta(0),
    ) -> None:
        """Adds rows; a dedupe key seen before is silently skipped (exactly-once intent)."""
        # A batch repeats keys (one Home refresh per user per window): send each once.
        notifications = list({n.dedupe_key: n for n in notifications}.values())
        if not notifications:
            return
        pending, later = RowState.PENDING.value, now + delay
        values = [
            (
                n.dedupe_key,
                n.kind.value,
                n.target,
                n.item_id,
                encode(n.payload, n.links),
                pending,
                0,
                0,
                # App Home refreshes wait for the end of their debounce window.
                (
                    n.payload.not_before
                    if isinstance(n.payload, HomeRefresh) and n.payload.not_before
                    else later
                ),
                now,
            )
            for n in notifications
        ]
        await insert_values(
            self._conn, outbox, _ENQUEUED_COLUMNS, values, skip_duplicate="dedupe_key"
        )
        self.enqueued += len(values)
        self.kinds.update(n.kind for n in notifications)

    async def queued(self, dedupe_key: str) -> bool:
        """Whether a row of ``dedupe_key`` exists, whatever its state."""
        row = await self._conn.execute(
            select(outbox.c.id).where(outbox.c.dedupe_key == dedupe_key).limit(1)
        )
        return row.first() is not None

    async def sent_at(self, dedupe_key: str) -> datetime | None:
        """When Slack accepted the message of ``dedupe_key`` (None: not sent)."""
        row = await self._conn.execute(
            select(outbox.c.sent_at).where(
                outbox.c.dedupe_key == dedupe_key,
                outbox.c.state == RowState.SENT.value,
                outbox.c.result_ts.is_not(None),
            )
        )
        sent: datetime | None = row.scalar_one_or_none()
        return sent

    async def settle(self, row_id: int, *, attempts: int, now: datetime) -> bool:
        """Marks a claimed row sent if that claim still holds it (same attempt number,
        still sending): the compare-and-set every outcome is written with."""
        result = await self._conn.execute(
            update(outbox)
            .where(
                outbox.c.id == row_id,
                outbox.c.attempts == attempts,
                outbox.c.state == RowState.SENDING.value,
            )
            .values(state=RowState.SENT.value, sent_at=now, lease_expires_at=None, last_error=None)
        )
        return result.rowcount == 1
