"""The durable inbox: every Slack interaction is stored before its ack (issue 13).

Listeners ack first (Slack's 3 s rule) and decide after, and Slack never redelivers an
envelope once acked. A process that dies between the two (SIGKILL, out of memory, a lost
host) would take the interaction with it. So the ack waits for one small insert: the
interaction's body and the process (``owner``) that took it. The row is marked done in
the same transaction as the interaction's first audited change, or when its listener
ends having changed nothing audited. Every ``serve`` process beats in ``replicas``; a
row whose owner stopped beating is adopted by a live process (or the next start) and
dispatched again through the same listeners.

Exactly once: the transaction that marks a row done checks that the row is still its
process's and not done. A process whose row was adopted while it was merely slow finds
it so and rolls its change back (:class:`~domain.errors.TakenOver`), so the change
commits once, whichever process commits first. A copy of an interaction Slack delivers
again (it was never acked) carries the same ``trigger_id`` or ``event_id``: it finds the
first copy's row and runs only if that row's owner is dead and it was never done.

The body holds what the person sent (user data): it is cleared when the row is done and
the row is deleted an hour later (:data:`KEEP_DONE`). Nothing here logs a body.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.errors import TakenOver
from store.engine import Database
from store.tables import inbox, replicas

log = logging.getLogger(__name__)

#: A done row is kept this long (without its body), so a late redelivery is known.
KEEP_DONE: Final = timedelta(hours=1)
#: A replica row that has not beaten for this long is deleted.
FORGET_REPLICA: Final = timedelta(days=1)
#: An interaction adopted this many times without finishing is given up (logged): it
#: takes its process down each time, and must not take every process down in turn.
MAX_ATTEMPTS: Final = 3
#: How long the ack may wait for the insert. Past it the interaction runs unstored (and
#: is counted): a late ack is worse than the rare loss the store guards against.
STORE_WITHIN_S: Final = 1.0

#: Observes what happened to an interaction: (``event``, ``kind``), ``event`` one of
#: ``stored``, ``unstored``, ``duplicate``, ``adopted``, ``abandoned``, ``taken_over``.
Observer = Callable[[str, str], None]


@dataclass(slots=True, eq=False)
class Receipt:
    """One stored interaction in this process."""

    id: int
    owner: str
    kind: str
    #: Dispatched again from the store (its ack went out long ago, from another process).
    replayed: bool = False
    #: A listener took it up (a replay's dispatch may find none).
    started: bool = False
    #: Marked done: its change committed, or its listener ended.
    done: bool = False
    #: Set when its listener ended (a replay waits for it).
    finished: asyncio.Event = field(default_factory=asyncio.Event)


#: The interaction the running listener serves (copied into tasks it starts).
_current: contextvars.ContextVar[Receipt | None] = contextvars.ContextVar(
    "recon_inbox_receipt", default=None
)


@dataclass(frozen=True, slots=True)
class Adopted:
    """An interaction adopted from a dead process, to dispatch again."""

    receipt: Receipt
    body: dict[str, Any]
    received_at: datetime


def interaction_kind(body: Mapping[str, Any]) -> str:
    """``block_actions``, ``view_submission``, ``event_callback``, ``command``..."""
    if "command" in body and "type" not in body:
        return "command"
    return str(body.get("type") or "unknown")[:40]


def interaction_key(body: Mapping[str, Any]) -> str | None:
    """What names the interaction across Slack's redeliveries (None: nothing does)."""
    for name in ("trigger_id", "event_id"):
        value = body.get(name)
        if value:
            return f"{name}:{value}"[:200]
    return None


