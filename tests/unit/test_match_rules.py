"""Issue 12's remaining rules through the use cases, on the in-memory store: the
counterparty's historical match rate in routing's priority, unmatched items closed when
a later run matches them, and a person's accept attributed to that person."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from domain.intake import IntakeRow
from domain.items import Item, ReviewState
from domain.matching.stored import MatchState
from domain.routing import prepare
from domain.states import SYSTEM
from tests.builders import make_facts, make_policy
from tests.fakes import InMemoryUnitOfWorkFactory
from tests.statement_files import statement_policy_overrides
from tests.unit.test_matching_usecases import GL, NOW, _setup

pytestmark = pytest.mark.asyncio


def _by_external(factory: InMemoryUnitOfWorkFactory, external_id: str) -> Item:
    return next(i for i in factory.store.items.values() if i.facts.external_id == external_id)


async def test_intake_routes_with_the_counterparty_match_rate_read_once_per_batch() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    reads = factory.store.history_reads
    rows = [
        IntakeRow(line=n, facts=make_facts(external_id=f"X-{n}", counterparty=name))
        for n, name in enumerate(["Globex", "Initech", "Hooli", "Globex", None], start=2)
    ]
    later = NOW + timedelta(hours=2)
    await uc.intake.ingest(rows, now=later)
    assert factory.store.history_reads == reads + 1
    globex, initech, hooli = (_by_external(factory, f"X-{n}") for n in (2, 3, 4))
    # Globex's one line matched at 100; Initech's one only in the review band.
    assert globex.reasons[-1] == "match rate 100% over 90 days, 1 line"
    assert initech.reasons[-1] == "match rate 0% over 90 days, 1 line"
    assert hooli.reasons[-1] == "no match history over 90 days: match rate neutral 50%"
    assert _by_external(factory, "X-6").reasons[-1] == "no counterparty: match rate neutral 50%"
    assert initech.priority > hooli.priority > globex.priority
    # The audit record of the routing says it too.
    record = next(
        a for a in factory.store.audit if a.event == "item.ingested" and a.item_id == globex.id
    )
    assert isinstance(record.data, dict)
    assert "match rate 100% over 90 days, 1 line" in record.data["reasons"]


async def test_a_decision_made_ahead_is_routed_again_for_a_counterparty_with_history() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    loaded = make_policy(**statement_policy_overrides())
    initech, hooli = (
        prepare(
            IntakeRow(line=n, facts=make_facts(external_id=f"P-{n}", counterparty=name)), loaded
        )
        for n, name in ((2, "Initech"), (3, "Hooli"))
    )
    assert initech.decision is not None and hooli.decision is not None
    assert initech.decision.reasons[-1].startswith("no match history")
    await uc.intake.ingest([initech, hooli], now=NOW + timedelta(hours=1))
    assert _by_external(factory, "P-2").reasons[-1] == "match rate 0% over 90 days, 1 line"
    assert _by_external(factory, "P-2").priority > initech.decision.priority
    # Without history the decision made ahead stands as it was.
    assert _by_external(factory, "P-3").priority == hooli.decision.priority
    assert _by_external(factory, "P-3").reasons == hooli.decision.reasons


def _match_item(factory: InMemoryUnitOfWorkFactory, match_id: int | None) -> Item:
    return _by_external(factory, f"match-{match_id}")


async def test_a_person_accept_is_attributed_to_that_person_and_auto_to_policy() -> None:
    uc, factory, _ = await _setup()
    await uc.matching.run(now=NOW)
    by_line = {m.bank_lines[0][1]: m for m in factory.store.matches.values()}
    auto = _match_item(factory, by_line[1].id)
    assert (auto.state, auto.decided_by, auto.approvals) == (
        ReviewState.APPROVED,
        SYSTEM,
        (),
    )
    review = by_line[2]
    assert review.id is not None
    later = NOW + timedelta(minutes=5)
    done = await uc.matching.accept(review.id, actor="U0ALICE", now=later)
    assert done.decided_by == "U0ALICE" and [a.user for a in done.approvals] == ["U0ALICE"]
    item = _match_item(factory, review.id)
    assert item.state is ReviewState.APPROVED
    assert item.decided_by == "U0ALICE"
    assert [(a.user, a.at) for a in item.approvals] == [("U0ALICE", later)]
    events = [(a.event, a.actor) for a in factory.store.audit if a.item_id == item.id]
    assert ("item.approved", "U0ALICE") in events
    assert not any(e == "item.auto_accepted" for e, _ in events)
    memos: dict[int | None, str] = {e.item_id: e.memo for e in factory.store.journal.values()}
    assert memos[item.id].endswith("by U0ALICE (" + review.key[:300] + ")")
    assert " by policy" in memos[auto.id]


async def test_a_match_over_the_dual_control_limit_needs_two_people() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    material = next(m for m in factory.store.matches.values() if m.bank_lines == ((sid, 4),))
    assert material.id is not None
    first_at, second_at = NOW + timedelta(minutes=1), NOW + timedelta(minutes=9)
    waiting = await uc.matching.accept(material.id, actor="U0ALICE", now=first_at)
    assert waiting.state is MatchState.PENDING_REVIEW and waiting.decided_by is None
    assert not any(
        i.facts.external_id == f"match-{material.id}" for i in factory.store.items.values()
    )
    recorded = [a for a in factory.store.audit if a.event == "match.approval_recorded"]
    assert [(a.actor, a.data["why"]) for a in recorded] == [  # type: ignore[index]
        ("U0ALICE", "dual control: accept 1 of 2")
    ]
    done = await uc.matching.accept(material.id, actor="U0BOB", now=second_at)
    assert done.state is MatchState.ACCEPTED and done.decided_by == "U0BOB"
    item = _match_item(factory, material.id)
    assert item.required_approvals == 2 and item.decided_by == "U0BOB"
    assert [(a.user, a.at) for a in item.approvals] == [
        ("U0ALICE", first_at),
        ("U0BOB", second_at),
    ]
    events = [(a.event, a.actor) for a in factory.store.audit if a.item_id == item.id]
    assert [e for e in events if e[0] != "item.ingested"][:3] == [
        ("item.approval_recorded", "U0ALICE"),
        ("item.approval_recorded", "U0BOB"),
        ("item.approved", "U0BOB"),
    ]
    (entry,) = [e for e in factory.store.journal.values() if e.item_id == item.id]
    assert " by U0ALICE, U0BOB" in entry.memo


async def test_a_rescore_voids_the_first_accept() -> None:
    uc, factory, sid = await _setup()
    await uc.matching.run(now=NOW)
    material = next(m for m in factory.store.matches.values() if m.bank_lines == ((sid, 4),))
    assert material.id is not None
    await uc.matching.accept(material.id, actor="U0ALICE", now=NOW)
    stored = factory.store.gl[("E-4", GL)]
    changed = dataclasses.replace(stored.entry, description="invoice 9, corrected")
    factory.store.gl[("E-4", GL)] = dataclasses.replace(
        stored, entry=changed, content_hash=changed.content_hash(), version=2
    )
    await uc.matching.run(now=NOW + timedelta(hours=1))
    rescored = factory.store.matches[material.id]
    assert rescored.state is MatchState.PENDING_REVIEW and rescored.approvals == ()
    (record,) = [a for a in factory.store.audit if a.event == "match.rescored"]
    assert isinstance(record.data, dict) and record.data["voided_approvals"] == ["U0ALICE"]
    # Alice's accept was voided with the old sides: hers is a first accept again.
    again = await uc.matching.accept(material.id, actor="U0ALICE", now=NOW + timedelta(hours=2))
    assert again.state is MatchState.PENDING_REVIEW
