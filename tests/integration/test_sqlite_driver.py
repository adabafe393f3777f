"""SQLite statements take one trip each to aiosqlite's thread (``store.sqlite_driver``),
and SQLAlchemy still sees exactly what the stock adapter gives it: rows, row counts,
last row ids, errors, streamed results, rollbacks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from store.engine import Database, create_database
from store.sqlite_driver import OneTripConnection, OneTripCursor

meta = MetaData()
rows_table = Table(
    "t",
    meta,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
)


class _CountingQueue:
    """Stands in for aiosqlite's queue into its thread, counting what is put in it."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        self.trips = 0

    def put_nowait(self, item: Any) -> None:
        self.trips += 1
        self._queue.put_nowait(item)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}")
    async with database.writer.begin() as conn:
        await conn.run_sync(meta.create_all)
    try:
        yield database
    finally:
        await database.dispose()


async def _counting(conn: AsyncConnection) -> tuple[_CountingQueue, Any]:
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    queue = _CountingQueue(driver._tx)
    driver._tx = queue
    return queue, driver


async def test_the_installed_versions_take_the_one_trip_path(db: Database) -> None:
    for engine in (db.writer, db.reader):
        async with engine.connect() as conn:
            adapted = (await conn.get_raw_connection()).dbapi_connection
            assert type(adapted) is OneTripConnection
            assert type(adapted.cursor()) is OneTripCursor


async def test_a_click_shaped_transaction_takes_one_trip_per_statement(db: Database) -> None:
    conn = await db.writer.connect()
    queue, driver = await _counting(conn)
    try:
        await conn.begin()  # BEGIN IMMEDIATE: 1
        await conn.execute(insert(rows_table).values(name="a"))  # 2
        await conn.execute(update(rows_table).values(name="b"))  # 3
        assert (await conn.execute(select(rows_table.c.name))).scalars().all() == ["b"]  # 4
        await conn.commit()  # 5
        # Back to the pool with nothing open: its reset (a rollback) costs no trip.
        await conn.close()
        assert queue.trips == 5  # the stock adapter: 13 (3 or 4 a statement, 1 the reset)
    finally:
        driver._tx = queue._queue


async def test_a_rollback_with_a_transaction_open_still_undoes_it(db: Database) -> None:
    async with db.writer.connect() as conn:
        await conn.begin()
        await conn.execute(insert(rows_table).values(name="gone"))
        await conn.rollback()
    async with db.reader.connect() as conn:
        assert (await conn.execute(select(rows_table))).all() == []


async def test_rows_counts_and_ids_are_what_sqlalchemy_expects(db: Database) -> None:
    async with db.writer.begin() as conn:
        first = await conn.execute(insert(rows_table).values(name="a"))
        assert first.inserted_primary_key == (1,)
        many = await conn.execute(insert(rows_table), [{"name": n} for n in ("b", "c", "d")])
        assert many.rowcount == 3
        changed = await conn.execute(
            update(rows_table).where(rows_table.c.id > 1).values(name=rows_table.c.name + "!")
        )
        assert changed.rowcount == 3
        returned = await conn.execute(
            insert(rows_table).values(name="e").returning(rows_table.c.id, rows_table.c.name)
        )
        assert returned.one() == (5, "e")
        raw = await conn.exec_driver_sql("SELECT name FROM t WHERE id IN (?, ?)", (1, 2))
        assert raw.keys() == ["name"] and sorted(raw.scalars()) == ["a", "b!"]
    async with db.reader.connect() as conn:
        result = await conn.execute(select(rows_table).order_by(rows_table.c.id))
        assert result.fetchmany(2) == [(1, "a"), (2, "b!")]
        assert result.fetchone() == (3, "c!")
        assert result.fetchall() == [(4, "d!"), (5, "e")]
        assert result.fetchone() is None


async def test_a_stream_keeps_the_server_side_cursor(db: Database) -> None:
    async with db.writer.begin() as conn:
        await conn.execute(insert(rows_table), [{"name": f"n{i}"} for i in range(250)])
    async with db.reader.connect() as conn:
        streamed = await conn.stream(select(rows_table.c.id).order_by(rows_table.c.id))
        ids = [row.id async for row in streamed]
    assert ids == list(range(1, 251))


async def test_errors_are_sqlalchemys_and_the_connection_carries_on(db: Database) -> None:
    async with db.writer.connect() as conn:
        await conn.begin()
        await conn.execute(insert(rows_table).values(name="a"))
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await conn.execute(insert(rows_table).values(name="a"))
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM missing"))
        await conn.commit()
    async with db.reader.connect() as conn:
        assert (await conn.execute(select(rows_table.c.name))).scalars().all() == ["a"]


async def test_a_begin_cancelled_before_it_ran_leaves_no_transaction_in_the_pool(
    db: Database,
) -> None:
    conn = await db.writer.connect()
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    # Keep aiosqlite's thread busy so that the BEGIN waits in its queue, then cancel it.
    busy = asyncio.ensure_future(driver._execute(time.sleep, 0.3))
    beginning = asyncio.ensure_future(conn.begin())
    await asyncio.sleep(0.05)
    beginning.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await beginning
    await conn.close()  # back to the pool while the BEGIN has still to run
    await busy
    async with db.writer.begin() as again:  # the pool's one writer connection
        await again.execute(insert(rows_table).values(name="after"))
    async with db.reader.connect() as check:
        assert (await check.execute(select(rows_table.c.name))).scalars().all() == ["after"]
