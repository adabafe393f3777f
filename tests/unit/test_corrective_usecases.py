"""Corrective entries through the use cases, against the in-memory unit of work.

A changed re-ingest of a posted item reverses its entries and sends it back to review;
an adjusted dispute makes its adjustment entry; write-offs are one per dispute. State,
journal and audit are asserted as stored.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

from domain.audit.records import AuditEntry
from domain.intake import IntakeRow
from domain.items import (
    DisputeCategory,
    DisputeOutcome,
    EntryKind,
    ItemFacts,
    ItemKind,
    JournalEntry,
    ReviewState,
    Route,
)
from domain.journal import build_entry
from domain.policy import LoadedPolicy
from domain.usecases import UseCases
from domain.usecases.amendments import plan_amendment
from domain.usecases.intake import IngestResult
from domain.usecases.ledger import ClaimedRow, Recorded
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import T0, FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_accounts import ACCOUNTS

S = ReviewState
HOUR = timedelta(hours=1)


def rows(*facts: ItemFacts) -> list[IntakeRow]:
    return [
        IntakeRow(line=i + 2, facts=f, raw=f"{f.external_id},{f.amount}")
        for i, f in enumerate(facts)
    ]


async def ingest(usecases: UseCases, clock: FixedClock, facts: ItemFacts) -> IngestResult:
    return await usecases.intake.ingest(rows(facts), now=clock.now())


def keys(factory: InMemoryUnitOfWorkFactory) -> list[str]:
    return [e.idempotency_key for e in factory.journal_entries]


def records(factory: InMemoryUnitOfWorkFactory, event: str) -> list[AuditEntry]:
    return [e for e in factory.audit_entries if e.event == event]


def data_of(entry: AuditEntry) -> dict[str, Any]:
    assert isinstance(entry.data, dict)
    return entry.data


async def deliver(usecases: UseCases, entry: JournalEntry | None, clock: FixedClock) -> None:
    """The ledger's answer to ``entry`` (as the ledger relay records it): the item posts."""
    assert entry is not None
    recorded = await usecases.ledger.delivered(
        row=ClaimedRow(id=0, attempts=1),
        idempotency_key=entry.idempotency_key,
        reference=entry.ledger_ref,
        now=clock.now(),
    )
    assert recorded is Recorded.DELIVERED


async def posted_item(
    usecases: UseCases, factory: InMemoryUnitOfWorkFactory, clock: FixedClock, amount: str
) -> ItemFacts:
    facts = make_facts(external_id="EXT-1", amount=amount)
    await ingest(usecases, clock, facts)
    outcome = await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    assert outcome.item.state is S.APPROVED
    await deliver(usecases, outcome.journal_entry, clock)
    assert factory.item(1).state is S.POSTED
    return facts


