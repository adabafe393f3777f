"""The tables people read, compared with the replayed audit log (``audit verify --deep``).

:class:`domain.audit.replay.LogReplay` rebuilds from the records what every item and
journal entry should be; this module reads ``items`` and ``journal_entries`` in the same
snapshot, chunk by chunk in id order, and hands each row to it as a plain value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, Row, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.audit.replay import (
    LogReplay,
    ReplayProblem,
    StoredEntry,
    StoredItem,
    StoredLine,
    StoredStatement,
)
from domain.errors import MoneyError
from domain.money import minor_units
from store.tables import items, journal_entries, statements

TABLE_CHUNK: Final = 5_000
"""Rows fetched per query while comparing a table."""

_ITEM_COLUMNS: Final = (
    items.c.id,
    items.c.state,
    items.c.currency,
    items.c.amount_minor,
    items.c.kind,
    items.c.route,
    items.c.team,
    items.c.required_approvals,
    items.c.content_hash,
    items.c.policy_version,
    items.c.approvals,
    items.c.decided_by,
    items.c.ledger_ref,
)


def _at_scale(minor: Any, currency: str) -> Decimal | None:
    """Minor units as an amount of ``currency`` (None: not an int, or no such currency)."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        return None
    try:
        return Decimal(minor).scaleb(-minor_units(currency))
    except MoneyError:
        return None


def _approvers(approvals: Any) -> tuple[str, ...]:
    if not isinstance(approvals, list):
        return ()
    return tuple(
        str(a.get("user")) if isinstance(a, dict) else repr(a)
        for a in approvals  # a tampered column may hold anything
    )


def stored_item(row: Any) -> StoredItem:
    """An ``items`` row as the replay compares it."""
    return StoredItem(
        item_id=row.id,
        state=row.state,
        currency=row.currency,
        amount=_at_scale(row.amount_minor, row.currency),
        amount_minor=row.amount_minor,
        kind=row.kind,
        route=row.route,
        team=row.team,
        required_approvals=row.required_approvals,
        content_hash=row.content_hash,
        policy_version=row.policy_version,
        approvers=_approvers(row.approvals),
        decided_by=row.decided_by,
        ledger_ref=row.ledger_ref,
    )


def stored_entry(row: Any) -> StoredEntry:
    """A ``journal_entries`` row as the replay compares it."""
    lines = row.lines if isinstance(row.lines, list) else []
    return StoredEntry(
        ledger_ref=row.ledger_ref,
        item_id=row.item_id,
        idempotency_key=row.idempotency_key,
        currency=row.currency,
        lines=tuple(
            StoredLine(
                account=str(line.get("account")),
                debit=_at_scale(line.get("debit_minor"), row.currency),
                credit=_at_scale(line.get("credit_minor"), row.currency),
            )
            if isinstance(line, dict)
            else StoredLine(account=repr(line), debit=None, credit=None)
            for line in lines
        ),
    )


async def compare_tables(conn: AsyncConnection, replay: LogReplay) -> ReplayProblem | None:
    """The first difference between the tables and the replayed log, or None.

    Items first (in id order), then journal entries, then statements (each in id
    order), then what the log has that no table holds.

    Args:
        conn: the snapshot's connection (the one the log was read in).
        replay: the replay of the whole log, without a problem.
    """
    async for row in _in_id_order(conn, select(*_ITEM_COLUMNS), items.c.id):
        problem = replay.check_item(stored_item(row))
        if problem is not None:
            return problem
    async for row in _in_id_order(conn, select(journal_entries), journal_entries.c.id):
        problem = replay.check_entry(stored_entry(row))
        if problem is not None:
            return problem
    async for row in _in_id_order(conn, select(*_STATEMENT_COLUMNS), statements.c.id):
        problem = replay.check_statement(stored_statement(row))
        if problem is not None:
            return problem
    return replay.missing()


_STATEMENT_COLUMNS: Final = (
    statements.c.id,
    statements.c.stage1_status,
    statements.c.revision,
    statements.c.sha256,
    statements.c.content_hash,
    statements.c.approvals,
)


def stored_statement(row: Any) -> StoredStatement:
    """A ``statements`` row as the replay compares it."""
    approvals = row.approvals if isinstance(row.approvals, list) else []
    return StoredStatement(
        statement_id=row.id,
        stage1_status=row.stage1_status,
        revision=row.revision,
        sha256=row.sha256,
        content_hash=row.content_hash,
        approvers=tuple(str(a.get("actor")) if isinstance(a, dict) else repr(a) for a in approvals),
    )


async def _in_id_order(
    conn: AsyncConnection, query: Select[Any], id_column: ColumnElement[int]
) -> AsyncIterator[Row[Any]]:
    """The rows of ``query`` in ``id_column`` order, :data:`TABLE_CHUNK` per statement."""
    after: int | None = None
    while True:
        page = query.order_by(id_column).limit(TABLE_CHUNK)
        if after is not None:
            page = page.where(id_column > after)
        rows = (await conn.execute(page)).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].id
