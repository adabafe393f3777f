"""The audit log writer: chained records and signed checkpoints, in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.audit.checkpoints import Checkpoint, sign_checkpoint
from domain.audit.keys import SIGNATURE_ALGORITHM, Signer
from domain.audit.merkle import MerkleFrontier, leaf_digest
from domain.audit.records import GENESIS, AuditEntry, AuditFormatError, record_body
from store.audit.snapshot import checkpoint_of
from store.bulk import dialect_insert, insert_values
from store.errors import StoreError
from store.tables import audit_checkpoints, audit_head, audit_keys, audit_records

#: audit_records columns in the order append builds its rows.
_RECORD_COLUMNS: Final = ("seq", "body", "hash", "item_id", "event")

DEFAULT_LOG: Final = "recon"
"""Name of the log; one log per database (``audit_records`` has no log column)."""

#: Moves the head from the size and last hash this process left (:class:`HeadCache`).
#: Built once: building the expression was a quarter of a click's CPU in the store.
_MOVE_CACHED_HEAD: Final = (
    update(audit_head)
    .where(
        audit_head.c.log == bindparam("log_name"),
        audit_head.c.size == bindparam("old_size"),
        audit_head.c.last_hash == bindparam("old_hash"),
    )
    .values(
        size=bindparam("new_size"),
        last_hash=bindparam("new_hash"),
        frontier=bindparam("new_frontier", type_=audit_head.c.frontier.type),
    )
)


class AuditStoreError(StoreError):
    """The audit tables are not in a state the log can write to (one clear sentence)."""


def _insert_ignoring_duplicates(conn: AsyncConnection, table: Any, values: dict[str, Any]) -> Any:
    # Two processes may register the same key or create the same head at once.
    return dialect_insert(conn.dialect.name, table).values(**values).on_conflict_do_nothing()


async def _register_key(conn: AsyncConnection, signer: Signer, now: datetime) -> None:
    stored = (
        await conn.execute(
            select(audit_keys.c.public_key).where(audit_keys.c.key_id == signer.key_id)
        )
    ).scalar_one_or_none()
    if stored is None:
        await conn.execute(
            _insert_ignoring_duplicates(
                conn,
                audit_keys,
                {
                    "key_id": signer.key_id,
                    "public_key": signer.public_key_hex,
                    "algorithm": SIGNATURE_ALGORITHM,
                    "created_at": now,
                },
            )
        )
    elif stored != signer.public_key_hex:
        raise AuditStoreError(
            f"audit key {signer.key_id} is stored with a different public key; "
            "the keys table was altered"
        )


async def init_audit(
    conn: AsyncConnection, *, signer: Signer, now: datetime, log: str = DEFAULT_LOG
) -> None:
    """Creates the log's head row if missing and registers the signer's public key.

    Idempotent; run it at start-up inside a writer transaction and commit.
    """
    await conn.execute(
        _insert_ignoring_duplicates(
            conn,
            audit_head,
            {
                "log": log,
                "size": 0,
                "last_hash": GENESIS,
                "frontier": MerkleFrontier().to_json(),
            },
        )
    )
    await _register_key(conn, signer, now)


@dataclass(slots=True)
class HeadCache:
    """The head row as this process last wrote it, so that the next append can skip
    reading it back (one statement of three in a click's audit write).

    Only a hint: :meth:`SqlAuditLog.append` moves the head with a compare-and-set on
    ``(size, last_hash)`` and reads the row as before when the row moved (another
    process appended, or the transaction that wrote the hint rolled back). Equal size
    and last hash mean the same chain, hence the same Merkle frontier.
    """

    size: int = -1
    last_hash: str = ""
    frontier: MerkleFrontier | None = None


class SqlAuditLog:
    """The audit log of one transaction: implements :class:`domain.ports.AuditSink`.

    Build one per unit of work on its connection (and only one: it remembers what it
    appended). ``append`` writes records inside the caller's transaction (they commit
    or vanish with it); ``seal`` signs a checkpoint of the new size and root, and must
    run before commit whenever ``append`` did.
    """

    def __init__(
        self,
        conn: AsyncConnection,
        *,
        signer: Signer,
        log: str = DEFAULT_LOG,
        head_cache: HeadCache | None = None,
    ) -> None:
        self._conn = conn
        self._signer = signer
        self._log = log
        self._cache = head_cache
        # What the last append left, until sealed: (time of its last entry, frontier).
        # The head row stays locked until commit, so nobody else can move it meanwhile.
        self._unsealed: tuple[datetime, MerkleFrontier] | None = None
        #: Every entry appended in this transaction (the metrics count them on commit).
        self.appended: list[AuditEntry] = []

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Chains and stores ``entries`` in order, in the current transaction.

        Raises:
            AuditFormatError: an entry cannot be recorded (a float in ``data``, a naive
                time...); nothing was written.
            AuditStoreError: the log has no head row (run :func:`init_audit`) or the
                head row is inconsistent.
        """
        if not entries:
            return
        cache = self._cache
        moved = False
        if cache is not None and cache.frontier is not None:
            # The head as this process left it: move it with a compare-and-set (which
            # also takes the row lock on PostgreSQL) instead of reading it first.
            frontier = cache.frontier.copy()
            rows, seq, prev = _chain(entries, frontier, cache.size, cache.last_hash)
            result = await self._conn.execute(
                _MOVE_CACHED_HEAD,
                {
                    "log_name": self._log,
                    "old_size": cache.size,
                    "old_hash": cache.last_hash,
                    "new_size": seq,
                    "new_hash": prev,
                    "new_frontier": frontier.to_json(),
                },
            )
            moved = result.rowcount == 1
        if not moved:
            head = (
                await self._conn.execute(
                    select(audit_head.c.size, audit_head.c.last_hash, audit_head.c.frontier)
                    .where(audit_head.c.log == self._log)
                    .with_for_update()  # PostgreSQL: one appender per log at a time
                )
            ).one_or_none()
            if head is None:
                raise AuditStoreError(
                    f"audit log {self._log!r} is not initialized; run init_audit (recon-bot init)"
                )
            frontier = frontier_of(head.frontier, head.size)
            rows, seq, prev = _chain(entries, frontier, head.size, head.last_hash)
            await self._conn.execute(
                update(audit_head)
                .where(audit_head.c.log == self._log)
                .values(size=seq, last_hash=prev, frontier=frontier.to_json())
            )
        await insert_values(self._conn, audit_records, _RECORD_COLUMNS, rows)
        if cache is not None:
            cache.size, cache.last_hash, cache.frontier = seq, prev, frontier.copy()
        self._unsealed = (entries[-1].time, frontier)
        self.appended.extend(entries)

    async def seal(self, now: datetime | None = None) -> Checkpoint | None:
        """Signs and stores a checkpoint of the log as this transaction leaves it.

        Call just before commit. Registers the signer's key if it is new.

        Args:
            now: the checkpoint's time; defaults to the time of the last entry appended
                (the domain reads no clock, and the entries carry the request's time).

        Returns:
            The checkpoint, to append to the anchors file after commit; None when
            nothing was appended since the last seal.
        """
        if self._unsealed is None:
            return None
        last_time, frontier = self._unsealed
        time = now if now is not None else last_time
        checkpoint = sign_checkpoint(
            self._signer, log=self._log, size=frontier.size, root=frontier.root(), time=time
        )
        await _store_checkpoint(self._conn, self._signer, checkpoint)
        self._unsealed = None
        return checkpoint

    @property
    def unsealed(self) -> bool:
        """Whether records were appended since the last :meth:`seal`."""
        return self._unsealed is not None

    @property
    def unsealed_since(self) -> datetime | None:
        """Time of the last entry appended and not sealed yet (the request's time)."""
        return None if self._unsealed is None else self._unsealed[0]


