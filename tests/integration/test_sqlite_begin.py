"""The SQLite writer's transactions begin with ``BEGIN IMMEDIATE`` sent straight to
aiosqlite (one trip to its thread): the write lock is taken at the start, and a lock
that never comes is reported as SQLAlchemy reports any database error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from store import engine
from store.engine import create_database


async def test_a_writer_transaction_holds_the_write_lock_from_its_start(tmp_path: Path) -> None:
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}")
    try:
        async with db.writer.begin() as conn:
            await conn.execute(text("CREATE TABLE t (v INTEGER)"))
        other = sqlite3.connect(tmp_path / "recon.db", timeout=0, isolation_level=None)
        async with db.writer.begin() as conn:
            # Nothing written yet, and already nobody else may begin a write.
            await conn.execute(text("SELECT count(*) FROM t"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released with the commit
        other.execute("ROLLBACK")
        other.close()
    finally:
        await db.dispose()


async def test_a_write_lock_that_never_comes_is_a_sqlalchemy_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_S", 0.05)
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}")
    holder = sqlite3.connect(tmp_path / "recon.db", isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with db.writer.begin() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await db.dispose()
