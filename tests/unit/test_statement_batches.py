"""Statement imports in batches: consecutive small statements share a transaction, each
still checked against the one before it (in the batch or not) and audited on its own; a
batch that fails is imported again one statement per transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.fx import FxRate
from domain.statements.parsed import ParseItem, ParseStream, StatementFormat
from domain.statements.records import Continuity, Statement
from domain.usecases import statements as statement_cases
from domain.usecases.statements import ImportReport
from tests.fakes import (
    T0,
    InMemoryStatementRepository,
    InMemoryUnitOfWork,
    InMemoryUnitOfWorkFactory,
)
from tests.statement_files import JsonStatementParser, line, statement, statement_file
from tests.unit.test_statement_usecases import Desk

STRANGER = "DE89370400440532013000"


def _day(n: int, opening: str, *, account: str | None = None) -> dict[str, Any]:
    """Statement ``D-n`` of day n: ``opening`` + 10.00 - 2.50."""
    day = (date(2025, 3, 3) + timedelta(days=n)).isoformat()
    closing = f"{float(opening) + 7.5:.2f}"
    extra = {"account": account} if account else {}
    return statement(
        statement_id=f"D-{n}", sequence=str(n), start=day, end=day, opening=opening,
        closing=closing, lines=[line("10.00", day), line("-2.50", day)], **extra,
    )  # fmt: skip


def _month() -> bytes:
    """Seven days: continuous, but for a gap before day 5 and an unknown account on day 3."""
    raws = [_day(1, "100.00"), _day(2, "107.50"), _day(3, "0.00", account=STRANGER),
            _day(4, "115.00"), _day(5, "130.00"), _day(6, "137.50"), _day(7, "145.00")]  # fmt: skip
    return statement_file(*raws)


def _stored(desk: Desk) -> dict[str, Statement]:
    return {s.statement_id or "": s for s in desk.uows.store.statements.values()}


async def _import(desk: Desk, items: Iterator[ParseItem]) -> ImportReport:
    stream = ParseStream(format=StatementFormat.CAMT053, items=items)
    return await desk.cases.import_file(file_name="m.json", data=b"{}", result=stream, now=T0)


async def test_a_batch_is_committed_before_the_parser_reads_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(statement_cases, "BATCH_STATEMENTS", 2)
    desk = Desk()
    one, two, three = JsonStatementParser()(
        statement_file(_day(1, "100.00"), _day(2, "107.50"), _day(3, "115.00"))
    ).statements
    seen: list[list[str]] = []

    def items() -> Iterator[ParseItem]:
        for parsed in (one, two, three):
            yield parsed
            seen.append(sorted(_stored(desk)))

    report = await _import(desk, items())
    # Day 1 waits for day 2 (one transaction); both are stored before day 3 is read.
    assert seen == [[], ["D-1", "D-2"], ["D-1", "D-2"]]
    assert sorted(_stored(desk)) == ["D-1", "D-2", "D-3"]
    assert report.imported == 3


async def test_a_big_statement_is_a_batch_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statement_cases, "BATCH_LINES", 2)
    desk = Desk()
    one, two = JsonStatementParser()(
        statement_file(_day(1, "100.00"), _day(2, "107.50"))
    ).statements
    seen: list[list[str]] = []

    def items() -> Iterator[ParseItem]:
        yield one
        seen.append(sorted(_stored(desk)))
        yield two

    await _import(desk, items())
    assert seen == [["D-1"]]  # two lines reach the bound: stored before the next is read


def _outcome(desk: Desk) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    stored = [
        (s.statement_id, s.revision, s.stage1_status.value, s.checks.to_data())
        for s in sorted(desk.uows.store.statements.values(), key=lambda s: s.id or 0)
    ]
    return stored, list(desk.audit())


def _with_rates(desk: Desk) -> Desk:
    """Dated EUR rates before the month, inside it (days 2 and 6) and after it."""
    for day, rate in ((2, "1.05"), (5, "1.07"), (9, "1.09"), (12, "1.11")):
        quote = FxRate(on=date(2025, 3, day), base="EUR", currency="USD", rate=Decimal(rate),
                       source="ECB")  # fmt: skip
        desk.uows.store.fx_rates[quote.key] = quote
    return desk


@pytest.mark.parametrize("size", [2, 3, 50])
async def test_batches_give_what_one_statement_per_transaction_gives(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _month()
    monkeypatch.setattr(statement_cases, "BATCH_STATEMENTS", 1)
    alone = _with_rates(Desk())
    alone_report = (await alone.load(data)).to_json()
    monkeypatch.setattr(statement_cases, "BATCH_STATEMENTS", size)
    batched = _with_rates(Desk())
    batched_report = (await batched.load(data)).to_json()
    assert batched_report == alone_report
    assert _outcome(batched) == _outcome(alone)
    assert batched_report["imported"] == 6
    assert [r["statement"] for r in batched_report["rejected"]] == ["D-3"]
    days = _stored(batched)
    # Each statement's tolerance at the latest rate on or before its own day.
    assert [days[f"D-{n}"].checks.tolerance_rate_on for n in (1, 2, 4, 7)] == [
        date(2025, 3, 2), date(2025, 3, 5), date(2025, 3, 5), date(2025, 3, 9),
    ]  # fmt: skip
    # Continuity against the previous statement, inside a batch and across its boundary.
    assert [days[f"D-{n}"].checks.continuity for n in (1, 2, 4, 5, 6, 7)] == [
        Continuity.UNKNOWN, Continuity.OK, Continuity.OK, Continuity.GAP, Continuity.OK,
        Continuity.OK,
    ]  # fmt: skip
    assert days["D-4"].checks.previous_id == days["D-2"].id
    # One audit record per statement, and the file kept once.
    imported = [e for e in batched.uows.audit_entries if e.event == "statement.imported"]
    assert len(imported) == 6
    assert len(batched.uows.store.originals) == 1
    # Importing the file again changes nothing, batched as well.
    again = (await batched.load(data)).to_json()
    assert (again["unchanged"], again["imported"]) == (6, 0)


class _RefusingStatements(InMemoryStatementRepository):
    """Refuses to insert statement D-5 as SQLite refuses an integer past 64 bits."""

    async def add(self, statement: Statement) -> Statement:
        if statement.statement_id == "D-5":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return await super().add(statement)


class _RefusingStore(InMemoryUnitOfWorkFactory):
    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        uow = super().__call__(read_only=read_only)
        uow.statements = _RefusingStatements(uow)
        return uow


async def test_a_statement_the_store_refuses_inside_a_batch_loses_no_other() -> None:
    desk = Desk()
    desk.uows = _RefusingStore()
    desk.cases = statement_cases.Statements(
        uow=desk.uows, policy=lambda: desk.loaded, parser=desk.parser
    )
    report = await desk.load(_month())
    assert (report.statements, report.imported) == (7, 5)
    assert [(r.statement, r.error) for r in report.rejected] == [
        ("D-3", "account DE89…3000 is not one the policy knows (statements.accounts)"),
        ("D-5", "Python int too large to convert to SQLite INTEGER"),
    ]
    assert sorted(_stored(desk)) == ["D-1", "D-2", "D-4", "D-6", "D-7"]
    imported = [statement_id for event, _, statement_id, _ in desk.audit()
                if event == "statement.imported"]  # fmt: skip
    assert imported == sorted(s.id or 0 for s in _stored(desk).values())
    # The batch was tried whole first, then statement by statement.
    writes = [u for u in desk.uows.opened if not u.read_only]
    assert len(writes) == 1 + 6