async def _store_checkpoint(conn: AsyncConnection, signer: Signer, checkpoint: Checkpoint) -> None:
    await _register_key(conn, signer, checkpoint.time)
    await conn.execute(
        insert(audit_checkpoints).values(
            log=checkpoint.log,
            size=checkpoint.size,
            root=checkpoint.root,
            time=checkpoint.time,
            key_id=checkpoint.key_id,
            signature=checkpoint.signature,
        )
    )


async def seal_head(
    conn: AsyncConnection, *, signer: Signer, now: datetime, log: str = DEFAULT_LOG
) -> Checkpoint | None:
    """Signs a checkpoint of the log's head unless a checkpoint already covers it.

    The seal transaction of batched sealing (:mod:`domain.audit.sealing`): run it in a
    writer transaction of its own and commit. It locks the head row (PostgreSQL), so
    two replicas sealing at once sign one checkpoint, and the second finds nothing to do.

    Returns:
        The new checkpoint, to anchor after commit; None when the log is empty, has no
        head row, or its newest checkpoint already reaches the head.
    """
    head = (
        await conn.execute(
            select(audit_head.c.size, audit_head.c.frontier)
            .where(audit_head.c.log == log)
            .with_for_update()
        )
    ).one_or_none()
    if head is None or head.size == 0:
        return None
    signed = (
        await conn.execute(
            select(func.max(audit_checkpoints.c.size)).where(audit_checkpoints.c.log == log)
        )
    ).scalar_one_or_none()
    if signed is not None and signed >= head.size:
        return None
    frontier = frontier_of(head.frontier, head.size)
    checkpoint = sign_checkpoint(
        signer, log=log, size=frontier.size, root=frontier.root(), time=now
    )
    await _store_checkpoint(conn, signer, checkpoint)
    return checkpoint


