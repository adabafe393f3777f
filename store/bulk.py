"""Bulk inserts at the driver's speed, with exactly the values SQLAlchemy would bind.

``conn.execute(insert(table), rows)`` spends about 25 µs a row in Python before the
driver sees it: it builds a parameter dict per row and runs every column's bind
processor on every value (a datetime goes through ``UtcDateTime`` and then SQLite's
string formatting, forty times per item row). An ingest batch repeats the same few
values: every timestamp of a batch is the same ``now``. :func:`insert_rows` compiles
the statement once, takes SQLAlchemy's own bind processors for each column, runs them
column by column, once per distinct value (JSON values once per value that is cheap to
recognise, see :func:`_json_column`), and hands the driver one ``executemany`` of
tuples. The values stored are the same; a test holds the two paths equal on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import JSON, TypeDecorator

_Processor = Callable[[Any], Any]
_Compiled = tuple[str, tuple[str, ...], tuple[_Processor | None, ...], tuple[bool, ...]]
_CACHE: dict[tuple[Any, ...], _Compiled] = {}


def _is_json(column_type: Any) -> bool:
    if isinstance(column_type, TypeDecorator):
        return _is_json(column_type.impl_instance)
    return isinstance(column_type, JSON)


def _compile(
    conn: AsyncConnection, table: Table, columns: tuple[str, ...], skip_duplicate: str | None
) -> _Compiled:
    dialect = conn.dialect
    # Honour a schema_translate_map (tests isolate PostgreSQL schemas with one).
    options = conn.sync_connection.get_execution_options() if conn.sync_connection else {}
    schemas = options.get("schema_translate_map") or None
    key = (
        dialect.name,
        table.name,
        columns,
        skip_duplicate,
        tuple(sorted((schemas or {}).items(), key=str)),
    )
    found = _CACHE.get(key)
    if found is not None:
        return found
    stmt: Any
    if skip_duplicate is None:
        stmt = insert(table)
    elif dialect.name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=[skip_duplicate])
    elif dialect.name == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=[skip_duplicate])
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect.name}")
    compiled = stmt.compile(
        dialect=dialect,
        column_keys=list(columns),
        schema_translate_map=schemas,
        render_schema_translate=schemas is not None,
    )
    order = tuple(compiled.positiontup or ())
    if sorted(order) != sorted(columns):  # pragma: no cover - both drivers are positional
        raise RuntimeError(f"{dialect.name} does not bind {table.name} positionally")
    types = [table.c[name].type for name in order]
    processors = tuple(t.dialect_impl(dialect).bind_processor(dialect) for t in types)
    memo = tuple(not _is_json(t) for t in types)
    found = (str(compiled), order, processors, memo)
    _CACHE[key] = found
    return found


async def insert_rows(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_duplicate: str | None = None,
) -> None:
    """Inserts ``rows`` (all with the same keys) in one driver-level ``executemany``.

    ``skip_duplicate`` names a unique column: a row whose value there is already stored
    is skipped (ON CONFLICT DO NOTHING), as the outbox does for dedupe keys seen before.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    width = len(columns)
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row of a bulk insert has the columns {columns}")
    sql, order, processors, memo = _compile(conn, table, columns, skip_duplicate)
    # Column by column: one comprehension per column beats a branch per value.
    values: list[list[Any]] = []
    for name, process, remember in zip(order, processors, memo, strict=True):
        column = [row[name] for row in rows]
        if process is None:
            values.append(column)
        elif not remember:
            values.append(_json_column(process, column))
        else:
            converted = {value: process(value) for value in set(column)}
            values.append([converted[value] for value in column])
    await conn.exec_driver_sql(sql, list(zip(*values, strict=True)))


def _json_column(process: _Processor, column: list[Any]) -> list[Any]:
    """JSON values serialized once per distinct value where that is cheap to tell.

    Item rows repeat ``[]`` approvals, no dispute, an empty ``extra`` and the same few
    routing reasons; a list of strings is keyed by its tuple. Anything else (a dict
    with content, nested lists) is serialized every time.
    """
    converted: dict[Any, Any] = {}
    out = []
    for value in column:
        if value is None or not value:
            key: Any = (type(value), None)
        elif type(value) is list and all(type(v) is str for v in value):
            key = tuple(value)
        else:
            out.append(process(value))
            continue
        try:
            out.append(converted[key])
        except KeyError:
            converted[key] = done = process(value)
            out.append(done)
    return out