class SqlInbox:
    """The inbox of one ``serve`` process (``owner``), over its database."""

    def __init__(
        self,
        database: Database,
        *,
        owner: str,
        host: str,
        pid: int,
        timeout: timedelta,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        observe: Observer | None = None,
    ) -> None:
        self._db = database
        self.owner = owner
        self._host = host
        self._pid = pid
        #: A process that has not beaten for this long is taken for dead.
        self.timeout = timeout
        self._now = now
        self._observe = observe or (lambda _event, _kind: None)
        self._started = now()

    # --- a listener's side -------------------------------------------------------------

    async def receive(self, body: Mapping[str, Any]) -> bool:
        """Stores ``body`` before its ack and binds it to the running listener.

        Returns False when another copy of the same interaction is already taken (by a
        live process, or done): the caller acks and does nothing. Bounded by
        :data:`STORE_WITHIN_S`; past it, or when the store fails, the interaction runs
        unstored (logged and counted) and True is returned.
        """
        kind = interaction_kind(body)
        try:
            async with asyncio.timeout(STORE_WITHIN_S):
                receipt = await self._store(dict(body), kind)
        except Exception as exc:  # a timeout, a failed store: run unstored
            log.warning(
                "could not store an interaction before its ack; it runs unstored (%s)",
                type(exc).__name__,
                extra={"event": "inbox_unstored", "kind": kind},
            )
            self._observe("unstored", kind)
            return True
        if receipt is None:
            log.info(
                "a copy of an interaction already taken was acked and dropped",
                extra={"event": "inbox_duplicate", "kind": kind},
            )
            self._observe("duplicate", kind)
            return False
        self._observe("stored", kind)
        _current.set(receipt)
        return True

    async def _store(self, body: dict[str, Any], kind: str) -> Receipt | None:
        key = interaction_key(body)
        now = self._now()
        async with self._db.writer.begin() as conn:
            if key is not None:
                row = (
                    await conn.execute(select(inbox.c.id, inbox.c.kind).where(inbox.c.key == key))
                ).first()
                if row is not None:  # a copy Slack delivered again
                    return await self._take_over(conn, int(row.id), str(row.kind), body, now)
            row_id = (
                await conn.execute(
                    insert(inbox)
                    .values(
                        key=key,
                        owner=self.owner,
                        kind=kind,
                        body=body,
                        received_at=now,
                        attempts=0,
                    )
                    .returning(inbox.c.id)
                )
            ).scalar_one()
        return Receipt(id=int(row_id), owner=self.owner, kind=kind)

    async def _take_over(
        self, conn: AsyncConnection, row_id: int, kind: str, body: dict[str, Any], now: datetime
    ) -> Receipt | None:
        """Another copy of a stored interaction: None when it is taken (done, or its owner
        lives), else its row's receipt, taken over from its dead owner (this copy's body
        replaces the stored one)."""
        taken = await conn.execute(
            update(inbox)
            .where(
                inbox.c.id == row_id,
                inbox.c.done_at.is_(None),
                inbox.c.owner.not_in(await self._alive(conn)),
            )
            .values(owner=self.owner, body=body, attempts=inbox.c.attempts + 1, received_at=now)
        )
        return Receipt(id=row_id, owner=self.owner, kind=kind) if taken.rowcount else None

    @staticmethod
    def current() -> Receipt | None:
        """The interaction the running listener serves (None: unstored, or none)."""
        return _current.get()

    def resume(self) -> bool:
        """Whether the running listener serves an interaction dispatched again (it takes
        it up: :attr:`Receipt.started`)."""
        receipt = _current.get()
        if receipt is None or not receipt.replayed:
            return False
        receipt.started = True
        return True

    async def finish(self) -> None:
        """The running listener ended: marks its interaction done unless its change
        already did (never raises: a row left behind is run again, harmlessly, by the
        process that adopts it once this one is gone)."""
        receipt = _current.get()
        if receipt is None:
            return
        _current.set(None)
        try:
            if not receipt.done:
                async with self._db.writer.begin() as conn:
                    await conn.execute(_mark_done(receipt, self._now()))
                receipt.done = True
        except Exception as exc:  # see the docstring
            log.warning(
                "could not mark an interaction done (%s)",
                type(exc).__name__,
                extra={"event": "inbox_finish_failed", "kind": receipt.kind},
            )
        finally:
            receipt.finished.set()

    def taken_over(self, kind: str) -> None:
        """Counts a change rolled back because another process adopted its interaction."""
        log.warning(
            "this process was taken for dead: another one runs the interaction",
            extra={"event": "inbox_taken_over", "kind": kind},
        )
        self._observe("taken_over", kind)

    # --- the keeper's side ---------------------------------------------------------------

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
                select(inbox.c.id, inbox.c.kind, inbox.c.body, inbox.c.attempts, inbox.c.owner)
                .where(inbox.c.done_at.is_(None), inbox.c.owner.not_in(alive))
                .order_by(inbox.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            for row in (await conn.execute(stmt)).all():
                kind = str(row.kind)
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
                    receipt = Receipt(id=int(row.id), owner=self.owner, kind=kind, replayed=True)
                    adopted.append(Adopted(receipt, dict(row.body), now))
        for each in adopted:
            self._observe("adopted", each.receipt.kind)
        return adopted

    @staticmethod
    def bind(receipt: Receipt) -> None:
        """Makes ``receipt`` the running context's interaction (to dispatch it again in)."""
        _current.set(receipt)

    async def forget(self) -> None:
        """Deletes done rows past :data:`KEEP_DONE` and replicas silent for a day."""
        now = self._now()
        async with self._db.writer.begin() as conn:
            await conn.execute(delete(inbox).where(inbox.c.done_at < now - KEEP_DONE))
            silent_since = await self._clock(conn) - FORGET_REPLICA
            await conn.execute(delete(replicas).where(replicas.c.seen_at < silent_since))

    async def _alive(self, conn: AsyncConnection) -> list[str]:
        since = await self._clock(conn) - self.timeout
        rows = await conn.execute(select(replicas.c.id).where(replicas.c.seen_at >= since))
        # This process is alive whatever its last beat says (a stalled loop beats late):
        # it must never adopt, and so run twice, what its own listeners are running.
        return [str(r[0]) for r in rows] + [self.owner]

    async def _clock(self, conn: AsyncConnection) -> datetime:
        """Beats are compared on one clock: the database's on PostgreSQL (replicas on
        several hosts), this process's on SQLite (its processes share one host)."""
        if conn.dialect.name != "postgresql":
            return self._now()
        value = (await conn.execute(select(func.now()))).scalar_one()
        assert isinstance(value, datetime)
        return value.astimezone(UTC)


def _mark_done(receipt: Receipt, now: datetime) -> Any:
    return (
        update(inbox)
        .where(
            inbox.c.id == receipt.id,
            inbox.c.owner == receipt.owner,
            inbox.c.done_at.is_(None),
        )
        .values(done_at=now, body=None)
    )


async def settle(conn: AsyncConnection, now: datetime) -> Receipt | None:
    """In a transaction that audits a change: marks the running listener's interaction
    done with it, so the change and "done" commit together. Returns the receipt to mark
    once committed (None: no interaction, or already done).

    Raises:
        TakenOver: another process adopted the interaction (this one was taken for
            dead): the caller's transaction must roll back.
    """
    receipt = _current.get()
    if receipt is None or receipt.done:
        return None
    marked = await conn.execute(_mark_done(receipt, now))
    if not marked.rowcount:
        raise TakenOver(receipt.kind)
    return receipt


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
        now = (
            (await conn.execute(select(func.now()))).scalar_one().astimezone(UTC)
            if conn.dialect.name == "postgresql"
            else datetime.now(UTC)
        )
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