async def unsealed_tail(conn: AsyncConnection, *, log: str = DEFAULT_LOG) -> tuple[int, int] | None:
    """``(first, last)`` seq of the records no checkpoint covers yet, or None."""
    size = (
        await conn.execute(select(audit_head.c.size).where(audit_head.c.log == log))
    ).scalar_one_or_none()
    if not size:
        return None
    signed = (
        await conn.execute(
            select(func.max(audit_checkpoints.c.size)).where(audit_checkpoints.c.log == log)
        )
    ).scalar_one_or_none() or 0
    return (signed + 1, size) if signed < size else None


def _chain(
    entries: Sequence[AuditEntry], frontier: MerkleFrontier, size: int, last_hash: str
) -> tuple[list[tuple[int, bytes, str, int | None, str]], int, str]:
    """Chains ``entries`` after record ``size`` (hash ``last_hash``), extending ``frontier``.

    Returns:
        The ``audit_records`` rows, the new size and the new last hash.
    """
    seq, prev = size, last_hash
    rows = []
    for entry in entries:
        seq += 1
        body = record_body(entry, seq=seq, prev=prev)
        digest = leaf_digest(body)  # hashed once: the frontier takes the raw bytes
        frontier.append_digest(digest)
        prev = digest.hex()
        rows.append((seq, body, prev, entry.item_id, entry.event))
    return rows, seq, prev


def frontier_of(stored: Any, size: int) -> MerkleFrontier:
    """The Merkle frontier stored in the head row, checked against the head's size.

    Raises:
        AuditStoreError: the stored frontier is not one, or covers another size.
    """
    if isinstance(stored, str):  # a JSON column read back as text by some drivers
        stored = json.loads(stored)
    try:
        frontier = MerkleFrontier.from_json(stored)
    except AuditFormatError as exc:
        raise AuditStoreError(f"the audit head's Merkle frontier is corrupt: {exc}") from exc
    if frontier.size != size:
        raise AuditStoreError(
            f"the audit head says {size} records but its frontier covers {frontier.size}"
        )
    return frontier


async def latest_checkpoint(conn: AsyncConnection, *, log: str = DEFAULT_LOG) -> Checkpoint | None:
    """The newest checkpoint of ``log`` (to re-anchor after a crash lost an anchor)."""
    row = (
        await conn.execute(
            select(audit_checkpoints)
            .where(audit_checkpoints.c.log == log)
            .order_by(audit_checkpoints.c.size.desc(), audit_checkpoints.c.id.desc())
            .limit(1)
        )
    ).one_or_none()
    return None if row is None else checkpoint_of(row)


async def history(conn: AsyncConnection, item_id: int) -> list[dict[str, Any]]:
    """The decoded record bodies of one item, oldest first (for ``recon-bot show``)."""
    result = await conn.execute(
        select(audit_records.c.body)
        .where(audit_records.c.item_id == item_id)
        .order_by(audit_records.c.seq)
    )
    return [json.loads(body) for body in result.scalars()]
