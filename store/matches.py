"""Stage 2's matches, their sides and the consistency checks, over the unit of work's
connection (see :class:`domain.ports.MatchRepository`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.items import Approval, RiskTier
from domain.matching.checks import CheckKind
from domain.matching.history import MatchTally
from domain.matching.records import Band
from domain.matching.stored import (
    CheckRecord,
    CheckState,
    LedgerKey,
    MatchRecord,
    MatchState,
    Resolution,
    highest,
)
from domain.statements.records import Stage1Status
from store.tables import (
    items,
    match_checks,
    match_runs,
    match_sides,
    matches,
    statement_lines,
    statements,
)

#: Past this many names the history query reads every counterparty of the window (one
#: query still) rather than bind a longer IN list.
_HISTORY_IN_LIMIT = 500


def _match_values(record: MatchRecord) -> dict[str, Any]:
    return {
        "key": record.key,
        "band": record.band.value,
        "score": record.score,
        "state": record.state.value,
        "components": record.components,
        "statement_id": record.statement_id,
        "sides_digest": record.sides_digest,
        "held": record.held,
        "decided_by": record.decided_by,
        "decided_at": record.decided_at,
        "updated_at": record.updated_at,
        "approvals": [{"user": a.user, "at": a.at.isoformat()} for a in record.approvals] or None,
        "run_id": record.run,
    }


def _approvals(value: Any) -> tuple[Approval, ...]:
    return tuple(
        Approval(user=str(a["user"]), at=datetime.fromisoformat(str(a["at"]))) for a in value or ()
    )


def _side_rows(match_id: int, record: MatchRecord) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for statement_id, number in record.bank_lines:
        rows.append(
            {
                "match_id": match_id,
                "position": len(rows),
                "statement_id": statement_id,
                "line_number": number,
                "entry_id": None,
                "gl_account": None,
            }
        )
    for key in record.ledger_entries:
        rows.append(
            {
                "match_id": match_id,
                "position": len(rows),
                "statement_id": None,
                "line_number": None,
                "entry_id": key.entry_id,
                "gl_account": key.account,
            }
        )
    return rows


def _check(row: RowMapping) -> CheckRecord:
    return CheckRecord(
        id=int(row["id"]),
        key=row["key"],
        kind=CheckKind(row["kind"]),
        state=CheckState(row["state"]),
        statement_id=None if row["statement_id"] is None else int(row["statement_id"]),
        detail=row["detail"],
        created_at=row["created_at"],
        resolution=None if row["resolution"] is None else Resolution(row["resolution"]),
        note=row["note"],
        resolved_by=row["resolved_by"],
        resolved_at=row["resolved_at"],
    )


class SqlMatchRepository:
    """Matches and checks (see :class:`domain.ports.MatchRepository`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, record: MatchRecord) -> MatchRecord:
        result = await self._conn.execute(
            insert(matches).values(
                **_match_values(record), version=record.version, created_at=record.created_at
            )
        )
        (match_id,) = result.inserted_primary_key or (None,)
        assert match_id is not None
        await self._conn.execute(insert(match_sides), _side_rows(int(match_id), record))
        return MatchRecord(**{**_fields(record), "id": int(match_id)})

    async def update(self, record: MatchRecord, *, expected_version: int) -> bool:
        assert record.id is not None
        result = await self._conn.execute(
            update(matches)
            .where(matches.c.id == record.id, matches.c.version == expected_version)
            .values(**_match_values(record), version=expected_version + 1)
        )
        if result.rowcount != 1:
            return False
        await self._conn.execute(delete(match_sides).where(match_sides.c.match_id == record.id))
        await self._conn.execute(insert(match_sides), _side_rows(record.id, record))
        return True

    async def get(self, match_id: int) -> MatchRecord | None:
        found = await self._load(select(matches).where(matches.c.id == match_id))
        return found[0] if found else None

    async def live(self) -> list[MatchRecord]:
        return await self._load(
            select(matches)
            .where(matches.c.state != MatchState.REJECTED.value)
            .order_by(matches.c.id)
        )

    async def query(
        self,
        *,
        band: Band | None = None,
        state: MatchState | None = None,
        statement_id: int | None = None,
        limit: int = 100,
    ) -> list[MatchRecord]:
        query = select(matches)
        if band is not None:
            query = query.where(matches.c.band == band.value)
        if state is not None:
            query = query.where(matches.c.state == state.value)
        if statement_id is not None:
            query = query.where(matches.c.statement_id == statement_id)
        return await self._load(query.order_by(matches.c.id).limit(limit))

    async def _load(self, query: Any) -> list[MatchRecord]:
        rows = list((await self._conn.execute(query)).mappings())
        if not rows:
            return []
        ids = [int(r["id"]) for r in rows]
        sides: dict[int, list[RowMapping]] = {i: [] for i in ids}
        for start in range(0, len(ids), 300):
            chunk = ids[start : start + 300]
            found = await self._conn.execute(
                select(match_sides)
                .where(match_sides.c.match_id.in_(chunk))
                .order_by(match_sides.c.match_id, match_sides.c.position)
            )
            for side in found.mappings():
                sides[int(side["match_id"])].append(side)
        return [_record(r, sides[int(r["id"])]) for r in rows]

    async def changed_since(self, *, statement_id: int, since: datetime) -> list[MatchRecord]:
        return await self._load(
            select(matches)
            .where(matches.c.statement_id == statement_id, matches.c.updated_at >= since)
            .order_by(matches.c.id)
        )

    async def count_pending(self, *, teams: Sequence[str] | None = None) -> int:
        query = (
            select(func.count())
            .select_from(matches.join(statements, statements.c.id == matches.c.statement_id))
            .where(matches.c.state == MatchState.PENDING_REVIEW.value)
        )
        if teams is not None:
            query = query.where(statements.c.team.in_(list(teams)))
        return int((await self._conn.execute(query)).scalar_one())

    async def counterparty_risk(self, names: Sequence[str]) -> dict[str, RiskTier]:
        wanted = sorted(set(names))
        out: dict[str, RiskTier] = {}
        for start in range(0, len(wanted), 300):
            rows = await self._conn.execute(
                select(items.c.counterparty, items.c.risk_tier)
                .where(
                    items.c.counterparty.in_(wanted[start : start + 300]),
                    items.c.risk_tier.is_not(None),
                )
                .distinct()
            )
            for name, tier in rows:
                out[name] = highest(out.get(name), RiskTier(tier))
        return out

    async def start_run(self, *, statement_id: int | None, now: datetime) -> int:
        result = await self._conn.execute(
            insert(match_runs).values(statement_id=statement_id, started_at=now)
        )
        (run_id,) = result.inserted_primary_key or (None,)
        assert run_id is not None
        return int(run_id)

    async def match_history(
        self, names: Sequence[str], *, since: date, until: date, min_score: int
    ) -> dict[str, MatchTally]:
        wanted = sorted({n for n in names if n})
        if not wanted:
            return {}
        # A line counts once however many live matches cover it (an index lookup each).
        covered = (
            select(match_sides.c.id)
            .join(matches, matches.c.id == match_sides.c.match_id)
            .where(
                match_sides.c.statement_id == statement_lines.c.statement_id,
                match_sides.c.line_number == statement_lines.c.number,
                matches.c.score >= min_score,
                matches.c.state != MatchState.REJECTED.value,
            )
            .exists()
        )
        day = func.coalesce(
            statement_lines.c.booking_date, statement_lines.c.value_date, statements.c.period_end
        )
        query = (
            select(
                statement_lines.c.counterparty,
                func.count(),
                func.count(case((covered, 1))),
            )
            .select_from(
                statement_lines.join(statements, statements.c.id == statement_lines.c.statement_id)
            )
            .where(
                statements.c.stage1_status == Stage1Status.APPROVED.value,
                statement_lines.c.removed.is_(False),
                statement_lines.c.counterparty.is_not(None),
                day >= since,
                day <= until,
            )
            .group_by(statement_lines.c.counterparty)
        )
        if len(wanted) <= _HISTORY_IN_LIMIT:
            query = query.where(statement_lines.c.counterparty.in_(wanted))
        keep = set(wanted)
        return {
            name: MatchTally(lines=int(lines), matched=int(matched))
            for name, lines, matched in await self._conn.execute(query)
            if name in keep
        }

    async def add_checks(self, checks: Sequence[CheckRecord]) -> int:
        if not checks:
            return 0
        keys = [c.key for c in checks]
        known: set[str] = set()
        for start in range(0, len(keys), 300):
            found = await self._conn.execute(
                select(match_checks.c.key).where(match_checks.c.key.in_(keys[start : start + 300]))
            )
            known.update(str(k) for k in found.scalars())
        fresh = [c for c in checks if c.key not in known]
        if fresh:
            await self._conn.execute(
                insert(match_checks),
                [
                    {
                        "key": c.key,
                        "kind": c.kind.value,
                        "state": c.state.value,
                        "statement_id": c.statement_id,
                        "detail": c.detail,
                        "resolution": None if c.resolution is None else c.resolution.value,
                        "note": c.note,
                        "resolved_by": c.resolved_by,
                        "resolved_at": c.resolved_at,
                        "created_at": c.created_at,
                    }
                    for c in fresh
                ],
            )
        return len(fresh)

    async def get_check(self, check_id: int) -> CheckRecord | None:
        row = (
            (await self._conn.execute(select(match_checks).where(match_checks.c.id == check_id)))
            .mappings()
            .first()
        )
        return None if row is None else _check(row)

    async def resolve_check(self, record: CheckRecord) -> bool:
        assert record.id is not None and record.resolution is not None
        result = await self._conn.execute(
            update(match_checks)
            .where(match_checks.c.id == record.id, match_checks.c.state == CheckState.OPEN.value)
            .values(
                state=CheckState.RESOLVED.value,
                resolution=record.resolution.value,
                note=record.note,
                resolved_by=record.resolved_by,
                resolved_at=record.resolved_at,
            )
        )
        return bool(result.rowcount == 1)

    async def checks(
        self, *, state: CheckState | None = None, statement_id: int | None = None
    ) -> list[CheckRecord]:
        query = select(match_checks)
        if state is not None:
            query = query.where(match_checks.c.state == state.value)
        if statement_id is not None:
            query = query.where(match_checks.c.statement_id == statement_id)
        rows = await self._conn.execute(query.order_by(match_checks.c.id))
        return [_check(r) for r in rows.mappings()]


def _fields(record: MatchRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in MatchRecord.__dataclass_fields__}


def _record(row: RowMapping, sides: Sequence[RowMapping]) -> MatchRecord:
    bank = tuple(
        (int(s["statement_id"]), int(s["line_number"]))
        for s in sides
        if s["statement_id"] is not None
    )
    ledger = tuple(
        LedgerKey(entry_id=s["entry_id"], account=s["gl_account"])
        for s in sides
        if s["entry_id"] is not None
    )
    return MatchRecord(
        id=int(row["id"]),
        key=row["key"],
        band=Band(row["band"]),
        score=int(row["score"]),
        state=MatchState(row["state"]),
        components=dict(row["components"]),
        statement_id=int(row["statement_id"]),
        bank_lines=bank,
        ledger_entries=ledger,
        sides_digest=row["sides_digest"],
        held=row["held"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=int(row["version"]),
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        approvals=_approvals(row["approvals"]),
        run=None if row["run_id"] is None else int(row["run_id"]),
    )
