"""The match repository's contract, on the in-memory fake, SQLite and PostgreSQL.

Plus the two Stage 2 status writes matching needs: a statement line's and the open
ledger entries of one GL account.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest

from domain.gl import LedgerEntry
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
)
from domain.statements.records import MatchStatus, Stage1Status
from tests.builders import make_facts, make_item
from tests.fakes import T0
from tests.integration.test_repository_contract import Store, _stmt, store
from tests.statement_files import line as stmt_line

__all__ = ["store"]

pytestmark = pytest.mark.asyncio


async def _statement(store: Store) -> int:
    async with store.uows() as uow:
        stored = await uow.statements.add(
            dataclasses.replace(
                _stmt(1, lines=[stmt_line("1.00"), stmt_line("2.00")]),
                stage1_status=Stage1Status.APPROVED,
            )
        )
        await uow.commit()
    assert stored.id is not None
    return stored.id


def _match(statement_id: int, **over: object) -> MatchRecord:
    fields: dict[str, object] = {
        "id": None,
        "key": f"m:{statement_id}#1|E-1",
        "band": Band.PENDING_REVIEW,
        "score": 72,
        "state": MatchState.PENDING_REVIEW,
        "components": {"amount_fit": "exact", "amount_difference": "0.00"},
        "statement_id": statement_id,
        "bank_lines": ((statement_id, 1), (statement_id, 2)),
        "ledger_entries": (LedgerKey(entry_id="E-1", account="1010"),),
        "sides_digest": "d" * 64,
        "held": None,
        "created_at": T0,
        "updated_at": T0,
    }
    fields.update(over)
    return MatchRecord(**fields)  # type: ignore[arg-type]


async def test_a_match_and_its_sides_read_back_the_same(store: Store) -> None:
    sid = await _statement(store)
    async with store.uows() as uow:
        first = await uow.matches.add(_match(sid))
        second = await uow.matches.add(
            _match(sid, key="m:x", band=Band.AUTO_ACCEPTED, state=MatchState.AUTO_ACCEPTED)
        )
        await uow.commit()
    assert first.id is not None and second.id is not None and second.id > first.id
    async with store.uows(read_only=True) as uow:
        got = await uow.matches.get(first.id)
        assert got == first
        assert await uow.matches.get(first.id + 100) is None
        assert [m.id for m in await uow.matches.query(band=Band.AUTO_ACCEPTED)] == [second.id]
        assert [m.id for m in await uow.matches.query(state=MatchState.PENDING_REVIEW)] == [
            first.id
        ]
        assert [m.id for m in await uow.matches.query(statement_id=sid, limit=1)] == [first.id]
        assert await uow.matches.query(statement_id=sid + 1) == []


async def test_update_is_version_checked_and_rewrites_the_sides(store: Store) -> None:
    sid = await _statement(store)
    async with store.uows() as uow:
        stored = await uow.matches.add(_match(sid))
        await uow.commit()
    later = T0 + timedelta(hours=1)
    rejected = dataclasses.replace(
        stored,
        state=MatchState.REJECTED,
        bank_lines=((sid, 2),),
        decided_by="U0ALICE",
        decided_at=later,
        updated_at=later,
    )
    async with store.uows() as uow:
        assert await uow.matches.update(rejected, expected_version=2) is False
        assert await uow.matches.update(rejected, expected_version=1) is True
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        got = await uow.matches.get(stored.id or 0)
        assert got == dataclasses.replace(rejected, version=2)
        assert await uow.matches.live() == []


async def test_checks_are_kept_once_per_key_and_resolved_once(store: Store) -> None:
    sid = await _statement(store)
    check = CheckRecord(
        id=None,
        key="duplicate_bank:abc",
        kind=CheckKind.DUPLICATE_BANK,
        state=CheckState.OPEN,
        statement_id=sid,
        detail="2 bank lines ...",
        created_at=T0,
    )
    other = dataclasses.replace(check, key="statistics:x", kind=CheckKind.STATISTICS)
    async with store.uows() as uow:
        assert await uow.matches.add_checks([check, other]) == 2
        await uow.commit()
    async with store.uows() as uow:
        assert await uow.matches.add_checks([check]) == 0  # a re-run finds it again
        assert await uow.matches.add_checks([]) == 0
        stored = await uow.matches.checks(state=CheckState.OPEN, statement_id=sid)
        assert [c.key for c in stored] == ["duplicate_bank:abc", "statistics:x"]
        first = stored[0]
        assert first == dataclasses.replace(check, id=first.id)
        resolved = dataclasses.replace(
            first,
            resolution=Resolution.NOT_DUPLICATE,
            note="two payments",
            resolved_by="U0ALICE",
            resolved_at=T0,
        )
        assert await uow.matches.resolve_check(resolved) is True
        assert await uow.matches.resolve_check(resolved) is False
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert first.id is not None
        got = await uow.matches.get_check(first.id)
        assert got == dataclasses.replace(resolved, state=CheckState.RESOLVED)
        assert [c.key for c in await uow.matches.checks(state=CheckState.OPEN)] == ["statistics:x"]
        assert await uow.matches.get_check(first.id + 100) is None


async def test_line_and_entry_statuses_and_the_open_entries_of_an_account(store: Store) -> None:
    sid = await _statement(store)

    def entry(eid: str, account: str = "1010", currency: str = "EUR") -> LedgerEntry:
        return LedgerEntry(
            entry_id=eid,
            account=account,
            booked_on=date(2025, 3, 3),
            amount=Decimal("1.00"),
            currency=currency,
        )

    async with store.uows() as uow:
        await uow.gl.add_many(
            [entry("E-2"), entry("E-1"), entry("E-3", "2020"), entry("E-4", currency="USD")],
            run_id=None,
            now=T0,
        )
        assert await uow.gl.set_match_status(("E-2", "1010"), MatchStatus.MATCHED, now=T0)
        assert await uow.statements.set_line_match_status(sid, 2, MatchStatus.MATCHED)
        assert not await uow.statements.set_line_match_status(sid, 9, MatchStatus.MATCHED)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        opened = await uow.gl.open_entries(account="1010", currency="EUR")
        assert [e.entry.entry_id for e in opened] == ["E-1"]
        lines = await uow.statements.approved_lines()
        assert [(s.id, ln.number) for s, ln in lines] == [(sid, 1)]
    async with store.uows() as uow:
        keys = [("E-1", "1010"), ("E-3", "2020"), ("E-9", "1010")]
        assert await uow.gl.set_match_statuses(keys, MatchStatus.MATCHED, now=T0) == 2
        assert await uow.gl.set_match_statuses([], MatchStatus.MATCHED, now=T0) == 0
        lines_ = [(sid, 1), (sid, 2), (sid, 7)]
        assert await uow.statements.set_line_match_statuses(lines_, MatchStatus.UNMATCHED) == 2
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        assert await uow.gl.open_entries(account="1010", currency="EUR") == []
        assert await uow.gl.open_entries(account="2020", currency="EUR") == []
        lines = await uow.statements.approved_lines()
        assert [(s.id, ln.number) for s, ln in lines] == [(sid, 1), (sid, 2)]


async def test_the_highest_risk_tier_of_each_counterparty(store: Store) -> None:
    async with store.uows() as uow:
        for n, (name, tier) in enumerate(
            [("Globex", "low"), ("Globex", "critical"), ("Globex", "high"), ("Initech", None)]
        ):
            facts = make_facts(external_id=f"R-{n}", counterparty=name, risk_tier=tier)
            await uow.items.add(make_item(id=None, facts=facts))
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        got = await uow.matches.counterparty_risk(["Globex", "Initech", "Hooli"])
        assert got == {"Globex": RiskTier.CRITICAL}
        assert await uow.matches.counterparty_risk([]) == {}


async def test_the_match_history_of_each_counterparty_over_the_window(store: Store) -> None:
    lines = [
        stmt_line("1.00", "2025-03-03", counterparty="Globex"),  # 1: accepted at 95
        stmt_line("2.00", "2025-03-03", counterparty="Globex"),  # 2: pending at 72
        stmt_line("3.00", "2025-03-03", counterparty="Globex"),  # 3: rejected at 99
        stmt_line("4.00", "2025-01-01", counterparty="Globex"),  # 4: before the window
        stmt_line("5.00", None, counterparty="Globex", value_date="2025-03-04"),  # 5: held 88
        stmt_line("6.00", "2025-03-03", counterparty="Initech"),  # 6: never matched
        stmt_line("7.00", "2025-03-03"),  # 7: no counterparty
        stmt_line("8.00", "2025-03-03", counterparty="Globex"),  # 8: removed
    ]
    raw = _stmt(1, lines=lines, closing="1036.00")
    raw = dataclasses.replace(
        raw, lines=(*raw.lines[:7], dataclasses.replace(raw.lines[7], removed=True))
    )
    unapproved = _stmt(2, lines=[stmt_line("9.00", "2025-03-03", counterparty="Globex")])
    async with store.uows() as uow:
        approved = await uow.statements.add(
            dataclasses.replace(raw, stage1_status=Stage1Status.APPROVED)
        )
        await uow.statements.add(dataclasses.replace(unapproved, closing=None))
        sid = approved.id
        assert sid is not None
        for n, (score, state) in {
            1: (95, MatchState.ACCEPTED),
            2: (72, MatchState.PENDING_REVIEW),
            3: (99, MatchState.REJECTED),
            4: (100, MatchState.AUTO_ACCEPTED),
            5: (88, MatchState.PENDING_REVIEW),
            8: (100, MatchState.AUTO_ACCEPTED),
        }.items():
            await uow.matches.add(
                _match(sid, key=f"m:{n}", score=score, state=state, bank_lines=((sid, n),))
            )
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        got = await uow.matches.match_history(
            ["Globex", "Initech", "Hooli", "Initech"],
            since=date(2025, 2, 1),
            until=date(2025, 3, 10),
            min_score=85,
        )
        assert got == {
            "Globex": MatchTally(lines=4, matched=2),
            "Initech": MatchTally(lines=1, matched=0),
        }
        later = await uow.matches.match_history(
            ["Globex"], since=date(2025, 3, 4), until=date(2025, 3, 10), min_score=85
        )
        assert later == {"Globex": MatchTally(lines=1, matched=1)}
        assert (
            await uow.matches.match_history([], since=T0.date(), until=T0.date(), min_score=85)
            == {}
        )


async def test_the_accepts_awaiting_a_second_person_read_back_the_same(store: Store) -> None:
    sid = await _statement(store)
    first = Approval(user="U0ALICE", at=T0 + timedelta(minutes=3))
    async with store.uows() as uow:
        stored = await uow.matches.add(_match(sid))
        assert stored.approvals == ()
        waiting = dataclasses.replace(stored, approvals=(first,))
        assert await uow.matches.update(waiting, expected_version=1)
        await uow.commit()
    async with store.uows(read_only=True) as uow:
        got = await uow.matches.get(stored.id or 0)
        assert got == dataclasses.replace(waiting, version=2)
        assert got is not None and got.approvals[0].at == first.at


async def test_runs_are_numbered_and_a_match_keeps_its_run(store: Store) -> None:
    sid = await _statement(store)
    async with store.uows() as uow:
        first = await uow.matches.start_run(statement_id=None, now=T0)
        second = await uow.matches.start_run(statement_id=sid, now=T0)
        stored = await uow.matches.add(_match(sid, run=second))
        await uow.commit()
    assert second > first >= 1
    async with store.uows(read_only=True) as uow:
        got = await uow.matches.get(stored.id or 0)
        assert got is not None and got.run == second
