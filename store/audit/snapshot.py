"""Reading the audit tables in one consistent snapshot, chunk by chunk.

Verification and bundle export read the same things the same way: the public keys,
the records in seq order :data:`VERIFY_CHUNK` at a time, and checkpoint rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit.checkpoints import Checkpoint
from domain.audit.keys import AuditKey
from store.engine import Database
from store.tables import audit_keys, audit_records

VERIFY_CHUNK: Final = 10_000
"""Records fetched per query while verifying or exporting."""


@contextlib.asynccontextmanager
async def snapshot(
    source: Database | AsyncEngine | AsyncConnection,
) -> AsyncIterator[AsyncConnection]:
    """A connection that sees one consistent state of the log for all its reads."""
    if isinstance(source, AsyncConnection):
        yield source  # the caller owns its transaction and isolation
        return
    engine = source.reader if isinstance(source, Database) else source
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # READ COMMITTED would let a commit land between the chunk queries.
            await conn.execution_options(isolation_level="REPEATABLE READ")
        # SQLite: the reader's deferred transaction takes its WAL snapshot at the first
        # read and keeps it until the end.
        async with conn.begin():
            yield conn


async def read_keys(conn: AsyncConnection) -> list[AuditKey]:
    """Every public key of the log, oldest first (rotated keys stay)."""
    result = await conn.execute(select(audit_keys).order_by(audit_keys.c.created_at))
    return [
        AuditKey(
            key_id=row.key_id,
            public_key=row.public_key,
            algorithm=row.algorithm,
            created_at=row.created_at,
        )
        for row in result
    ]


async def record_chunk(
    conn: AsyncConnection, after: int | None, *, columns: bool = False
) -> Sequence[Row[Any, Any, Any]]:
    """Up to :data:`VERIFY_CHUNK` ``(seq, body, hash)`` rows after seq ``after``, in order.

    Args:
        conn: the snapshot's connection.
        after: the last seq read, or None for the first chunk.
        columns: also read each row's ``item_id`` and ``event`` columns (after ``hash``),
            which ``--deep`` checks against the body.
    """
    selected = [audit_records.c.seq, audit_records.c.body, audit_records.c.hash]
    if columns:
        selected += [audit_records.c.item_id, audit_records.c.event]
    query = select(*selected)
    if after is not None:  # the first chunk has no lower bound, so seq <= 0 rows show up
        query = query.where(audit_records.c.seq > after)
    query = query.order_by(audit_records.c.seq).limit(VERIFY_CHUNK)
    return (await conn.execute(query)).all()


def checkpoint_of(row: Row[Any]) -> Checkpoint:
    """The checkpoint an ``audit_checkpoints`` row holds."""
    return Checkpoint(
        log=row.log,
        size=row.size,
        root=row.root,
        time=row.time,
        key_id=row.key_id,
        signature=row.signature,
    )
