"""Matching runs through the use cases, on the in-memory store: bands, the routing
guard, unmatched items, re-runs, accept/reject, accept-all gated by the checks."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import InvalidCommand, StaleItem
from domain.gl import LedgerEntry
from domain.items import EntryKind, ItemKind
from domain.matching.checks import CheckKind
from domain.matching.records import Band
from domain.matching.stored import CheckState, MatchState, Resolution
from domain.statements.records import MatchStatus, Stage1Status
from domain.usecases import UseCases
from domain.usecases.matching import MATCHING_SOURCE, MatchRefused
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import T0, InMemoryUnitOfWorkFactory
from tests.statement_files import (
    USD_ACCOUNT,
    line,
    make_statement,
    statement,
    statement_policy_overrides,
)

pytestmark = pytest.mark.asyncio

NOW = T0 + timedelta(days=1)
GL = "1100"  # the GL account the EUR test account maps to


def _entry(eid: str, amount: str, day: str = "2025-03-03", **fields: Any) -> LedgerEntry:
    return LedgerEntry(
        entry_id=eid,
        account=fields.pop("account", GL),
        booked_on=date.fromisoformat(day),
        amount=Decimal(amount),
        currency=fields.pop("currency", "EUR"),
        **fields,
    )


LINES = [
    line("200.00", reference="INV-1", counterparty="Globex"),  # 1: exact -> auto
    line("300.00", "2025-03-03", reference="PAYMENT", counterparty="Initech"),  # 2: review
    line("-50.00", reference="FEE"),  # 3: no counterpart -> unmatched
    line("20000.00", reference="INV-9", counterparty="Umbrella"),  # 4: exact but material
]
ENTRIES = [
    _entry("E-1", "200.00", reference="INV-1", counterparty="Globex"),
    _entry("E-2", "300.00", "2025-03-05", reference="ZZ-771", counterparty="Initech"),
    _entry("E-3", "999.00", reference="INV-7", counterparty="Hooli"),
    _entry("E-4", "20000.00", reference="INV-9", counterparty="Umbrella"),
]


async def _setup(
    lines: list[dict[str, Any]] | None = None, entries: list[LedgerEntry] | None = None
) -> tuple[UseCases, InMemoryUnitOfWorkFactory, int]:
    loaded = make_policy(**statement_policy_overrides())
    factory = InMemoryUnitOfWorkFactory()
    body = lines if lines is not None else LINES
    total = sum((Decimal(ln["amount"]) for ln in body), Decimal(0))
    raw = statement(lines=body, closing=str(Decimal("1000.00") + total))
    async with factory() as uow:
        stored = await uow.statements.add(
            dataclasses.replace(make_statement(raw), stage1_status=Stage1Status.APPROVED)
        )
        await uow.gl.add_many(entries if entries is not None else ENTRIES, run_id=None, now=T0)
        await uow.commit()
    assert stored.id is not None
    return UseCases.over(uow=factory, policy=lambda: loaded), factory, stored.id


async def test_a_run_sorts_into_the_three_bands_and_the_guard_holds_material_ones() -> None:
    uc, factory, sid = await _setup()
    summary = await uc.matching.run(now=NOW)
    assert summary.as_dict() == {
        "auto_accepted": 1,
        "pending_review": 2,
        "unmatched_bank": 1,
        "unmatched_ledger": 1,
        "checks_open": summary.checks_open,
    }
    by_line = {m.bank_lines[0][1]: m for m in factory.store.matches.values()}
    assert set(by_line) == {1, 2, 4}
    auto, review, material = by_line[1], by_line[2], by_line[4]
    assert (auto.state, auto.band, auto.score) == (
        MatchState.AUTO_ACCEPTED,
        Band.AUTO_ACCEPTED,
        100,
    )
    assert 60 <= review.score < 85 and review.state is MatchState.PENDING_REVIEW
    assert material.score >= 85 and material.state is MatchState.PENDING_REVIEW
    assert material.held is not None and material.held.startswith("materiality")
    assert auto.components["amount_fit"] == "exact"
    # Journal entries only for the accepted match, kind match.
    entries = list(factory.store.journal.values())
    assert [e.kind for e in entries] == [EntryKind.MATCH]
    assert entries[0].item_id in factory.store.items
    # Sides of matches are marked; the unmatched line and entry stay unmatched.
    stmt = factory.store.statements[sid]
    assert {ln.number: ln.match_status for ln in stmt.lines} == {
        1: MatchStatus.MATCHED,
        2: MatchStatus.MATCHED,
        3: MatchStatus.UNMATCHED,
        4: MatchStatus.MATCHED,
    }
    assert factory.store.gl[("E-3", GL)].match_status is MatchStatus.UNMATCHED
    assert factory.store.gl[("E-1", GL)].match_status is MatchStatus.MATCHED
    # Each side left unmatched is an unmatched item in the review flow, with its reason.
    unmatched = sorted(
        (i.facts.external_id, i.facts.description or "")
        for i in factory.store.items.values()
        if i.facts.source == MATCHING_SOURCE and i.facts.kind is ItemKind.UNMATCHED
    )
    assert [u[0] for u in unmatched] == [f"bank:{sid}#3", f"ledger:{GL}:E-3"]
    # On the bank account's entity, so routing and the journal find its team and accounts.
    assert {
        i.facts.entity for i in factory.store.items.values() if i.facts.source == MATCHING_SOURCE
    } == {"ACME-NL"}
    assert all("without a" in u[1] and ":" in u[1] for u in unmatched)
    events = [a.event for a in factory.store.audit]
    assert "matching.run" in events and events.count("match.found") == 3


async def test_a_rerun_changes_nothing_and_never_posts_twice() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    before = dict(factory.store.matches)
    items = len(factory.store.items)
    again = await uc.matching.run(now=NOW + timedelta(hours=1))
    assert factory.store.matches == before
    assert len(factory.store.journal) == 1
    assert len(factory.store.items) == items
    assert (again.auto_accepted, again.pending_review) == (0, 2)


async def test_a_run_that_changes_nothing_writes_nothing() -> None:
    """The hourly sweep over unchanged data leaves no trace: no ``matching.run`` record,
    no outbox row (it still reports what it found)."""
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    audit, outbox = list(factory.store.audit), dict(factory.store.outbox)
    again = await uc.matching.run(now=NOW + timedelta(hours=1))
    assert factory.store.audit == audit
    assert factory.store.outbox == outbox
    assert (again.auto_accepted, again.pending_review, again.unmatched_bank) == (0, 2, 1)


async def test_a_run_whose_only_change_is_a_new_unmatched_item_is_recorded() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    async with factory() as uow:
        await uow.gl.add_many([_entry("E-9", "12.34", reference="ODD")], run_id=None, now=NOW)
        await uow.commit()
    summary = await uc.matching.run(now=NOW + timedelta(hours=1))
    assert summary.unmatched_ledger == 2
    assert any(i.facts.external_id == f"ledger:{GL}:E-9" for i in factory.store.items.values())
    runs = [a.data for a in factory.store.audit if a.event == "matching.run"]
    assert [r["run"] for r in runs] == [1, 2]  # type: ignore[index]


async def test_accept_posts_and_reject_returns_both_sides_to_the_pool() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    pending = await uc.matching.matches(state=MatchState.PENDING_REVIEW)
    review = next(m for m in pending if m.bank_lines == ((sid, 2),))
    material = next(m for m in pending if m.bank_lines == ((sid, 4),))
    assert review.id is not None and material.id is not None
    rejected = await uc.matching.reject(review.id, actor="U0ALICE", now=NOW)
    assert rejected.state is MatchState.REJECTED and rejected.decided_by == "U0ALICE"
    assert factory.store.gl[("E-2", GL)].match_status is MatchStatus.UNMATCHED
    line2 = next(ln for ln in factory.store.statements[sid].lines if ln.number == 2)
    assert line2.match_status is MatchStatus.UNMATCHED
    assert len(factory.store.journal) == 1  # nothing posted for a rejection
    # 20,000 EUR is over the dual-control limit: the first accept waits for a second.
    first = await uc.matching.accept(material.id, actor="U0ALICE", now=NOW)
    assert first.state is MatchState.PENDING_REVIEW
    assert [a.user for a in first.approvals] == ["U0ALICE"]
    assert len(factory.store.journal) == 1
    with pytest.raises(MatchRefused, match="second, different person"):
        await uc.matching.accept(material.id, actor="U0ALICE", now=NOW)
    accepted = await uc.matching.accept(material.id, actor="U0BOB", now=NOW)
    assert accepted.state is MatchState.ACCEPTED
    assert [e.kind for e in factory.store.journal.values()] == [EntryKind.MATCH] * 2
    with pytest.raises(MatchRefused):
        await uc.matching.accept(material.id, actor="U0ALICE", now=NOW)
    with pytest.raises(MatchRefused):
        await uc.matching.reject(review.id, actor="U0ALICE", now=NOW)


async def test_accept_all_is_refused_while_a_duplicate_is_open_then_allowed() -> None:
    lines = [*LINES, line("75.00", reference="DUP-1"), line("75.00", reference="DUP-1")]
    uc, factory, sid = await _setup(lines=lines)
    summary = await uc.matching.run(now=NOW)
    checks = await uc.matching.checks(state=CheckState.OPEN)
    dup = [c for c in checks if c.kind is CheckKind.DUPLICATE_BANK]
    assert len(dup) == 1 and dup[0].statement_id == sid
    assert summary.checks_open == len(checks)
    with pytest.raises(MatchRefused) as refused:
        await uc.matching.accept_all(sid, actor="U0ALICE", now=NOW)
    assert f"check {dup[0].id} (duplicate_bank)" in str(refused.value)
    assert len(factory.store.journal) == 1
    for check in checks:
        assert check.id is not None
        with pytest.raises(InvalidCommand):
            await uc.matching.resolve_check(
                check.id, Resolution.EXPLAINED, note=" ", actor="U0BOB", now=NOW
            )
        resolution = (
            Resolution.CONFIRMED_DUPLICATE
            if check.kind is CheckKind.DUPLICATE_BANK
            else Resolution.EXPLAINED
        )
        done = await uc.matching.resolve_check(
            check.id, resolution, note="seen twice in the file", actor="U0BOB", now=NOW
        )
        assert done.state is CheckState.RESOLVED and done.resolved_by == "U0BOB"
    assert dup[0].id is not None
    with pytest.raises(MatchRefused):
        await uc.matching.resolve_check(
            dup[0].id, Resolution.NOT_DUPLICATE, note=None, actor="U0BOB", now=NOW
        )
    accepted = await uc.matching.accept_all(sid, actor="U0ALICE", now=NOW)
    assert len(accepted) == 2
    # The material match is under dual control: Alice's accept waits for a second person.
    assert sorted(m.state.value for m in accepted) == ["accepted", "pending_review"]
    assert len(factory.store.journal) == 2
    assert await uc.matching.accept_all(sid, actor="U0ALICE", now=NOW) == []
    (second,) = await uc.matching.accept_all(sid, actor="U0BOB", now=NOW)
    assert second.state is MatchState.ACCEPTED
    assert len(factory.store.journal) == 3
    # A re-run finds the same checks again and does not reopen them.
    await uc.matching.run(now=NOW + timedelta(hours=1))
    assert await uc.matching.checks(state=CheckState.OPEN) == []


async def test_a_wrong_resolution_for_the_kind_is_refused() -> None:
    lines = [line("75.00", reference="DUP-1"), line("75.00", reference="DUP-1")]
    uc, _, _ = await _setup(lines=lines, entries=[])
    await uc.matching.run(now=NOW)
    (dup,) = [c for c in await uc.matching.checks() if c.kind is CheckKind.DUPLICATE_BANK]
    assert dup.id is not None
    with pytest.raises(InvalidCommand, match="duplicate_bank check is resolved as one of"):
        await uc.matching.resolve_check(
            dup.id, Resolution.TRANSFER_CONFIRMED, note=None, actor="U0BOB", now=NOW
        )


async def test_a_changed_ledger_entry_rescores_its_pending_match() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    review = next(m for m in factory.store.matches.values() if m.bank_lines == ((sid, 2),))
    stored = factory.store.gl[("E-2", GL)]
    changed = dataclasses.replace(stored.entry, reference="PAYMENT")
    factory.store.gl[("E-2", GL)] = dataclasses.replace(
        stored, entry=changed, content_hash=changed.content_hash(), version=2
    )
    await uc.matching.run(now=NOW + timedelta(hours=1))
    assert review.id is not None
    after = factory.store.matches[review.id]
    assert after.version == review.version + 1
    assert after.score > review.score
    assert after.state in (MatchState.PENDING_REVIEW, MatchState.AUTO_ACCEPTED)
    assert "match.rescored" in [a.event for a in factory.store.audit]


async def test_a_run_of_one_statement_reads_only_its_account_and_gl_account() -> None:
    uc, factory, sid = await _setup()
    unmapped = statement(
        account=USD_ACCOUNT,
        currency="USD",
        statement_id="STMT-X",
        lines=[line("200.00", reference="INV-1", counterparty="Globex")],
        closing="1200.00",
    )
    async with factory() as uow:
        other = await uow.statements.add(
            dataclasses.replace(make_statement(unmapped), stage1_status=Stage1Status.APPROVED)
        )
        await uow.commit()
    assert other.id is not None
    assert (await uc.matching.run(now=NOW, statement=other.id)).as_dict() == {
        "auto_accepted": 0,
        "pending_review": 0,
        "unmatched_bank": 1,  # GL 1000 has no entries; the EUR ones are not its
        "unmatched_ledger": 0,
        "checks_open": 0,
    }
    assert factory.store.matches == {}
    summary = await uc.matching.run(now=NOW, statement=sid)
    assert summary.auto_accepted == 1
    assert {m.statement_id for m in factory.store.matches.values()} == {sid}


async def test_a_match_below_materiality_in_a_lower_policy_is_held() -> None:
    uc, factory, _ = await _setup()
    low = make_policy(routing={"materiality": "100.00"}, **statement_policy_overrides())
    held_uc = UseCases.over(uow=factory, policy=lambda: low)
    summary = await held_uc.matching.run(now=NOW)
    assert summary.auto_accepted == 0
    assert factory.store.journal == {}
    held = [m for m in factory.store.matches.values() if m.score >= 85]
    assert held and all(m.held and "materiality" in m.held for m in held)
    del uc


async def test_a_counterparty_in_an_immediate_risk_tier_holds_the_match() -> None:
    uc, factory, sid = await _setup()
    async with factory() as uow:
        for n, tier in enumerate(("low", "high")):
            await uow.items.add(
                make_item(
                    id=None,
                    facts=make_facts(external_id=f"R-{n}", counterparty="Globex", risk_tier=tier),
                )
            )
        await uow.commit()
    summary = await uc.matching.run(now=NOW)
    assert summary.auto_accepted == 0
    (first,) = [m for m in factory.store.matches.values() if m.bank_lines == ((sid, 1),)]
    assert first.score == 100 and first.state is MatchState.PENDING_REVIEW
    assert first.held == "risk tier: counterparty Globex is high"
    assert factory.store.journal == {}


async def test_an_accept_given_on_a_match_since_rescored_is_refused_as_stale() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    review = next(m for m in factory.store.matches.values() if m.bank_lines == ((sid, 2),))
    assert review.id is not None
    stored = factory.store.gl[("E-2", GL)]
    changed = dataclasses.replace(stored.entry, description="receipt, corrected")
    factory.store.gl[("E-2", GL)] = dataclasses.replace(
        stored, entry=changed, content_hash=changed.content_hash(), version=2
    )
    await uc.matching.run(now=NOW + timedelta(hours=1))
    after = factory.store.matches[review.id]
    assert after.version == review.version + 1
    assert after.state is MatchState.PENDING_REVIEW
    with pytest.raises(StaleItem):
        await uc.matching.accept(
            review.id, actor="U0ALICE", now=NOW, expected_version=review.version
        )
    assert factory.store.matches[review.id].state is MatchState.PENDING_REVIEW
    done = await uc.matching.accept(
        review.id, actor="U0ALICE", now=NOW, expected_version=after.version
    )
    assert done.state is MatchState.ACCEPTED


async def test_pending_matches_of_a_statement_no_longer_approved_are_dissolved() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    factory.store.statements[sid] = dataclasses.replace(
        factory.store.statements[sid], stage1_status=Stage1Status.PENDING_REVIEW
    )
    await uc.matching.run(now=NOW + timedelta(hours=1))
    states = {m.bank_lines[0][1]: m for m in factory.store.matches.values()}
    assert states[1].state is MatchState.AUTO_ACCEPTED  # accepted matches are never touched
    for number in (2, 4):
        assert states[number].state is MatchState.REJECTED
        assert (states[number].held or "").startswith("dissolved: its statement")
    assert factory.store.gl[("E-2", GL)].match_status is MatchStatus.UNMATCHED
    lines = {ln.number: ln.match_status for ln in factory.store.statements[sid].lines}
    assert (lines[1], lines[2], lines[4]) == (
        MatchStatus.MATCHED,
        MatchStatus.UNMATCHED,
        MatchStatus.UNMATCHED,
    )
