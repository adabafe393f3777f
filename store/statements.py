"""Bank statements in the store: the statement row, its lines (bulk-inserted: a statement
can hold 100,000 of them) and the original files, on one unit of work's connection."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.errors import StaleItem
from domain.statements.records import (
    LineTotals,
    MatchStatus,
    Original,
    Stage1Status,
    Statement,
    StatementKey,
    StatementLine,
    mask_account,
)
from store.bulk import dialect_insert, insert_values
from store.statement_rows import _LINE_COLUMNS, _amount, _line, _line_values, _statement
from store.statement_rows import statement_row as statement_row
from store.tables import audit_records, statement_lines, statement_originals, statements

#: Lines inserted per executemany (bounded memory for a 100,000-line statement).
_LINE_CHUNK: Final = 10_000
_IN_CHUNK: Final = 500


class SqlStatementRepository:
    """Implements :class:`domain.ports.StatementRepository` on one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, statement: Statement) -> Statement:
        """Inserts the statement and its lines; returns it with its id.

        Raises:
            StaleItem: a statement with the same identity was stored first (another
                import at the same moment); the transaction is spoilt, roll it back.
        """
        try:
            result = await self._conn.execute(
                statements.insert().values(**statement_row(statement))
            )
        except IntegrityError:
            raise StaleItem(
                f"statement {statement.statement_id or ''} of {mask_account(statement.account)} "
                "was imported by someone else at the same moment"
            ) from None
        key = result.inserted_primary_key
        assert key is not None
        new_id = int(key[0])
        await self._insert_lines(new_id, statement.lines, statement.currency)
        return dataclasses.replace(statement, id=new_id)

    async def _insert_lines(
        self, statement_id: int, lines: Sequence[StatementLine], currency: str
    ) -> None:
        for start in range(0, len(lines), _LINE_CHUNK):
            chunk = lines[start : start + _LINE_CHUNK]
            await insert_values(
                self._conn,
                statement_lines,
                _LINE_COLUMNS,
                [_line_values(statement_id, ln, currency) for ln in chunk],
            )

    async def get(self, statement_id: int, *, with_lines: bool = True) -> Statement | None:
        """The statement (with its lines in number order unless told not to), or None."""
        row = (
            await self._conn.execute(select(statements).where(statements.c.id == statement_id))
        ).first()
        if row is None:
            return None
        return _statement(row, await self._lines(row) if with_lines else ())

    async def _lines(self, row: Any) -> tuple[StatementLine, ...]:
        result = await self._conn.execute(
            select(statement_lines)
            .where(statement_lines.c.statement_id == row.id)
            .order_by(statement_lines.c.number)
        )
        return tuple(_line(r, row.currency) for r in result)

    async def get_by_key(self, key: StatementKey) -> Statement | None:
        """The statement with that identity (with its lines), or None."""
        row = (
            await self._conn.execute(select(statements).where(statements.c.identity == key.text))
        ).first()
        if row is None:
            return None
        return _statement(row, await self._lines(row))

    async def update(
        self,
        statement: Statement,
        *,
        expected_version: int,
        lines: Sequence[int] | None = None,
    ) -> bool:
        """Writes the statement if it is still at ``expected_version``.

        ``lines``: None rewrites every line (a new revision); otherwise the numbers of the
        lines that changed (an edit), which alone are rewritten.
        """
        assert statement.id is not None
        row = statement_row(statement)
        result = await self._conn.execute(
            update(statements)
            .where(and_(statements.c.id == statement.id, statements.c.version == expected_version))
            .values(**row)
        )
        if result.rowcount != 1:
            return False
        doomed = delete(statement_lines).where(statement_lines.c.statement_id == statement.id)
        if lines is None:
            await self._conn.execute(doomed)
            await self._insert_lines(statement.id, statement.lines, statement.currency)
            return True
        wanted = set(lines)
        if wanted:
            await self._conn.execute(doomed.where(statement_lines.c.number.in_(sorted(wanted))))
            await self._insert_lines(
                statement.id,
                [ln for ln in statement.lines if ln.number in wanted],
                statement.currency,
            )
        return True

    async def previous(
        self, *, account: str, currency: str, before: date, exclude_id: int | None
    ) -> Statement | None:
        """The same account's statement before one starting on ``before`` (without lines):
        the latest-ending one that started earlier."""
        query = (
            select(statements)
            .where(
                statements.c.account == account,
                statements.c.currency == currency,
                statements.c.period_start < before,
            )
            .order_by(
                statements.c.period_end.desc(),
                statements.c.period_start.desc(),
                statements.c.id.desc(),
            )
            .limit(1)
        )
        if exclude_id is not None:
            query = query.where(statements.c.id != exclude_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _statement(row, ())

    async def following(
        self, *, account: str, currency: str, after: date, exclude_id: int | None
    ) -> Statement | None:
        """The same account's statement that starts first after ``after`` (no lines)."""
        query = (
            select(statements)
            .where(
                statements.c.account == account,
                statements.c.currency == currency,
                statements.c.period_start > after,
            )
            .order_by(statements.c.period_start, statements.c.period_end, statements.c.id)
            .limit(1)
        )
        if exclude_id is not None:
            query = query.where(statements.c.id != exclude_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _statement(row, ())

    async def query(
        self,
        *,
        status: Stage1Status | None = None,
        account: str | None = None,
        teams: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Statement]:
        """Statements (without lines), by account then period, filtered."""
        query = select(statements)
        if status is not None:
            query = query.where(statements.c.stage1_status == status.value)
        if account is not None:
            query = query.where(statements.c.account == account)
        if teams is not None:
            query = query.where(statements.c.team.in_(list(teams)))
        query = (
            query.order_by(statements.c.account, statements.c.period_start, statements.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_statement(r, ()) for r in await self._conn.execute(query)]

    async def count(
        self, *, status: Stage1Status | None = None, teams: Sequence[str] | None = None
    ) -> int:
        """How many statements are in ``status`` (any) of ``teams`` (any)."""
        query = select(func.count()).select_from(statements)
        if status is not None:
            query = query.where(statements.c.stage1_status == status.value)
        if teams is not None:
            query = query.where(statements.c.team.in_(list(teams)))
        return int((await self._conn.execute(query)).scalar_one())

    async def line_totals(self, statement_id: int, currency: str) -> LineTotals:
        """How many lines count and were removed, and the money in and out over those
        that count: summed in SQL over exact minor units."""
        c = statement_lines.c
        kept = c.removed.is_(False)
        row = (
            await self._conn.execute(
                select(
                    func.coalesce(func.sum(case((kept, 1), else_=0)), 0),
                    func.count(),
                    func.coalesce(
                        func.sum(case((and_(kept, c.amount_minor > 0), c.amount_minor), else_=0)),
                        0,
                    ),
                    func.coalesce(
                        func.sum(case((and_(kept, c.amount_minor < 0), c.amount_minor), else_=0)),
                        0,
                    ),
                ).where(c.statement_id == statement_id)
            )
        ).one()
        counted, total, credits, debits = (int(v) for v in row)
        return LineTotals(
            counted=counted,
            removed=total - counted,
            credits=_amount(credits, currency) or Decimal(0),
            debits=-(_amount(debits, currency) or Decimal(0)),
        )

    async def lines_page(
        self, statement_id: int, currency: str, *, offset: int, limit: int
    ) -> tuple[StatementLine, ...]:
        """``limit`` lines from ``offset`` in number order (one page of a long statement
        without reading the rest)."""
        result = await self._conn.execute(
            select(statement_lines)
            .where(statement_lines.c.statement_id == statement_id)
            .order_by(statement_lines.c.number)
            .offset(offset)
            .limit(limit)
        )
        return tuple(_line(r, currency) for r in result)

    async def line(self, statement_id: int, currency: str, number: int) -> StatementLine | None:
        """The statement's line of that number, or None."""
        row = (
            await self._conn.execute(
                select(statement_lines).where(
                    statement_lines.c.statement_id == statement_id,
                    statement_lines.c.number == number,
                )
            )
        ).first()
        return None if row is None else _line(row, currency)

    async def line_counts(self, statement_ids: Sequence[int]) -> dict[int, int]:
        """How many lines count (not removed) in each statement."""
        counts: dict[int, int] = {}
        ids = list(statement_ids)
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            rows = await self._conn.execute(
                select(statement_lines.c.statement_id, func.count())
                .where(
                    statement_lines.c.statement_id.in_(chunk),
                    statement_lines.c.removed.is_(False),
                )
                .group_by(statement_lines.c.statement_id)
            )
            counts.update({int(r[0]): int(r[1]) for r in rows})
        return {i: counts.get(i, 0) for i in ids}

    async def approved_lines(
        self,
        *,
        match_status: MatchStatus | None = MatchStatus.UNMATCHED,
        after: tuple[int, int] | None = None,
        limit: int = 1000,
    ) -> list[tuple[Statement, StatementLine]]:
        """Lines (not removed) of approved statements: Stage 2's input, in (statement,
        number) order after ``after``; each with its statement (without lines)."""
        query = (
            select(statement_lines, statements.c.currency)
            .join(statements, statements.c.id == statement_lines.c.statement_id)
            .where(
                statements.c.stage1_status == Stage1Status.APPROVED.value,
                statement_lines.c.removed.is_(False),
            )
        )
        if match_status is not None:
            query = query.where(statement_lines.c.match_status == match_status.value)
        if after is not None:
            sid, number = after
            query = query.where(
                or_(
                    statement_lines.c.statement_id > sid,
                    and_(statement_lines.c.statement_id == sid, statement_lines.c.number > number),
                )
            )
        query = query.order_by(statement_lines.c.statement_id, statement_lines.c.number).limit(
            limit
        )
        rows = list(await self._conn.execute(query))
        heads: dict[int, Statement] = {}
        for sid in sorted({r.statement_id for r in rows}):
            head = await self.get(sid, with_lines=False)
            assert head is not None
            heads[sid] = head
        return [(heads[r.statement_id], _line(r, r.currency)) for r in rows]

    async def set_line_match_statuses(
        self, keys: Sequence[tuple[int, int]], status: MatchStatus
    ) -> int:
        by_statement: dict[int, list[int]] = {}
        for sid, number in sorted(set(keys)):
            by_statement.setdefault(sid, []).append(number)
        done = 0
        for sid, numbers in by_statement.items():
            for start in range(0, len(numbers), 300):
                result = await self._conn.execute(
                    update(statement_lines)
                    .where(
                        statement_lines.c.statement_id == sid,
                        statement_lines.c.number.in_(numbers[start : start + 300]),
                    )
                    .values(match_status=status.value)
                )
                done += int(result.rowcount)
        return done

    async def set_line_match_status(
        self, statement_id: int, number: int, status: MatchStatus
    ) -> bool:
        result = await self._conn.execute(
            update(statement_lines)
            .where(
                statement_lines.c.statement_id == statement_id,
                statement_lines.c.number == number,
            )
            .values(match_status=status.value)
        )
        return bool(result.rowcount == 1)

    async def keep_original(self, *, file_name: str, original: Original, now: datetime) -> None:
        """Keeps the file once per SHA-256 (a second copy is skipped).

        It is stored as :class:`Original` packs it, zlib-compressed when that is shorter
        (bank files are text: a 100 MB camt.053 keeps in about 6 MB), so the database
        driver copies megabytes, not the whole file; ``size`` is the original's length,
        and a row whose data is shorter than its ``size`` is compressed (:meth:`original`
        restores it).
        """
        stmt = dialect_insert(self._conn.dialect.name, statement_originals).values(
            sha256=original.sha256,
            file_name=file_name,
            size=original.size,
            data=original.packed,
            created_at=now,
        )
        await self._conn.execute(
            stmt.on_conflict_do_nothing(index_elements=[statement_originals.c.sha256])
        )

    async def original(self, sha256: str) -> tuple[str, bytes] | None:
        """The file name and bytes kept under ``sha256``, or None."""
        row = (
            await self._conn.execute(
                select(
                    statement_originals.c.file_name,
                    statement_originals.c.size,
                    statement_originals.c.data,
                ).where(statement_originals.c.sha256 == sha256)
            )
        ).first()
        if row is None:
            return None
        kept = Original(sha256=sha256, size=row.size, packed=bytes(row.data))
        return row.file_name, kept.unpack()


async def statement_history(conn: AsyncConnection, statement_id: int) -> list[dict[str, Any]]:
    """The audit records of one statement, oldest first (``seq``, ``time``, ``event``,
    ``actor``, ``from``, ``to`` and ``data``).

    Statement records name no item, so they are found by event name and their body's
    ``data.statement_id``: a scan of the statement events, fine for an operator's
    ``statements show``.
    """
    rows = await conn.execute(
        select(audit_records.c.seq, audit_records.c.body)
        .where(audit_records.c.event.like("statement.%"), audit_records.c.item_id.is_(None))
        .order_by(audit_records.c.seq)
    )
    found: list[dict[str, Any]] = []
    for row in rows:
        record = json.loads(bytes(row.body))
        data = record.get("data")
        if isinstance(data, dict) and data.get("statement_id") == statement_id:
            found.append(
                {
                    "seq": row.seq,
                    "time": record.get("time"),
                    "event": record.get("event"),
                    "actor": record.get("actor"),
                    "from": record.get("from"),
                    "to": record.get("to"),
                    "data": data,
                }
            )
    return found
