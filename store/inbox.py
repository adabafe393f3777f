"""The durable inbox: every Slack interaction is stored before its ack (issue 13).

Listeners ack first (Slack's 3 s rule) and decide after, and Slack never redelivers an
envelope once acked. A process that dies between the two (SIGKILL, out of memory, a lost
host) would take the interaction with it. So the ack waits for one small insert: the
interaction's body and the process (``owner``) that took it. The row is marked done when
its listener ends. Every ``serve`` process beats in ``replicas``; a row not done whose
owner stopped beating is adopted by a live process (or the next start) and dispatched
again through the same listeners.

Exactly once: the transaction of the interaction's first audited change also records its
key in the desk's ``once_keys`` (:func:`settle`), so the change and "it happened" commit
together. A second run of the interaction (an adopter, or the slow process it was taken
from) finds the key and rolls its change back (:class:`~domain.errors.TakenOver`): the
change commits once, whichever process commits first, and an adopted row whose key is
already there is marked done without running again. A copy of an interaction Slack
delivers again (never acked) carries the same ``trigger_id`` or ``event_id``: it finds
the first copy's row and runs only if that row's owner is dead and it was never done.

Where the rows live (:func:`open_inbox_store`): on PostgreSQL, in the desk's database;
on SQLite, in a file of its own beside it (``recon.db`` -> ``recon-inbox.db``), so that
the insert before each ack never queues behind the desk's single writer. The inbox's
own writes do not wait for the disk (:func:`_lazily`): what they guard against is the
death of a ``serve`` process, which they survive once committed (the database server,
or the operating system's cache of the SQLite file, holds them); a power cut could lose
the last ones, as it would lose the interactions themselves without an inbox.

The body holds what the person sent (user data): it is cleared when the row is done and
the row is deleted an hour later (:data:`KEEP_DONE`). Nothing here logs a body.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.errors import TakenOver
from store.engine import Database, create_database, sqlite_file
from store.inbox_keeping import Adopted, InboxKeeping, InboxStatus, inbox_status
from store.interactions import (
    KEEP_DONE,
    MAX_ATTEMPTS,
    STORE_WITHIN_S,
    Observer,
    Receipt,
    interaction_key,
    interaction_kind,
    once_key,
    running,
)
from store.tables import inbox, replicas
from store.threads import SqlOnceKeys

__all__ = [
    "KEEP_DONE",
    "MAX_ATTEMPTS",
    "Adopted",
    "InboxStatus",
    "Receipt",
    "SqlInbox",
    "inbox_file",
    "inbox_status",
    "interaction_key",
    "interaction_kind",
    "open_inbox_store",
    "settle",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Arrival:
    """An interaction waiting for the group commit that stores it."""

    body: dict[str, Any]
    kind: str
    key: str | None
    now: datetime
    result: asyncio.Future[Receipt | None]


async def open_inbox_store(desk: Database) -> Database:
    """Where the inbox of ``desk`` lives (module docstring): the desk's own database on
    PostgreSQL; on SQLite a file of its own beside it (mode 0600, tables created on
    first use). The caller disposes of it when it is not ``desk``."""
    side = inbox_file(desk.url)
    if side is None:
        return desk
    store = create_database(f"sqlite+aiosqlite:///{side}", pool_size=1, synchronous="NORMAL")
    async with store.writer.begin() as conn:
        await conn.run_sync(lambda sync: inbox.metadata.create_all(sync, tables=[inbox, replicas]))
    return store


def inbox_file(database_url: str) -> Path | None:
    """The SQLite inbox file beside a SQLite desk (None on PostgreSQL)."""
    path = sqlite_file(database_url)
    return None if path is None else path.with_name(f"{path.stem}-inbox{path.suffix or '.db'}")


class SqlInbox(InboxKeeping):
    """The inbox of one ``serve`` process (``owner``), over its database: the listener's
    side here, the keeper's in :class:`~store.inbox_keeping.InboxKeeping`."""

    def __init__(
        self,
        database: Database,
        *,
        desk: Database | None = None,
        owner: str,
        host: str,
        pid: int,
        timeout: timedelta,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        observe: Observer | None = None,
    ) -> None:
        #: Where the rows live (:func:`open_inbox_store`), and the desk's own database
        #: (its ``once_keys``), the same one on PostgreSQL.
        self._db = database
        self._desk = desk or database
        self.owner = owner
        self._host = host
        self._pid = pid
        #: A process that has not beaten for this long is taken for dead.
        self.timeout = timeout
        self._now = now
        self._observe = observe or (lambda _event, _kind: None)
        self._started = now()
        # Waiting for the next group commit (_flush): inserts, and listeners that ended.
        self._arrivals: list[_Arrival] = []
        self._finished: list[Receipt] = []
        self._flushing: asyncio.Task[None] | None = None

    async def receive(self, body: Mapping[str, Any]) -> bool:
        """Stores ``body`` before its ack and binds it to the running listener.

        Returns False when another copy of the same interaction is already taken (by a
        live process, or done): the caller acks and does nothing. Bounded by
        :data:`STORE_WITHIN_S`; past it, or when the store fails, the interaction runs
        unstored (logged and counted) and True is returned.
        """
        kind = interaction_kind(body)
        stored = self._store(dict(body), kind)
        try:
            async with asyncio.timeout(STORE_WITHIN_S):
                receipt = await asyncio.shield(stored)
        except Exception as exc:  # a timeout, a failed store: run unstored
            # A row the group commit still stores is not this listener's: done at once
            # (else it would wait, undone, to be run again once this process is gone).
            stored.add_done_callback(self._unwanted)
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
        running.set(receipt)
        return True

    def _store(self, body: dict[str, Any], kind: str) -> asyncio.Future[Receipt | None]:
        """Queues the insert for the next group commit (:meth:`_flush`): its receipt."""
        arrival = _Arrival(
            body=body,
            kind=kind,
            key=interaction_key(body),
            now=self._now(),
            result=asyncio.get_running_loop().create_future(),
        )
        self._arrivals.append(arrival)
        self._kick()
        return arrival.result

    def _unwanted(self, stored: asyncio.Future[Receipt | None]) -> None:
        """A receipt its listener stopped waiting for is marked done by the next commit."""
        if stored.cancelled() or stored.exception() is not None:
            return
        receipt = stored.result()
        if receipt is not None:
            self._finished.append(receipt)
            self._kick()

    def _kick(self) -> None:
        if self._flushing is None or self._flushing.done():
            # A context of its own: the flush serves every listener, and holds none's
            # interaction (store.interactions.running).
            self._flushing = asyncio.create_task(self._flush(), context=contextvars.Context())

    async def settled(self) -> None:
        """Waits until every write queued so far is committed (or has failed)."""
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        """Group commit: every insert and done-mark queued meanwhile, in one transaction.

        Under load the acks would otherwise queue one transaction each behind the
        inbox's one writer connection (and each statement waits a turn of the busy event
        loop): measured with 50 interactions in flight, that was most of an ack's time.
        """
        while self._arrivals or self._finished:
            arrivals, self._arrivals = self._arrivals, []
            finished, self._finished = self._finished, []
            now = self._now()
            try:
                async with self._db.writer.begin() as conn:
                    await _lazily(conn)
                    receipts = await self._insert(conn, arrivals)
                    ended = [r.id for r in finished]
                    if ended:
                        await conn.execute(
                            update(inbox)
                            .where(
                                inbox.c.id.in_(ended),
                                inbox.c.owner == self.owner,
                                inbox.c.done_at.is_(None),
                            )
                            .values(done_at=now, body=None)
                        )
            except Exception as exc:
                for arrival in arrivals:
                    if not arrival.result.done():
                        arrival.result.set_exception(exc)
                for receipt in finished:  # left behind: see finish()
                    log.warning(
                        "could not mark an interaction done (%s)",
                        type(exc).__name__,
                        extra={"event": "inbox_finish_failed", "kind": receipt.kind},
                    )
                    receipt.finished.set()
                continue
            for arrival, stored in zip(arrivals, receipts, strict=True):
                if not arrival.result.done():
                    arrival.result.set_result(stored)
            for receipt in finished:
                receipt.done = True
                receipt.finished.set()

    async def _insert(
        self, conn: AsyncConnection, arrivals: list[_Arrival]
    ) -> list[Receipt | None]:
        """Inserts the arrivals in one statement; a copy of an interaction already stored
        (its key is there, or earlier in the batch) is taken over or refused instead."""
        keys = [a.key for a in arrivals if a.key is not None]
        stored: dict[str, tuple[int, str]] = {}
        if keys:
            found = await conn.execute(
                select(inbox.c.key, inbox.c.id, inbox.c.kind).where(inbox.c.key.in_(keys))
            )
            stored = {str(r.key): (int(r.id), str(r.kind)) for r in found}
        fresh: list[_Arrival] = []
        seen: set[str] = set()
        for arrival in arrivals:
            if arrival.key is None or (arrival.key not in stored and arrival.key not in seen):
                fresh.append(arrival)
                if arrival.key is not None:
                    seen.add(arrival.key)
        ids: dict[int, int] = {}
        if fresh:
            rows = await conn.execute(
                insert(inbox).returning(inbox.c.id, sort_by_parameter_order=True),
                [
                    {
                        "key": a.key,
                        "owner": self.owner,
                        "kind": a.kind,
                        "body": a.body,
                        "received_at": a.now,
                        "attempts": 0,
                    }
                    for a in fresh
                ],
            )
            ids = {id(a): int(r[0]) for a, r in zip(fresh, rows.all(), strict=True)}
        receipts: list[Receipt | None] = []
        for arrival in arrivals:
            if id(arrival) in ids:
                row_id = ids[id(arrival)]
                receipts.append(
                    Receipt(
                        id=row_id,
                        owner=self.owner,
                        kind=arrival.kind,
                        key=once_key(arrival.key, row_id),
                    )
                )
            elif arrival.key in stored:  # a copy Slack delivered again
                row_id, kind = stored[arrival.key]
                receipts.append(
                    await self._take_over(
                        conn, row_id, kind, arrival.key, arrival.body, arrival.now
                    )
                )
            else:  # two copies in one batch: the first runs
                receipts.append(None)
        return receipts

    async def _take_over(
        self,
        conn: AsyncConnection,
        row_id: int,
        kind: str,
        key: str,
        body: dict[str, Any],
        now: datetime,
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
        if not taken.rowcount:
            return None
        return Receipt(id=row_id, owner=self.owner, kind=kind, key=once_key(key, row_id))

    @staticmethod
    def current() -> Receipt | None:
        """The interaction the running listener serves (None: unstored, or none)."""
        return running.get()

    def resume(self) -> bool:
        """Whether the running listener serves an interaction dispatched again (it takes
        it up: :attr:`Receipt.started`)."""
        receipt = running.get()
        if receipt is None or not receipt.replayed:
            return False
        receipt.started = True
        return True

    async def finish(self) -> None:
        """The running listener ended: its interaction is marked done with the next group
        commit (it does not wait; :meth:`settled` does). Never raises: a row left behind
        is adopted once this process is gone, and then marked done at once when its
        change committed, or run again when it had none (a read)."""
        receipt = running.get()
        if receipt is None:
            return
        running.set(None)
        if receipt.done:
            receipt.finished.set()
            return
        self._finished.append(receipt)
        self._kick()

    def taken_over(self, kind: str) -> None:
        """Counts a change rolled back because another process adopted its interaction."""
        log.warning(
            "this process was taken for dead: another one runs the interaction",
            extra={"event": "inbox_taken_over", "kind": kind},
        )
        self._observe("taken_over", kind)

    async def leave(self) -> None:
        """This process stops: the listeners that ended are marked done, then what it
        still holds is adopted at once by the others."""
        await self.settled()
        await super().leave()


async def _lazily(conn: AsyncConnection) -> None:
    """This transaction's commit need not wait for the disk (module docstring): on
    PostgreSQL ``synchronous_commit`` off for it alone; the SQLite inbox file is opened
    with ``synchronous=NORMAL``."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))


async def settle(conn: AsyncConnection, now: datetime) -> Receipt | None:
    """In a transaction that audits a change: records the running listener's interaction
    as happened (its key in ``once_keys``), so the change and the key commit together.
    Returns the receipt to mark once committed (None: no interaction, or its change is
    already in).

    Raises:
        TakenOver: the interaction's change already committed, from another run of it
            (this process was taken for dead, or is the adopter of one that was only
            slow): the caller's transaction must roll back.
    """
    receipt = running.get()
    if receipt is None or receipt.changed:
        return None
    if not await SqlOnceKeys(conn).first_time(receipt.key, item_id=None, now=now):
        raise TakenOver(receipt.kind)
    return receipt
