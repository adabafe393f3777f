"""Issue 12's remaining rules through the use cases, on the in-memory store: the
counterparty's historical match rate in routing's priority, unmatched items closed when
a later run matches them, and a person's accept attributed to that person."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from domain import states
from domain.errors import IllegalTransition, InvalidCommand
from domain.gl import LedgerEntry
from domain.intake import IntakeRow
from domain.items import Item, ItemKind, ReviewState
from domain.matching.stored import MatchRecord, MatchState
from domain.notifications import NoticeKind
from domain.routing import prepare
from domain.states import SYSTEM
from domain.usecases import UseCases
from handlers import blocks
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import InMemoryUnitOfWorkFactory
from tests.slack_standin.limits import validate_message
from tests.statement_files import line, statement_policy_overrides
from tests.unit.test_matching_usecases import GL, LINES, NOW, _entry, _setup


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


# --- unmatched items closed when a later run matches them ---------------------------------


def test_close_matched_closes_an_open_unmatched_item_and_voids_its_approvals() -> None:
    item = make_item(
        state=ReviewState.AWAITING_SECOND_APPROVAL, required_approvals=2, approvers=["U0ALICE"]
    )
    moved = states.close_matched(item, match_id=12, run=3, now=NOW)
    after = moved.item
    assert (after.state, after.decided_by, after.approvals) == (ReviewState.MATCHED, SYSTEM, ())
    assert after.decision_note == "matched by run 3 / match 12"
    (event,) = moved.events
    assert (event.name, event.actor, event.to_state) == ("item.matched", SYSTEM, "matched")
    assert event.data == {
        "match": 12,
        "run": 3,
        "reason": "matched by run 3 / match 12",
        "voided_approvals": ["U0ALICE"],
    }
    assert states.close_matched(make_item(), match_id=5, run=None, now=NOW).item.decision_note == (
        "matched by match 5"
    )


def test_close_matched_refuses_a_disputed_or_settled_item_and_anything_but_unmatched() -> None:
    for state in (ReviewState.DISPUTED, ReviewState.POSTED, ReviewState.MATCHED):
        with pytest.raises(IllegalTransition):
            states.close_matched(make_item(state=state), match_id=1, run=1, now=NOW)
    batch = make_item(facts=make_facts(kind="batch"))
    with pytest.raises(InvalidCommand, match="not an unmatched item"):
        states.close_matched(batch, match_id=1, run=1, now=NOW)


#: Line 5 has no counterpart in the first run: an unmatched item. A later ledger import
#: brings one that scores 100 (auto-accepted) or one in the review band.
LATE = line("75.00", reference="INV-5", counterparty="Acme Corp")
EXACT = _entry("E-7", "75.00", reference="INV-5", counterparty="Acme Corp")
WEAK = _entry("E-8", "75.00", "2025-03-05", reference="Q1 FEES", counterparty="Acme Corp")


async def _unmatched_line(
    entries: list[LedgerEntry],
) -> tuple[UseCases, InMemoryUnitOfWorkFactory, Item]:
    uc, factory, sid = await _setup(lines=[*LINES, LATE])
    await uc.matching.run(now=NOW)
    late = _by_external(factory, f"bank:{sid}#5")
    assert late.state is ReviewState.PENDING and late.facts.kind is ItemKind.UNMATCHED
    async with factory() as uow:
        await uow.gl.add_many(entries, run_id=None, now=NOW)
        await uow.commit()
    return uc, factory, late


def _match_of(factory: InMemoryUnitOfWorkFactory, entry_id: str) -> MatchRecord:
    (match,) = [
        m for m in factory.store.matches.values() if m.ledger_entries[0].entry_id == entry_id
    ]
    return match


def _card_versions(factory: InMemoryUnitOfWorkFactory, item_id: int | None) -> list[int]:
    return [
        q.notification.payload.version  # type: ignore[union-attr]
        for q in factory.store.outbox.values()
        if q.notification.item_id == item_id and q.notification.kind is NoticeKind.CARD
    ]


async def test_a_later_auto_accepted_match_closes_the_unmatched_item() -> None:
    uc, factory, late = await _unmatched_line([EXACT])
    summary = await uc.matching.run(now=NOW + timedelta(hours=1))
    assert summary.auto_accepted == 1
    match = _match_of(factory, "E-7")
    assert match.state is MatchState.AUTO_ACCEPTED and match.run == 2
    closed = factory.store.items[late.id or 0]
    assert closed.state is ReviewState.MATCHED
    assert closed.decision_note == f"matched by run 2 / match {match.id}"
    records = [a for a in factory.store.audit if a.item_id == late.id and a.event == "item.matched"]
    assert [(r.actor, r.data["match"], r.data["run"]) for r in records] == [  # type: ignore[index]
        (SYSTEM, match.id, 2)
    ]
    # Its card is updated (no buttons on a terminal state), through the outbox.
    assert closed.version in _card_versions(factory, late.id)
    run_records = [a.data for a in factory.store.audit if a.event == "matching.run"]
    assert [r["run"] for r in run_records] == [1, 2]  # type: ignore[index]


async def test_a_run_that_changes_nothing_takes_no_run_number() -> None:
    uc, factory, _ = await _setup(lines=[*LINES, LATE])
    await uc.matching.run(now=NOW)
    await uc.matching.run(now=NOW + timedelta(minutes=30))  # the sweep: nothing new
    async with factory() as uow:
        await uow.gl.add_many([EXACT], run_id=None, now=NOW)
        await uow.commit()
    await uc.matching.run(now=NOW + timedelta(hours=1))
    # The run numbers count the runs the log records, without a gap for the idle one.
    assert _match_of(factory, "E-7").run == 2
    run_records = [a.data for a in factory.store.audit if a.event == "matching.run"]
    assert [r["run"] for r in run_records] == [1, 2]  # type: ignore[index]


async def test_a_pending_match_keeps_the_item_open_until_accepted() -> None:
    uc, factory, late = await _unmatched_line([WEAK])
    await uc.matching.run(now=NOW + timedelta(hours=1))
    match = _match_of(factory, "E-8")
    assert match.state is MatchState.PENDING_REVIEW and match.id is not None
    assert factory.store.items[late.id or 0].state is ReviewState.PENDING
    await uc.matching.accept(match.id, actor="U0BOB", now=NOW + timedelta(hours=2))
    closed = factory.store.items[late.id or 0]
    assert closed.state is ReviewState.MATCHED
    assert closed.decision_note == f"matched by run 2 / match {match.id}"


async def test_a_rejected_match_leaves_the_item_open() -> None:
    uc, factory, late = await _unmatched_line([WEAK])
    await uc.matching.run(now=NOW + timedelta(hours=1))
    match = _match_of(factory, "E-8")
    assert match.id is not None
    await uc.matching.reject(match.id, actor="U0BOB", now=NOW + timedelta(hours=2))
    assert factory.store.items[late.id or 0].state is ReviewState.PENDING
    assert not any(a.event == "item.matched" for a in factory.store.audit)


def test_the_closed_card_says_which_run_and_match_and_offers_no_buttons() -> None:
    item = make_item(facts=make_facts(kind="unmatched"), state=ReviewState.PENDING, id=41)
    closed = states.close_matched(item, match_id=7, run=2, now=NOW).item
    message = blocks.item_card(closed, policy=make_policy().policy, now=NOW)
    payload = message.payload()
    body = json.dumps(payload["blocks"], ensure_ascii=False)
    assert "*Closed* · matched by run 2 / match 7" in body
    assert '"type": "button"' not in body and '"type": "actions"' not in body
    error, errors = validate_message(payload["text"], payload["blocks"])
    assert error is None, errors
