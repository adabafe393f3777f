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
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import JSON, TypeDecorator

_Processor = Callable[[Any], Any]
_Compiled = tuple[str, tuple[str, ...], tuple[_Processor | None, ...], tuple[bool, ...]]
_CACHE: dict[tuple[Any, ...], _Compiled] = {}
#: JSON values _json_column looks at before it decides whether a column repeats.
_MEMO_SAMPLE = 64


def dialect_insert(dialect_name: str, table: Table) -> Any:
    """The dialect's INSERT, which can skip or update rows that clash (``on_conflict_do_*``).

    The dialect module is imported here, on first use: the PostgreSQL one alone added a
    tenth of ``recon-bot``'s start-up on SQLite, where it is never needed.
    """
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if dialect_name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database {dialect_name}")


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
    else:
        stmt = dialect_insert(dialect.name, table).on_conflict_do_nothing(
            index_elements=[skip_duplicate]
        )
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
    by_name = {name: [row[name] for row in rows] for name in columns}
    await _insert_columns(conn, table, columns, by_name, skip_duplicate)


async def insert_values(
    conn: AsyncConnection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    *,
    skip_duplicate: str | None = None,
) -> None:
    """:func:`insert_rows` for rows given as value tuples in ``columns`` order.

    A caller that builds rows in bulk (new items) skips a dict per row, which
    :func:`insert_rows` would only take apart again column by column.
    """
    if not rows:
        return
    width = len(columns)
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row of a bulk insert has {width} values, for {columns}")
    by_name = dict(zip(columns, zip(*rows, strict=True), strict=True))
    await _insert_columns(conn, table, columns, by_name, skip_duplicate)


async def _insert_columns(
    conn: AsyncConnection,
    table: Table,
    columns: tuple[str, ...],
    by_name: Mapping[str, Sequence[Any]],
    skip_duplicate: str | None,
) -> None:
    sql, order, processors, memo = _compile(conn, table, columns, skip_duplicate)
    # Column by column: one comprehension per column beats a branch per value.
    values: list[Sequence[Any]] = []
    for name, process, remember in zip(order, processors, memo, strict=True):
        column = by_name[name]
        if process is None:
            values.append(column)
        elif not remember:
            values.append(_json_column(process, column))
        else:
            converted = {value: process(value) for value in set(column)}
            values.append([converted[value] for value in column])
    await conn.exec_driver_sql(sql, list(zip(*values, strict=True)))


def _json_column(process: _Processor, column: Sequence[Any]) -> list[Any]:
    """JSON values serialized once per distinct value where that is cheap to tell.

    Item rows repeat ``[]`` approvals, no dispute and the same few routing reasons, and
    outbox rows a dozen payloads. A flat list or dict is keyed by its items in order and
    their types (``1``, ``True`` and ``1.0`` are equal keys but not equal JSON); one
    holding a float (``-0.0 == 0.0``) or a nested value is serialized every time. A
    column whose first values hardly repeat (``extra`` payloads) stops keying: a key
    costs more than the serialization it would save.
    """
    converted: dict[Any, Any] = {}
    out: list[Any] = []
    for index, value in enumerate(column):
        if index == _MEMO_SAMPLE and len(converted) > _MEMO_SAMPLE * 3 // 4:
            out.extend(map(process, column[index:]))
            return out
        kind = type(value)
        if kind is dict:
            types = tuple(map(type, value.values()))
            key: Any = (dict, tuple(value.items()), types)
        elif kind is list:
            types = tuple(map(type, value))
            key = (list, tuple(value), types)
        elif value is None:
            key, types = None, ()
        else:
            out.append(process(value))
            continue
        if float in types:
            out.append(process(value))
            continue
        try:
            out.append(converted[key])
        except KeyError:
            converted[key] = done = process(value)
            out.append(done)
        except TypeError:  # a nested list or dict: unhashable
            out.append(process(value))
    return out
