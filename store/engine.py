"""Engines for the embedded store (SQLite) and for PostgreSQL, with the right pragmas.

SQLite: WAL, ``synchronous=FULL`` (unless told otherwise), foreign keys on, a busy
timeout, and one writer connection whose transactions start with ``BEGIN IMMEDIATE`` (a
deferred transaction that reads and then writes fails with "database is locked" when
another writer got there first). Reads use a separate pool of deferred connections, which
WAL lets run beside the writer. PostgreSQL uses one pool for both.

A SQLite file that does not exist yet is created here, empty and mode 0600, before
SQLite opens it: SQLite would create it with the umask's mode (0644), and it gives the
``-wal`` and ``-shm`` files the database file's mode.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_

from store.private_files import create_private_file
from store.sqlite_driver import OneTripConnection, one_trip_dbapi

SQLITE_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Database:
    """The engines of one database: ``writer`` for units of work, ``reader`` for queries."""

    url: str
    writer: AsyncEngine
    reader: AsyncEngine

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite store."""
        return self.writer.dialect.name == "sqlite"

    async def dispose(self) -> None:
        """Closes every pooled connection."""
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _sqlite_engine(
    url: str, *, immediate: bool, pool_size: int, synchronous: str = "FULL", one_trip: bool = True
) -> AsyncEngine:
    options: dict[str, Any] = {}
    dbapi = one_trip_dbapi() if one_trip else None
    if dbapi is not None:
        options["module"] = dbapi
    engine = create_async_engine(
        url,
        **options,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_S * 2,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # One trip to aiosqlite's thread. SQLAlchemy's own adapter would take three
        # (cursor, execute, close), and every unit of work begins.
        adapted = conn.connection.dbapi_connection
        try:
            if isinstance(adapted, OneTripConnection):
                adapted.trip(begin)
                return
            raw = getattr(adapted, "_connection", None)
            if raw is None or not hasattr(raw, "execute"):
                conn.exec_driver_sql(begin)
                return
            await_(raw.execute(begin))
        except sqlite3.Error as error:  # as SQLAlchemy reports it: "database is locked"...
            raise DBAPIError.instance(begin, None, error, sqlite3.Error) from error

    return engine


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite+aiosqlite:///path`` URL; None for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = str(parsed.database)
    if database.startswith("file:") or parsed.query.get("uri"):
        return None  # an SQLite URI names its file (and mode) its own way
    return Path(database)


def create_database(
    url: str,
    *,
    pool_size: int = 5,
    search_path: str | None = None,
    synchronous: Literal["FULL", "NORMAL"] = "FULL",
    one_trip: bool = True,
) -> Database:
    """Builds the engines for ``url`` (nothing connects until first use).

    A missing SQLite file is created empty with mode 0600 (see the module docstring);
    an existing one keeps its mode.

    Args:
        url: an async SQLAlchemy URL, ``sqlite+aiosqlite:///path`` or
            ``postgresql+asyncpg://...``.
        pool_size: reader connections (PostgreSQL: the whole pool).
        search_path: PostgreSQL only: the schema to use (tests isolate themselves this way).
        synchronous: SQLite only: ``FULL`` (every commit survives a power loss: the desk)
            or ``NORMAL`` (in WAL mode, every commit survives the process's death, and
            only the last ones may be lost with the machine's power: no fsync per
            commit; the durable inbox's own file, ``store.inbox``).
        one_trip: SQLite only: one trip to the driver's thread per statement
            (:mod:`store.sqlite_driver`); False keeps SQLAlchemy's stock adapter (the
            benchmarks compare the two).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("the store needs a SQLite file, not an in-memory database")
        path = sqlite_file(url)
        if path is not None and path.parent.is_dir():
            create_private_file(path)  # else SQLite reports the missing directory
        writer = _sqlite_engine(
            url, immediate=True, pool_size=1, synchronous=synchronous, one_trip=one_trip
        )
        reader = _sqlite_engine(
            url, immediate=False, pool_size=pool_size, synchronous=synchronous, one_trip=one_trip
        )
        return Database(url=url, writer=writer, reader=reader)
    connect_args: dict[str, Any] = {}
    if search_path is not None:
        connect_args["server_settings"] = {"search_path": search_path}
    engine = create_async_engine(
        url, pool_size=pool_size, pool_pre_ping=True, connect_args=connect_args
    )
    return Database(url=url, writer=engine, reader=engine)