async def test_a_changed_re_ingest_of_a_posted_item_reverses_it_and_reviews_it_again(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = await posted_item(usecases, uow_factory, clock, "125.00")
    [original] = uow_factory.journal_entries
    posted = uow_factory.item(1)
    clock.advance(HOUR)

    result = await ingest(usecases, clock, dataclasses.replace(facts, amount=Decimal("126.00")))

    assert (result.amended, result.rejected, result.inserted, result.reversed) == (1, 0, 0, 1)
    assert result.summary()["reversed"] == 1
    item = uow_factory.item(1)
    assert (item.state, item.ledger_ref, item.approvals, item.decided_by) == (
        S.PENDING,
        None,
        (),
        None,
    )
    assert (item.facts.amount, item.sla_started_at, item.version) == (
        Decimal("126.00"),
        clock.now(),
        posted.version + 1,
    )
    assert item.sla_next_at is not None and item.sla_next_at > clock.now()
    # The original is untouched; the reversal mirrors it and names it.
    first, reversal = uow_factory.journal_entries
    assert first == original
    assert (reversal.kind, reversal.reverses) == (EntryKind.REVERSAL, original.idempotency_key)
    assert (reversal.idempotency_key, reversal.ledger_ref) == (
        "item-1-reversal-1",
        "JE-00000001-V1",
    )
    assert [(ln.account, ln.debit_minor, ln.credit_minor) for ln in reversal.lines] == [
        (ln.account, ln.credit_minor, ln.debit_minor) for ln in original.lines
    ]
    assert original.ledger_ref in reversal.memo and f"version {item.version}" in reversal.memo
    # The audit links all three: original, reversal and new version.
    assert uow_factory.audit_events(1)[-2:] == ["item.amended", "item.reversed"]
    [amended] = records(uow_factory, "item.amended")
    assert (amended.from_state, amended.to_state) == ("posted", "pending")
    assert data_of(amended)["reversals"] == [
        {"original_key": "item-1-approval", "reversal_key": "item-1-reversal-1"}
    ]
    assert data_of(amended)["new_version"] == item.version
    assert data_of(amended)["previous_ledger_ref"] == "JE-00000001-A"
    assert data_of(amended)["voided_approvals"] == ["U0BOB"]
    [reversed_] = records(uow_factory, "item.reversed")
    assert {
        k: data_of(reversed_)[k]
        for k in ("original_key", "original_ledger_ref", "reversal_key", "new_version")
    } == {
        "original_key": "item-1-approval",
        "original_ledger_ref": "JE-00000001-A",
        "reversal_key": "item-1-reversal-1",
        "new_version": item.version,
    }
    assert data_of(reversed_)["content_hash"] == item.content_hash


async def test_re_approval_posts_a_second_entry_and_a_second_change_reverses_only_it(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = await posted_item(usecases, uow_factory, clock, "125.00")
    await ingest(usecases, clock, dataclasses.replace(facts, amount=Decimal("126.00")))

    again = await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    await deliver(usecases, again.journal_entry, clock)

    assert uow_factory.item(1).state is S.POSTED and again.journal_entry is not None
    assert (again.journal_entry.idempotency_key, uow_factory.item(1).ledger_ref) == (
        "item-1-approval-2",
        "JE-00000001-A2",
    )
    assert again.journal_entry.lines[0].debit_minor == 12600

    result = await ingest(usecases, clock, dataclasses.replace(facts, amount=Decimal("127.00")))
    assert result.amended == 1
    assert keys(uow_factory) == [
        "item-1-approval",
        "item-1-reversal-1",
        "item-1-approval-2",
        "item-1-reversal-2",
    ]
    last = uow_factory.journal_entries[-1]
    assert last.reverses == "item-1-approval-2" and last.lines[0].credit_minor == 12600
    assert uow_factory.item(1).state is S.PENDING

    # The same content once more changes nothing and reverses nothing.
    before = list(uow_factory.journal_entries), uow_factory.item(1)
    same = await ingest(usecases, clock, dataclasses.replace(facts, amount=Decimal("127.00")))
    assert (same.unchanged, same.amended) == (1, 0)
    assert (list(uow_factory.journal_entries), uow_factory.item(1)) == before


async def test_a_re_ingest_accepted_by_policy_stores_the_reversal_before_its_new_entry(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = make_facts(external_id="M-1", kind=ItemKind.MATCH, score=95, amount="480.00")
    await ingest(usecases, clock, facts)
    [first] = uow_factory.journal_entries
    await deliver(usecases, first, clock)
    assert uow_factory.item(1).state is S.POSTED

    await ingest(usecases, clock, dataclasses.replace(facts, amount=Decimal("481.00")))

    item = uow_factory.item(1)
    # Accepted again by policy: approved, its new entry on its way to the ledger.
    assert (item.state, item.route, item.ledger_ref) == (S.APPROVED, Route.AUTO_ACCEPTED, None)
    assert keys(uow_factory) == ["item-1-approval", "item-1-reversal-1", "item-1-approval-2"]
    created = [data_of(e)["idempotency_key"] for e in records(uow_factory, "journal.created")]
    assert created == ["item-1-approval", "item-1-reversal-1", "item-1-approval-2"]
    assert [e for e in uow_factory.audit_events(1) if e != "journal.created"][-3:] == [
        "item.amended",
        "item.reversed",
        "item.auto_accepted",
    ]
    await deliver(usecases, uow_factory.journal_entries[-1], clock)
    assert uow_factory.item(1).ledger_ref == "JE-00000001-A2"


async def test_a_rejected_row_is_no_longer_how_a_posted_change_ends(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = await posted_item(usecases, uow_factory, clock, "125.00")
    run_id = await usecases.intake.start_ingest(
        source="bank-feed", file_name="bank.csv", policy_text="policy", now=clock.now()
    )
    changed = dataclasses.replace(facts, amount=Decimal("1.00"))
    result = await usecases.intake.ingest(rows(changed), now=clock.now(), run_id=run_id)
    assert (result.rejected, result.rejected_rows, result.amended) == (0, [], 1)
    assert uow_factory.store.quarantine == []


# --- adjustments ------------------------------------------------------------------------


async def open_dispute(usecases: UseCases, clock: FixedClock) -> None:
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="counterparty paid 5 less",
    )


def usecases_with_accounts(factory: InMemoryUnitOfWorkFactory) -> UseCases:
    loaded = make_policy(accounts=ACCOUNTS)
    return UseCases.over(uow=factory, policy=lambda: loaded)


async def test_an_adjusted_dispute_makes_its_adjustment_entry_with_the_resolution(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    usecases = usecases_with_accounts(uow_factory)
    await ingest(usecases, clock, make_facts(external_id="EXT-1", amount="125.00"))
    await open_dispute(usecases, clock)
    clock.advance(HOUR)

    outcome = await usecases.disputes.resolve_dispute(
        item_id=1,
        actor="U0LEAD",
        now=clock.now(),
        outcome=DisputeOutcome.ADJUSTED,
        note="counterparty agreed the fee",
        amount=Decimal("-5.00"),
    )

    assert outcome.item.state is S.PENDING  # back to review, as the state machine says
    entry = outcome.journal_entry
    assert entry is not None and uow_factory.journal_entries == [entry]
    assert (entry.kind, entry.idempotency_key, entry.ledger_ref, entry.dispute_id) == (
        EntryKind.ADJUSTMENT,
        "item-1-adjustment-1",
        "JE-00000001-J1",
        "D-1-1",
    )
    assert [(ln.account, ln.debit_minor, ln.credit_minor) for ln in entry.lines] == [
        ("1999", 500, 0),
        ("6810", 0, 500),
    ]
    assert "D-1-1" in entry.memo and "R-1" in entry.memo and entry.hold is None
    [resolved] = records(uow_factory, "dispute.resolved")
    assert data_of(resolved)["entry"]["idempotency_key"] == "item-1-adjustment-1"
    assert data_of(resolved)["entry"]["dispute_id"] == "D-1-1"

    # A double click on the resolution makes no second entry.
    repeat = await usecases.disputes.resolve_dispute(
        item_id=1,
        actor="U0LEAD",
        now=clock.now(),
        outcome=DisputeOutcome.ADJUSTED,
        note="counterparty agreed the fee",
        amount=Decimal("-5.00"),
    )
    assert repeat.noop and len(uow_factory.journal_entries) == 1

    # Approved again, then changed at the source: both entries are reversed.
    await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    await ingest(usecases, clock, make_facts(external_id="EXT-1", amount="120.00"))
    assert keys(uow_factory) == [
        "item-1-adjustment-1",
        "item-1-approval",
        "item-1-reversal-1",
        "item-1-reversal-2",
    ]
    reversals = uow_factory.journal_entries[2:]
    assert [r.reverses for r in reversals] == ["item-1-adjustment-1", "item-1-approval"]
    assert reversals[0].dispute_id == "D-1-1"


async def test_a_second_disputes_adjustment_has_its_own_key(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    usecases = usecases_with_accounts(uow_factory)
    await ingest(usecases, clock, make_facts(external_id="EXT-1", amount="125.00"))
    for amount in ("2.00", "3.00"):
        await open_dispute(usecases, clock)
        await usecases.disputes.resolve_dispute(
            item_id=1,
            actor="U0LEAD",
            now=clock.advance(HOUR),
            outcome=DisputeOutcome.ADJUSTED,
            note="counterparty agreed the fee",
            amount=Decimal(amount),
        )
    assert keys(uow_factory) == ["item-1-adjustment-1", "item-1-adjustment-2"]
    assert [e.dispute_id for e in uow_factory.journal_entries] == ["D-1-1", "D-1-2"]


async def test_matched_and_zero_adjusted_resolutions_make_no_entry(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(usecases, clock, make_facts(external_id="EXT-1", amount="125.00"))
    for outcome, amount in ((DisputeOutcome.MATCHED, None), (DisputeOutcome.ADJUSTED, "0")):
        await open_dispute(usecases, clock)
        done = await usecases.disputes.resolve_dispute(
            item_id=1,
            actor="U0LEAD",
            now=clock.advance(HOUR),
            outcome=outcome,
            note="matched with the bank",
            amount=Decimal(amount) if amount is not None else None,
        )
        assert done.item.state is S.PENDING and done.journal_entry is None
    assert uow_factory.journal_entries == []


async def test_without_a_mapping_the_adjustment_waits_on_hold(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(usecases, clock, make_facts(external_id="EXT-1", amount="125.00"))
    await open_dispute(usecases, clock)
    outcome = await usecases.disputes.resolve_dispute(
        item_id=1,
        actor="U0LEAD",
        now=clock.now(),
        outcome=DisputeOutcome.ADJUSTED,
        note="counterparty agreed the fee",
        amount=Decimal("1.00"),
    )
    assert outcome.journal_entry is not None
    assert outcome.journal_entry.hold == "no account mapping"


# --- write-offs -------------------------------------------------------------------------


async def write_off(usecases: UseCases, clock: FixedClock) -> JournalEntry:
    await open_dispute(usecases, clock)
    done = await usecases.disputes.resolve_dispute(
        item_id=1,
        actor="U0LEAD",
        now=clock.advance(HOUR),
        outcome=DisputeOutcome.WRITTEN_OFF,
        note="not worth chasing further",
        amount=Decimal("4.00"),
    )
    assert done.item.state is S.APPROVED and done.journal_entry is not None
    await deliver(usecases, done.journal_entry, clock)
    return done.journal_entry


async def test_a_second_disputes_write_off_does_not_collide_with_the_first(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = make_facts(external_id="EXT-1", amount="125.00")
    await ingest(usecases, clock, facts)
    first = await write_off(usecases, clock)
    assert (first.idempotency_key, first.dispute_id) == ("item-1-write_off", "D-1-1")
    assert "D-1-1" in first.memo and "R-1" in first.memo

    # Changed at the source: the write-off is reversed and the item reviewed again...
    await ingest(usecases, clock, dataclasses.replace(facts, amount=Decimal("124.00")))
    assert uow_factory.item(1).state is S.PENDING
    # ...where a second dispute is written off under a key of its own.
    second = await write_off(usecases, clock)
    assert (second.idempotency_key, second.ledger_ref, second.dispute_id) == (
        "item-1-write_off-2",
        "JE-00000001-W2",
        "D-1-2",
    )
    assert keys(uow_factory) == ["item-1-write_off", "item-1-reversal-1", "item-1-write_off-2"]
    [first_posted, second_posted] = records(uow_factory, "item.posted")
    assert data_of(second_posted)["entry"] == "JE-00000001-W2"
    [_, second_created] = [
        e for e in records(uow_factory, "journal.created") if data_of(e)["kind"] == "write_off"
    ]
    assert data_of(second_created)["dispute_id"] == "D-1-2"
    assert data_of(first_posted)["idempotency_key"] == "item-1-write_off"


# --- the plan, pure ---------------------------------------------------------------------


def test_an_approved_item_with_an_entry_is_reversed_when_amended(
    loaded_policy: LoadedPolicy,
) -> None:
    """An item the ledger has not confirmed yet (approved, its entry waiting) is
    reversed like a posted one: the entry exists, so it may already be on its way."""
    current = make_item(state=S.APPROVED, approvers=["U0ALICE"])
    entry = build_entry(current, kind=EntryKind.APPROVAL, now=T0)
    facts = dataclasses.replace(current.facts, amount=Decimal("99.00"))
    plan = plan_amendment(
        current, facts, loaded_policy, T0 + HOUR, clocked=lambda i: i, prior=[entry]
    )
    [reversal] = plan.reversals
    assert reversal.reverses == entry.idempotency_key and reversal.hold == entry.hold
    assert plan.final.state is S.PENDING and plan.entry is None
    [(before, after, events)] = plan.moves
    assert (before, after) == (current, plan.final)
    assert [e.name for e in events] == ["item.amended", "item.reversed"]
    assert {e.from_state for e in events} == {"approved"}


def test_an_item_without_entries_is_amended_with_no_reversal(
    loaded_policy: LoadedPolicy,
) -> None:
    current = make_item(state=S.REJECTED)
    facts = dataclasses.replace(current.facts, amount=Decimal("99.00"))
    plan = plan_amendment(current, facts, loaded_policy, T0, clocked=lambda i: i)
    assert plan.reversals == ()
    [(_, _, events)] = plan.moves
    assert [e.name for e in events] == ["item.amended"]
    assert "reversals" not in events[0].data
