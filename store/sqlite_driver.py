"""SQLite through aiosqlite in one trip to the driver's thread per statement.

aiosqlite runs each SQLite connection in a thread of its own, and every call crosses to
it and back through the event loop. SQLAlchemy's aiosqlite adapter makes three such
trips for a statement that writes (open a cursor, execute, close it) and four for one
that reads (fetch), and one more for the pool's rollback when a connection goes back
to the pool, even when no transaction is open. A reviewer's click is a transaction of
about five statements, so the trips, not SQLite, set how many the desk commits a second
(``bench_audit_verify``).

:class:`OneTripCursor` runs the whole statement (cursor, execute, fetch every row,
close) in one trip and keeps what SQLAlchemy reads afterwards (rows, description,
rowcount, last row id). :class:`OneTripConnection` skips the trip of a rollback or a
commit when nothing ran since the last one. Everything else is SQLAlchemy's own
adapter; server-side cursors (``stream``) keep its cursor.

The adapter classes are SQLAlchemy 2.1's (``pyproject.toml`` bounds it) and
``aiosqlite.Connection._execute`` is aiosqlite's queue into its thread. Without the
latter, :func:`one_trip_dbapi` returns None and the engine uses the stock adapter; a
test holds that the installed versions take the one-trip path.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import await_

#: What one trip brings back: description, rows, rowcount, last row id.
_Outcome = tuple[Any, list[Any], int, int | None]


def _run(
    driver: Any, operation: str, parameters: Any, many: bool
) -> _Outcome:  # runs in aiosqlite's thread
    cursor: sqlite3.Cursor = driver._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """A DBAPI cursor for SQLAlchemy whose statements each take one trip to the thread.

    Results are fetched whole, as SQLAlchemy's own (non server-side) adapter does.
    """

    server_side: Final = False
    __slots__ = ("_adapted", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, adapted: OneTripConnection) -> None:
        self._adapted = adapted
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        outcome = self._adapted.trip(operation, parameters, many=many)
        self.description, rows, self.rowcount, self.lastrowid = outcome
        self._rows = deque(rows)

    def execute(self, operation: str, parameters: Any = None) -> None:
        """Runs one statement and keeps its rows."""
        self._trip(operation, parameters, many=False)

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        """Runs one statement for each set of parameters (one trip for all)."""
        self._trip(operation, seq_of_parameters, many=True)

    def fetchone(self) -> Any:
        """The next row, or None."""
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to ``size`` (default ``arraysize``) next rows."""
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        """Every row left."""
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Any:
        while self._rows:
            yield self._rows.popleft()

    def close(self) -> None:
        """Drops the rows (the SQLite cursor closed in its trip)."""
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """SQLAlchemy's asyncio layer closes the driver's cursor here: already closed."""

    def nextset(self) -> None:
        """SQLite returns one result set."""
        return None

    def setinputsizes(self, *sizes: Any) -> None:
        """Ignored, as by sqlite3."""


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection with :class:`OneTripCursor`, and no trip for a
    rollback or commit when nothing ran since the last one (the pool's reset on return).

    "Nothing ran" is known on this side, not asked of SQLite: a statement whose caller
    was cancelled may still be queued for the thread (a ``BEGIN`` that has yet to run),
    and SQLite would say no transaction is open. Any trip marks the connection used
    before it is queued; only a commit or rollback that completed marks it clean.
    """

    __slots__ = ("_clean",)

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._clean = False

    def cursor(self, server_side: bool = False) -> Any:
        """A :class:`OneTripCursor`; SQLAlchemy's own for a server-side (streamed) one."""
        if server_side:
            self._clean = False
            return super().cursor(server_side=True)
        return OneTripCursor(self)

    def trip(self, operation: str, parameters: Any = None, *, many: bool = False) -> _Outcome:
        """Runs one statement in one trip to the thread (``store.engine`` begins with it)."""
        self._clean = False
        driver = self._connection  # the aiosqlite connection
        try:
            outcome: _Outcome = await_(driver._execute(_run, driver, operation, parameters, many))
        except Exception as error:  # as the stock adapter reports it
            self._handle_exception(error)
        return outcome

    def rollback(self) -> None:
        if not self._clean:
            super().rollback()
            self._clean = True

    def commit(self) -> None:
        if not self._clean:
            super().commit()
            self._clean = True


class _OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)  # opens it, in its daemon thread
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> Any | None:
    """The DBAPI module to give ``create_async_engine(module=...)`` for SQLite, or None
    when this aiosqlite lacks its queue into the thread (then the stock adapter)."""
    import aiosqlite

    if not callable(getattr(aiosqlite.Connection, "_execute", None)):
        return None  # pragma: no cover - an aiosqlite this module does not know
    return _OneTripDBAPI(aiosqlite, sqlite3)
