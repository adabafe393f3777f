"""Use cases against the in-memory unit of work: state, audit and journal after each call.

Team setup (tests/builders.py): treasury reviewers U0ALICE, U0BOB, U0CAROL, lead U0LEAD; ap
(ACME-DE in EUR) reviewers U0DAN, U0ERIN, lead U0LEAD2; compliance officer U0AUDIT.
Items of 10,000 USD or more need two approvers.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain import notifications
from domain.audit.records import GENESIS, CanonicalData, record_body
from domain.errors import (
    DomainError,
    IllegalTransition,
    InvalidCommand,
    ItemNotFound,
    NotAuthorized,
    NothingToClaim,
    NotVisible,
    StaleItem,
)
from domain.intake import IntakeRow, RowError
from domain.items import (
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    ItemFacts,
    ItemKind,
    JournalEntry,
    ReviewState,
    Route,
)
from domain.permissions import OPERATOR
from domain.policy import LoadedPolicy
from domain.routing import prepare
from domain.templates import CardUpdate
from domain.usecases import UseCases
from domain.usecases.claims import CLAIM_CANDIDATES
from domain.usecases.intake import IngestResult
from domain.usecases.transaction import REFUSED
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import (
    DuplicateKey,
    FixedClock,
    InMemoryItemRepository,
    InMemoryUnitOfWorkFactory,
    ReadOnlyViolation,
)

S = ReviewState
BIG = "20000.00"  # above materiality and the dual-control limit


def rows(*facts: ItemFacts) -> list[IntakeRow]:
    return [
        IntakeRow(line=i + 2, facts=f, raw=f"{f.external_id},{f.amount}")
        for i, f in enumerate(facts)
    ]


async def ingest(usecases: UseCases, clock: FixedClock, *facts: ItemFacts) -> IngestResult:
    return await usecases.intake.ingest(rows(*facts), now=clock.now())


async def add_item(
    usecases: UseCases,
    factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    **overrides: Any,
) -> Item:
    """Ingests one item and returns it as stored."""
    external_id = overrides.setdefault("external_id", f"EXT-{len(factory.items) + 1}")
    await ingest(usecases, clock, make_facts(**overrides))
    return next(i for i in factory.items if i.facts.external_id == external_id)


def lines_of(entry: JournalEntry) -> list[tuple[str, int, int]]:
    return [(line.account, line.debit_minor, line.credit_minor) for line in entry.lines]


def snapshot(factory: InMemoryUnitOfWorkFactory) -> tuple[Any, ...]:
    """Everything stored; audit entries as the bodies the log would store for them.

    A refused attempt leaves only its ``decision.refused`` record, which is left out
    here (tests/unit/test_refusals.py reads it), so "nothing changed" means
    nothing else did.
    """
    store = factory.store
    kept = [entry for entry in store.audit if entry.event != REFUSED]
    return (
        dict(store.items),
        dict(store.journal),
        [record_body(entry, seq=n, prev=GENESIS) for n, entry in enumerate(kept, 1)],
        len(store.quarantine),
        dict(store.outbox),
    )


def dispute_state(item: Item) -> DisputeState | None:
    return item.dispute.state if item.dispute else None


# --- the fake unit of work itself ---------------------------------------------------------


async def test_fake_uow_discards_uncommitted_changes(
    uow_factory: InMemoryUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        item = await uow.items.add(make_item(id=None))
        assert item.id == 1
        assert await uow.items.get(1) == item  # visible inside its own transaction
        assert uow_factory.items == []  # ...and nowhere else
    assert uow_factory.items == []
    assert uow_factory.store.rollbacks == 1
    async with uow_factory() as uow:
        item = await uow.items.add(make_item(id=None))
        await uow.commit()
    assert uow_factory.items == [item]


async def test_fake_uow_update_checks_the_version(uow_factory: InMemoryUnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        item = await uow.items.add(make_item(id=None))
        await uow.commit()
    newer = make_item(id=item.id, version=2)
    async with uow_factory() as uow:
        assert await uow.items.update(newer, expected_version=2) is False
        assert await uow.items.update(newer, expected_version=1) is True
        assert await uow.items.update(make_item(id=item.id, version=3), expected_version=1) is False
        await uow.commit()
    assert uow_factory.item(1).version == 2


async def test_fake_uow_serialises_concurrent_writers(
    uow_factory: InMemoryUnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.items.add(make_item(id=None))
        await uow.commit()

    async def bump(user: str) -> bool:
        async with uow_factory() as uow:
            item = await uow.items.get(1)
            assert item is not None
            changed = make_item(id=1, version=item.version + 1, assignee=user)
            ok = await uow.items.update(changed, expected_version=item.version)
            await uow.commit()
            return ok

    results = await asyncio.gather(bump("U0ALICE"), bump("U0BOB"))
    assert sorted(results) == [False, True]
    assert uow_factory.item(1).version == 2


async def test_fake_journal_keys_are_unique_and_read_only_refuses_writes(
    uow_factory: InMemoryUnitOfWorkFactory, loaded_policy: LoadedPolicy, clock: FixedClock
) -> None:
    usecases = UseCases.over(uow=uow_factory, policy=lambda: loaded_policy)
    item = await add_item(usecases, uow_factory, clock)
    outcome = await usecases.decisions.approve(item_id=item.id or 0, actor="U0BOB", now=clock.now())
    assert outcome.journal_entry is not None
    async with uow_factory() as uow:
        with pytest.raises(DuplicateKey):
            await uow.journal.add(outcome.journal_entry)
    async with uow_factory(read_only=True) as uow:
        assert await uow.items.get(1) is not None
        with pytest.raises(ReadOnlyViolation):
            await uow.audit.append([])


def test_fixed_clock() -> None:
    clock = FixedClock()
    start = clock.now()
    assert start.tzinfo is not None
    assert clock.advance(timedelta(hours=2)) == start + timedelta(hours=2)
    clock.set(start)
    assert clock.now() == start


# --- ingest -------------------------------------------------------------------------------


async def test_ingest_inserts_routes_and_audits(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    loaded_policy: LoadedPolicy,
) -> None:
    result = await ingest(
        usecases,
        clock,
        make_facts(external_id="A"),
        make_facts(external_id="B", amount=BIG),
        make_facts(external_id="C", entity="ACME-DE", currency="EUR"),
    )
    assert (result.read, result.inserted, result.unchanged, result.amended) == (3, 3, 0, 0)
    assert result.routes == {"immediate": 1, "digest": 2, "auto_accepted": 0}
    assert result.changed_items == [1, 2, 3]
    a, b, c = uow_factory.items
    assert (a.id, a.state, a.route, a.team, a.required_approvals) == (
        1,
        S.PENDING,
        Route.DIGEST,
        "treasury",
        1,
    )
    assert (b.route, b.required_approvals) == (Route.IMMEDIATE, 2)
    assert c.team == "ap"
    assert a.policy_version == loaded_policy.version
    assert (a.created_at, a.sla_started_at, a.version) == (clock.now(), clock.now(), 1)

    entries = uow_factory.audit_entries
    assert [e.event for e in entries] == ["item.ingested"] * 3
    first = entries[0]
    assert (first.item_id, first.item, first.actor, first.to_state) == (
        1,
        "R-1",
        "system",
        "pending",
    )
    assert first.policy_version == loaded_policy.version
    assert isinstance(first.data, dict)  # not pre-canonicalized
    assert first.data["route"] == "digest"
    assert first.data["amount"] == "125.00"  # exact decimal text, never a float
    assert first.data["content_hash"] == a.content_hash
    assert first.data["reasons"] == list(a.reasons)


async def test_ingest_sends_cards_and_one_home_refresh_per_affected_user(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    loaded_policy: LoadedPolicy,
) -> None:
    # The batch's Home refreshes are collected once per batch, not built per item: the
    # outbox must still hold a card per item and a refresh for every affected user.
    await ingest(
        usecases,
        clock,
        make_facts(external_id="A", amount=BIG),
        make_facts(external_id="B", amount=BIG),
        make_facts(external_id="C", entity="ACME-DE", currency="EUR", amount=BIG),
    )

    policy = loaded_policy.policy
    window = notifications.home_window_end(clock.now()).isoformat()
    people = {
        *policy.compliance.officers,
        *(
            user
            for name in ("treasury", "ap")
            for t in [policy.team(name)]
            if t
            for user in (*t.reviewers, *t.leads)
        ),
    }
    kinds = [q.notification.kind for q in uow_factory.store.outbox.values()]
    homes = {k for k, q in uow_factory.store.outbox.items() if q.notification.kind == "home"}
    assert kinds.count(notifications.NoticeKind.CARD) == 3
    assert homes == {f"home:{user}:{window}" for user in people}
    assert len(people) >= 3


async def test_a_new_digest_item_enqueues_no_card_until_someone_must_look_at_it(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    # The relay never posts a digest item's card and a new item has none to update, so
    # ingest enqueues none (it was rendered and skipped, once per digest item).
    await ingest(
        usecases, clock, make_facts(external_id="digest"), make_facts(external_id="big", amount=BIG)
    )
    assert [uow_factory.item(n).route for n in (1, 2)] == [Route.DIGEST, Route.IMMEDIATE]

    def cards() -> dict[int | None, list[bool]]:
        found: dict[int | None, list[bool]] = {}
        for queued in uow_factory.store.outbox.values():
            if queued.notification.kind is notifications.NoticeKind.CARD:
                notice = queued.notification
                assert isinstance(notice.payload, CardUpdate)
                found.setdefault(notice.item_id, []).append(notice.payload.post_if_missing)
        return found

    assert cards() == {2: [True]}
    await usecases.claims.claim(item_id=1, actor="U0ALICE", now=clock.now())  # now card-worthy
    assert cards() == {1: [True], 2: [True]}


async def test_rows_prepared_elsewhere_ingest_exactly_like_raw_rows(
    loaded_policy: LoadedPolicy, clock: FixedClock
) -> None:
    # A parsing process may hash and route rows ahead (routing.prepare); the store must
    # end up the same as when ingest does it, and a decision made under another policy
    # version must be routed again, not trusted.
    facts = [
        make_facts(external_id="A"),
        make_facts(external_id="B", amount=BIG),
        make_facts(external_id="C", kind=ItemKind.MATCH, score=97),
        make_facts(external_id="D", entity="ACME-DE", currency="EUR"),
    ]
    stricter = make_policy(routing={"materiality": "1.00"})
    raw, prepared, stale = (
        InMemoryUnitOfWorkFactory(),
        InMemoryUnitOfWorkFactory(),
        (InMemoryUnitOfWorkFactory()),
    )
    for factory, batch in (
        (raw, rows(*facts)),
        (prepared, [prepare(r, loaded_policy) for r in rows(*facts)]),
        (stale, [prepare(r, stricter) for r in rows(*facts)]),
    ):
        usecases = UseCases.over(uow=factory, policy=lambda: loaded_policy)
        await usecases.intake.ingest(batch, now=clock.now())

    assert snapshot(prepared) == snapshot(raw)
    assert snapshot(stale) == snapshot(raw)

    def ready_records(factory: InMemoryUnitOfWorkFactory) -> list[bool]:
        ingested = [e for e in factory.store.audit if e.event == "item.ingested"]
        return [isinstance(e.data, CanonicalData) for e in ingested]

    # The prepared rows' records were spliced in as made; the stale ones were redone.
    assert ready_records(prepared) == [True] * 4
    assert ready_records(stale) == ready_records(raw) == [False] * 4
    assert {i.route for i in raw.items} == {Route.DIGEST, Route.IMMEDIATE, Route.AUTO_ACCEPTED}


async def test_identical_reingest_changes_nothing_even_when_older(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(usecases, clock, make_facts(aging_days=1))
    before = snapshot(uow_factory)
    clock.advance(timedelta(days=3))
    result = await ingest(usecases, clock, make_facts(aging_days=4))
    assert (result.inserted, result.unchanged, result.amended) == (0, 1, 0)
    assert result.changed_items == []
    assert snapshot(uow_factory) == before


async def test_changed_content_amends_and_voids_approvals(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    item = await add_item(usecases, uow_factory, clock, amount=BIG)
    waiting = await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert waiting.item.state is S.AWAITING_SECOND_APPROVAL

    clock.advance(timedelta(hours=1))
    result = await ingest(
        usecases, clock, make_facts(external_id=item.facts.external_id, amount="20000.01")
    )
    assert (result.amended, result.inserted, result.unchanged) == (1, 0, 0)
    amended = uow_factory.item(1)
    assert amended.state is S.PENDING
    assert amended.approvals == ()
    assert amended.version == waiting.item.version + 1
    assert amended.facts.amount == Decimal("20000.01")
    assert amended.sla_started_at == clock.now()
    assert amended.content_hash != item.content_hash
    event = uow_factory.audit_entries[-1]
    assert event.event == "item.amended"
    assert (event.from_state, event.to_state) == ("awaiting_second_approval", "pending")
    assert isinstance(event.data, dict)  # not pre-canonicalized
    assert event.data["changed_fields"] == ["amount"]
    assert event.data["voided_approvals"] == ["U0ALICE"]
    assert event.data["previous_content_hash"] == item.content_hash

    # The old approval is void: ALICE's next approval is a first one again.
    again = await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert again.item.state is S.AWAITING_SECOND_APPROVAL and not again.noop


async def test_amendments_of_a_batch_are_written_together_or_not_at_all(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await ingest(usecases, clock, *(make_facts(external_id=f"E{n}") for n in range(3)))
    before = snapshot(uow_factory)
    changed = [make_facts(external_id=f"E{n}", amount="130.00") for n in range(3)]

    async def someone_changed_r2(self: Any, changes: Any) -> list[int]:
        return [2]  # as the store reports an item whose version moved since it was read

    monkeypatch.setattr(InMemoryItemRepository, "update_many", someone_changed_r2)
    with pytest.raises(StaleItem, match="R-2 changed during ingest; run the ingest again"):
        await ingest(usecases, clock, *changed)
    assert snapshot(uow_factory) == before  # nothing of the batch was kept

    monkeypatch.undo()
    result = await ingest(usecases, clock, *changed)
    assert result.amended == 3
    assert [uow_factory.item(n).facts.amount for n in (1, 2, 3)] == [Decimal("130.00")] * 3


async def test_amending_a_disputed_item_keeps_the_dispute_and_voids_its_write_off_approvals(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    item = await add_item(usecases, uow_factory, clock, amount=BIG)
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.SUSPECTED_FRAUD,
        description="payee details changed twice",
    )
    first = await usecases.disputes.resolve_dispute(
        note="settled with the counterparty",
        item_id=1,
        actor="U0ALICE",
        now=clock.now(),
        outcome=DisputeOutcome.WRITTEN_OFF,
    )
    assert first.item.state is S.DISPUTED  # one of two write-off approvals
    disputed = uow_factory.item(1)

    clock.advance(timedelta(hours=1))
    # Amended to a small, clean match that would otherwise be auto-accepted and posted.
    result = await ingest(
        usecases,
        clock,
        make_facts(external_id=item.facts.external_id, kind=ItemKind.MATCH, score=99),
    )
    assert (result.amended, result.routes["auto_accepted"]) == (1, 0)
    amended = uow_factory.item(1)
    assert amended.state is S.DISPUTED and amended.route is Route.IMMEDIATE
    assert amended.dispute is not None
    assert amended.dispute.state is DisputeState.OPEN
    assert amended.dispute.write_off_approvals == ()
    assert (amended.assignee, amended.sla_started_at) == ("U0BOB", disputed.sla_started_at)
    assert "auto-accept withheld: the item is disputed" in amended.reasons
    assert uow_factory.journal_entries == []
    event = uow_factory.audit_entries[-1]
    assert (event.event, event.from_state, event.to_state) == (
        "item.amended",
        "disputed",
        "disputed",
    )
    assert isinstance(event.data, dict)  # not pre-canonicalized
    assert event.data["voided_write_off_approvals"] == ["U0ALICE"]
    assert event.data["dispute_state"] == "open"

    # ALICE's earlier write-off approval is void: hers counts again, now against the
    # amended amount (125.00 USD needs one approver), instead of being a repeat.
    again = await usecases.disputes.resolve_dispute(
        note="settled with the counterparty",
        item_id=1,
        actor="U0ALICE",
        now=clock.now(),
        outcome=DisputeOutcome.WRITTEN_OFF,
    )
    assert again.item.state is S.APPROVED and not again.noop  # approved, not yet posted


async def test_rejected_rows_are_counted_quarantined_and_the_run_is_audited(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    loaded_policy: LoadedPolicy,
) -> None:
    run_id = await usecases.intake.start_ingest(
        source="bank-feed", file_name="bank.csv", policy_text="the policy text", now=clock.now()
    )
    bad = RowError(line=3, field="amount", error="'x' is not a decimal number")
    result = await usecases.intake.ingest(
        rows(make_facts()), now=clock.now(), rejected=[(bad, "EXT-9,x")], run_id=run_id
    )
    assert (result.read, result.inserted, result.rejected) == (2, 1, 1)
    assert result.summary()["rejected_rows"] == [
        {"line": 3, "field": "amount", "error": "'x' is not a decimal number"}
    ]
    assert [(q.error, q.raw) for q in uow_factory.store.quarantine] == [(bad, "EXT-9,x")]
    await usecases.intake.finish_ingest(
        run_id=run_id, result=result, file_sha256="ab" * 32, file_name="bank.csv", now=clock.now()
    )
    run = uow_factory.store.runs[run_id]
    assert run.summary is not None and run.summary["inserted"] == 1
    assert uow_factory.store.policies == {loaded_policy.version: "the policy text"}
    done = uow_factory.audit_entries[-1]
    assert done.event == "ingest.completed"
    assert isinstance(done.data, dict)  # not pre-canonicalized
    assert done.data["run_id"] == run_id and done.data["rejected"] == 1
    assert "rejected_rows" not in done.data


async def test_duplicate_external_id_in_one_batch_amends_within_the_batch(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    result = await ingest(usecases, clock, make_facts(), make_facts(), make_facts(amount="130.00"))
    assert (result.inserted, result.unchanged, result.amended) == (1, 1, 1)
    [item] = uow_factory.items
    assert item.facts.amount == Decimal("130.00")


async def test_auto_accept_posts_one_balanced_entry_once(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = make_facts(kind=ItemKind.MATCH, score=95, amount="480.00", reference="INV-7")
    result = await ingest(usecases, clock, facts)
    assert result.routes["auto_accepted"] == 1
    item = uow_factory.item(1)
    assert item.state is S.APPROVED  # posted when the ledger accepts the entry
    assert (item.decided_by, item.ledger_ref) == ("system", None)
    [entry] = uow_factory.journal_entries
    assert entry.balanced
    assert entry.idempotency_key == "item-1-approval"
    assert lines_of(entry) == [
        ("recon-clearing:ACME-US", 48000, 0),
        ("suspense:ACME-US", 0, 48000),
    ]
    assert entry.memo == "R-1 approval by policy (INV-7)"
    assert uow_factory.audit_events(1) == [
        "item.ingested",
        "item.auto_accepted",
        "journal.created",
    ]
    created = uow_factory.audit_entries[-1]
    assert isinstance(created.data, dict)  # not pre-canonicalized
    assert created.data["idempotency_key"] == "item-1-approval"
    assert created.data["currency"] == "USD"
    assert created.data["ledger_ref"] == "JE-00000001-A"
    # The policy maps no accounts: the entry is held, and nothing is queued for the ledger.
    assert entry.hold == "no account mapping"
    assert not [n for n in uow_factory.notifications if n.kind is notifications.NoticeKind.LEDGER]

    again = await ingest(usecases, clock, facts)
    assert again.unchanged == 1
    assert len(uow_factory.journal_entries) == 1


async def test_a_material_high_scoring_match_waits_for_two_humans(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = make_facts(kind=ItemKind.MATCH, score=95, amount="50000.00", prepared_by="U0CAROL")
    result = await ingest(usecases, clock, facts)
    assert result.routes["auto_accepted"] == 0
    item = uow_factory.item(1)
    assert (item.state, item.route, item.required_approvals) == (S.PENDING, Route.IMMEDIATE, 2)
    assert uow_factory.journal_entries == []
    first = await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert first.item.state is S.AWAITING_SECOND_APPROVAL and first.journal_entry is None
    second = await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    assert second.item.state is S.APPROVED and second.journal_entry is not None


async def test_auto_approved_batch_posts_its_variance(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = make_facts(
        kind=ItemKind.BATCH,
        amount="100000.00",
        matched_value="100000.00",
        variance="-100.00",
        record_count=50,
    )
    await ingest(usecases, clock, facts)
    [entry] = uow_factory.journal_entries
    assert entry.balanced
    assert lines_of(entry) == [
        ("suspense:ACME-US", 10000, 0),
        ("recon-variance:ACME-US", 0, 10000),
    ]


# --- approve ------------------------------------------------------------------------------


async def test_single_approval_posts_exactly_one_entry(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    outcome = await usecases.decisions.approve(
        item_id=1, actor="U0BOB", now=clock.now(), note="ok", expected_version=1
    )
    assert outcome.item.state is S.APPROVED  # approved, not posted: the ledger decides
    assert outcome.journal_entry is not None and outcome.journal_entry.balanced
    assert outcome.item == uow_factory.item(1)
    assert uow_factory.journal_entries == [outcome.journal_entry]
    assert uow_factory.audit_events(1) == [
        "item.ingested",
        "item.approval_recorded",
        "item.approved",
        "journal.created",
    ]


async def test_dual_control_approve_awaits_second_then_posts_once(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount=BIG)
    first = await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert first.item.state is S.AWAITING_SECOND_APPROVAL
    assert first.journal_entry is None
    assert uow_factory.journal_entries == []

    second = await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    assert second.item.state is S.APPROVED
    [entry] = uow_factory.journal_entries
    assert entry == second.journal_entry
    assert entry.memo.startswith("R-1 approval by U0ALICE, U0BOB")
    assert [a.user for a in uow_factory.item(1).approvals] == ["U0ALICE", "U0BOB"]

    third = await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    assert third.noop
    with pytest.raises(IllegalTransition, match="R-1 is approved; it cannot be approved now"):
        await usecases.decisions.approve(item_id=1, actor="U0CAROL", now=clock.now())
    assert len(uow_factory.journal_entries) == 1


async def test_preparer_is_refused_and_nothing_changes(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, prepared_by="U0ALICE")
    before = snapshot(uow_factory)
    with pytest.raises(NotAuthorized, match="you prepared R-1"):
        await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert snapshot(uow_factory) == before


@pytest.mark.parametrize(
    ("actor", "message"),
    [
        # Outsiders learn nothing about the item, not even its team (finding 16.3).
        ("U0DAN", "^you cannot see R-1$"),
        ("U0LEAD2", "^you cannot see R-1$"),
        ("U0STRANGER", "^you cannot see R-1$"),
    ],
)
async def test_non_team_reviewer_is_refused(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    actor: str,
    message: str,
) -> None:
    await add_item(usecases, uow_factory, clock)
    before = snapshot(uow_factory)
    with pytest.raises(NotAuthorized, match=message):
        await usecases.decisions.approve(item_id=1, actor=actor, now=clock.now())
    with pytest.raises(NotAuthorized):
        await usecases.decisions.reject(
            item_id=1, actor=actor, now=clock.now(), reason="not our item here"
        )
    assert snapshot(uow_factory) == before


async def test_stale_expected_version_is_refused_and_nothing_changes(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    seen = await add_item(usecases, uow_factory, clock)
    await usecases.decisions.escalate(
        item_id=1, actor="U0CAROL", now=clock.now(), reason="needs a lead"
    )
    before = snapshot(uow_factory)
    with pytest.raises(StaleItem, match="R-1 changed since you opened it") as info:
        await usecases.decisions.approve(
            item_id=1, actor="U0LEAD", now=clock.now(), expected_version=seen.version
        )
    assert "nothing was changed" in str(info.value)
    assert snapshot(uow_factory) == before
    with pytest.raises(StaleItem):
        await usecases.decisions.reject(
            item_id=1,
            actor="U0LEAD",
            now=clock.now(),
            reason="wrong account code used",
            expected_version=seen.version,
        )
    assert snapshot(uow_factory) == before


async def test_double_approve_is_a_noop_without_audit(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    before = snapshot(uow_factory)
    repeat = await usecases.decisions.approve(
        item_id=1, actor="U0BOB", now=clock.now(), expected_version=1
    )
    assert repeat.noop and repeat.events == () and repeat.journal_entry is None
    assert snapshot(uow_factory) == before


async def test_simultaneous_double_click_still_posts_once(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    results = await asyncio.gather(
        usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now()),
        usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now()),
        return_exceptions=True,
    )
    assert any(not isinstance(r, BaseException) and not r.noop for r in results)
    for r in results:
        assert not isinstance(r, BaseException) or isinstance(r, StaleItem), r
    assert len(uow_factory.journal_entries) == 1
    assert uow_factory.audit_events(1).count("item.approved") == 1


async def test_two_approvers_at_once_one_wins_the_other_is_told_to_look_again(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount=BIG)
    results = await asyncio.gather(
        usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now()),
        usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now()),
        return_exceptions=True,
    )
    stale = [r for r in results if isinstance(r, StaleItem)]
    assert len(stale) == 1
    assert "nothing was changed" in str(stale[0])
    item = uow_factory.item(1)
    assert item.state is S.AWAITING_SECOND_APPROVAL and len(item.approvals) == 1
    assert uow_factory.journal_entries == []


async def test_claimed_item_belongs_to_its_assignee_but_a_lead_may_step_in(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.claims.claim(item_id=1, actor="U0CAROL", now=clock.now())
    with pytest.raises(NotAuthorized, match="R-1 is claimed by U0CAROL"):
        await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    outcome = await usecases.decisions.approve(item_id=1, actor="U0LEAD", now=clock.now())
    assert outcome.item.state is S.APPROVED


async def test_escalated_items_are_for_leads(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    escalated = await usecases.decisions.escalate(
        item_id=1, actor="U0BOB", now=clock.now(), reason="help"
    )
    assert escalated.item.state is S.ESCALATED
    repeat = await usecases.decisions.escalate(item_id=1, actor="U0BOB", now=clock.now())
    assert repeat.noop
    with pytest.raises(NotAuthorized, match="only its team's leads"):
        await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert (
        await usecases.decisions.approve(item_id=1, actor="U0LEAD", now=clock.now())
    ).item.state is (S.APPROVED)


async def test_reject_needs_a_reason_and_repeats_are_noops(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    before = snapshot(uow_factory)
    with pytest.raises(InvalidCommand, match="at least 3 words"):
        await usecases.decisions.reject(item_id=1, actor="U0BOB", now=clock.now(), reason="no")
    assert snapshot(uow_factory) == before
    done = await usecases.decisions.reject(
        item_id=1, actor="U0BOB", now=clock.now(), reason="duplicate of R-7 already cleared"
    )
    assert done.item.state is S.REJECTED
    count = len(uow_factory.audit_entries)
    assert (
        await usecases.decisions.reject(item_id=1, actor="U0BOB", now=clock.now(), reason="x")
    ).noop
    assert len(uow_factory.audit_entries) == count
    assert uow_factory.journal_entries == []


async def test_missing_item(usecases: UseCases, clock: FixedClock) -> None:
    # Only who sees every item learns that an id does not exist; a reviewer's write gets
    # the answer an item of another team would give, so writes cannot probe ids.
    with pytest.raises(ItemNotFound, match="there is no item R-99"):
        await usecases.decisions.approve(item_id=99, actor="U0AUDIT", now=clock.now())
    with pytest.raises(NotVisible, match=r"^you cannot see R-99$"):
        await usecases.decisions.approve(item_id=99, actor="U0BOB", now=clock.now())
    with pytest.raises(ItemNotFound):
        await usecases.queries.get(99)


async def test_a_write_on_another_teams_item_says_only_that_it_cannot_be_seen(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.decisions.escalate(item_id=1, actor="U0BOB", now=clock.now(), reason="help")
    before = snapshot(uow_factory)
    for write in (
        usecases.decisions.escalate(item_id=1, actor="U0DAN", now=clock.now()),
        usecases.decisions.approve(item_id=1, actor="U0DAN", now=clock.now()),
        usecases.claims.claim(item_id=1, actor="U0DAN", now=clock.now()),
    ):
        with pytest.raises(NotVisible, match=r"^you cannot see R-1$"):
            await write
    assert snapshot(uow_factory) == before


# --- claims -------------------------------------------------------------------------------


async def test_claim_next_takes_the_highest_priority_first(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(
        usecases,
        clock,
        make_facts(external_id="small", amount="10.00"),
        make_facts(external_id="big", amount="9000.00"),
        make_facts(external_id="mid", amount="900.00"),
    )
    outcome = await usecases.claims.claim_next(actor="U0ALICE", now=clock.now())
    assert outcome.item.facts.external_id == "big"
    assert outcome.item.state is S.ASSIGNED
    assert outcome.item.assignee == "U0ALICE"
    assert outcome.item.claim_expires_at == clock.now() + timedelta(hours=4)
    assert uow_factory.audit_entries[-1].event == "item.claimed"


async def test_two_concurrent_claims_get_different_items(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(
        usecases, clock, make_facts(external_id="A"), make_facts(external_id="B", amount="300.00")
    )
    first, second = await asyncio.gather(
        usecases.claims.claim_next(actor="U0ALICE", now=clock.now()),
        usecases.claims.claim_next(actor="U0BOB", now=clock.now()),
    )
    assert {first.item.id, second.item.id} == {1, 2}
    assert {uow_factory.item(1).assignee, uow_factory.item(2).assignee} == {"U0ALICE", "U0BOB"}
    assert uow_factory.audit_events().count("item.claimed") == 2


async def test_more_claimers_than_items_one_is_told_nothing_is_waiting(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(usecases, clock, make_facts(external_id="A"), make_facts(external_id="B"))
    results = await asyncio.gather(
        *(
            usecases.claims.claim_next(actor=u, now=clock.now())
            for u in ("U0ALICE", "U0BOB", "U0CAROL")
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(r, NothingToClaim) for r in results) == 1
    claimed = [r.item.id for r in results if not isinstance(r, BaseException)]
    assert len(claimed) == 2 and set(claimed) == {1, 2}


async def test_claim_next_skips_what_the_actor_prepared_and_other_teams(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(
        usecases,
        clock,
        make_facts(external_id="mine", amount="9000.00", prepared_by="U0ALICE"),
        make_facts(external_id="ap", amount="9000.00", entity="ACME-DE", currency="EUR"),
        make_facts(external_id="theirs", amount="10.00", prepared_by="U0BOB"),
    )
    outcome = await usecases.claims.claim_next(actor="U0ALICE", now=clock.now())
    assert outcome.item.facts.external_id == "theirs"
    with pytest.raises(NothingToClaim):
        await usecases.claims.claim_next(actor="U0ALICE", now=clock.now())
    assert (
        await usecases.claims.claim_next(actor="U0DAN", now=clock.now())
    ).item.facts.external_id == ("ap")
    with pytest.raises(NotAuthorized, match="not a reviewer or lead of any team"):
        await usecases.claims.claim_next(actor="U0AUDIT", now=clock.now())


async def test_claim_next_is_not_starved_by_the_actors_own_items(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    mine = [
        make_facts(external_id=f"mine-{n}", amount="9000.00", prepared_by="U0ALICE")
        for n in range(CLAIM_CANDIDATES)
    ]
    await ingest(usecases, clock, *mine, make_facts(external_id="other", amount="1.00"))
    outcome = await usecases.claims.claim_next(actor="U0ALICE", now=clock.now())
    assert outcome.item.facts.external_id == "other"


async def test_claim_by_id_release_and_assign(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.claims.claim(item_id=1, actor="U0BOB", now=clock.now())
    assert (await usecases.claims.claim(item_id=1, actor="U0BOB", now=clock.now())).noop
    with pytest.raises(IllegalTransition, match="R-1 is assigned"):
        await usecases.claims.claim(item_id=1, actor="U0CAROL", now=clock.now())
    with pytest.raises(NotAuthorized, match="claimed by U0BOB"):
        await usecases.claims.release(item_id=1, actor="U0CAROL", now=clock.now())
    released = await usecases.claims.release(item_id=1, actor="U0BOB", now=clock.now())
    assert released.item.state is S.PENDING and released.item.assignee is None

    with pytest.raises(NotAuthorized, match="only team leads and compliance officers"):
        await usecases.claims.assign(item_id=1, actor="U0BOB", assignee="U0CAROL", now=clock.now())
    with pytest.raises(InvalidCommand, match="U0DAN is not a reviewer of treasury"):
        await usecases.claims.assign(item_id=1, actor="U0LEAD", assignee="U0DAN", now=clock.now())
    assigned = await usecases.claims.assign(
        item_id=1, actor="U0LEAD", assignee="U0CAROL", now=clock.now()
    )
    assert assigned.item.assignee == "U0CAROL"
    assert (
        await usecases.claims.assign(item_id=1, actor="U0LEAD", assignee="U0CAROL", now=clock.now())
    ).noop


async def test_releasing_an_unclaimed_item_says_so(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    with pytest.raises(DomainError) as info:
        await usecases.claims.release(item_id=1, actor="U0BOB", now=clock.now())
    assert "None" not in str(info.value)
    assert isinstance(info.value, IllegalTransition)


async def test_a_lead_releasing_an_unclaimed_item_is_told_it_is_not_claimed(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    with pytest.raises(IllegalTransition, match="R-1 is pending; it cannot be released now"):
        await usecases.claims.release(item_id=1, actor="U0LEAD", now=clock.now())


async def test_release_expired_claims(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(usecases, clock, make_facts(external_id="A"), make_facts(external_id="B"))
    await usecases.claims.claim(item_id=1, actor="U0ALICE", now=clock.now())
    clock.advance(timedelta(hours=1))
    await usecases.claims.claim(item_id=2, actor="U0BOB", now=clock.now())

    clock.advance(timedelta(hours=3))  # item 1's lease ends exactly now: not yet expired
    assert await usecases.claims.release_expired_claims(now=clock.now()) == []

    clock.advance(timedelta(seconds=1))
    released = await usecases.claims.release_expired_claims(now=clock.now())
    assert [i.id for i in released] == [1]
    item = uow_factory.item(1)
    assert (item.state, item.assignee, item.claim_expires_at) == (S.PENDING, None, None)
    event = uow_factory.audit_entries[-1]
    assert (event.event, event.actor) == ("item.released", "system")
    assert event.data == {"previous_assignee": "U0ALICE", "reason": "claim lease expired"}
    assert uow_factory.item(2).state is S.ASSIGNED

    clock.advance(timedelta(hours=2))
    assert [i.id for i in await usecases.claims.release_expired_claims(now=clock.now())] == [2]


async def test_expired_claim_of_an_escalated_item_goes_back_to_the_leads(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.decisions.escalate(item_id=1, actor="U0BOB", now=clock.now())
    await usecases.claims.claim(item_id=1, actor="U0LEAD", now=clock.now())
    released = await usecases.claims.release_expired_claims(now=clock.advance(timedelta(hours=5)))
    assert [i.state for i in released] == [S.ESCALATED]


# --- disputes -----------------------------------------------------------------------------


async def test_dispute_open_update_resolve_then_normal_approval(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    with pytest.raises(NotAuthorized):
        await usecases.disputes.open_dispute(
            item_id=1,
            actor="U0DAN",
            now=clock.now(),
            category=DisputeCategory.TIMING,
            description="payment arrives next week",
        )
    opened = await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="counterparty paid 5 less",
        evidence_links=["https://files.example/remit.pdf"],
        expected_version=1,
    )
    assert opened.item.state is S.DISPUTED
    assert opened.item.dispute is not None
    assert opened.item.dispute.evidence_links == ("https://files.example/remit.pdf",)

    waiting = await usecases.disputes.update_dispute(
        item_id=1, actor="U0BOB", now=clock.now(), state=DisputeState.AWAITING_COUNTERPARTY
    )
    assert dispute_state(waiting.item) is DisputeState.AWAITING_COUNTERPARTY
    assert (
        await usecases.disputes.update_dispute(
            item_id=1, actor="U0BOB", now=clock.now(), state=DisputeState.AWAITING_COUNTERPARTY
        )
    ).noop

    resolved = await usecases.disputes.resolve_dispute(
        note="settled with the counterparty",
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        outcome=DisputeOutcome.MATCHED,
    )
    assert resolved.item.state is S.PENDING
    assert resolved.journal_entry is None
    assert uow_factory.journal_entries == []
    assert uow_factory.audit_events(1)[-3:] == [
        "dispute.opened",
        "dispute.updated",
        "dispute.resolved",
    ]
    approved = await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert approved.item.state is S.APPROVED
    assert [e.idempotency_key for e in uow_factory.journal_entries] == ["item-1-approval"]


async def test_write_off_above_the_dual_control_limit_needs_two_approvers(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount=BIG, prepared_by="U0CAROL")
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.OTHER,
        description="customer went bankrupt",
    )

    async def write_off(actor: str) -> Any:
        return await usecases.disputes.resolve_dispute(
            item_id=1,
            actor=actor,
            now=clock.now(),
            outcome=DisputeOutcome.WRITTEN_OFF,
            note="uncollectable after three reminders",
        )

    with pytest.raises(NotAuthorized, match="maker-checker"):
        await write_off("U0CAROL")
    with pytest.raises(NotAuthorized):
        await write_off("U0DAN")
    first = await write_off("U0ALICE")
    assert first.item.state is S.DISPUTED and first.journal_entry is None
    before = snapshot(uow_factory)
    assert (await write_off("U0ALICE")).noop
    assert snapshot(uow_factory) == before

    second = await write_off("U0BOB")
    assert second.item.state is S.APPROVED
    assert second.item.dispute is not None
    assert second.item.dispute.outcome is DisputeOutcome.WRITTEN_OFF
    [entry] = uow_factory.journal_entries
    assert entry is second.journal_entry or entry == second.journal_entry
    assert entry.idempotency_key == "item-1-write_off"
    assert entry.ledger_ref == "JE-00000001-W"
    assert entry.balanced
    assert entry.lines[0].account == "write-off-expense:ACME-US"
    assert entry.lines[0].debit_minor == 2000000
    assert uow_factory.audit_events(1)[-4:] == [
        "dispute.write_off_approval",
        "dispute.write_off_approval",
        "dispute.resolved",
        "journal.created",
    ]


async def test_the_last_write_off_approver_repeating_after_posting_is_a_noop(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.OTHER,
        description="customer will never pay",
    )

    async def write_off() -> Any:
        return await usecases.disputes.resolve_dispute(
            note="settled with the counterparty",
            item_id=1,
            actor="U0ALICE",
            now=clock.now(),
            outcome=DisputeOutcome.WRITTEN_OFF,
        )

    assert (await write_off()).item.state is S.APPROVED
    before = snapshot(uow_factory)
    again = await write_off()
    assert again.noop and again.item.state is S.APPROVED
    assert snapshot(uow_factory) == before
    assert len(uow_factory.journal_entries) == 1


async def test_small_write_off_needs_one_approver_and_posts_the_adjustment(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount=BIG)
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="short paid by fifty",
        proposed_adjustment=Decimal("-50.00"),
    )
    done = await usecases.disputes.resolve_dispute(
        note="settled with the counterparty",
        item_id=1,
        actor="U0ALICE",
        now=clock.now(),
        outcome=DisputeOutcome.WRITTEN_OFF,
    )
    assert done.item.state is S.APPROVED
    [entry] = uow_factory.journal_entries
    assert lines_of(entry) == [
        ("suspense:ACME-US", 5000, 0),
        ("write-off-expense:ACME-US", 0, 5000),
    ]


async def test_write_off_without_a_rate_needs_two_approvers(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, currency="CHF", amount="1.00")
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.OTHER,
        description="tiny unknown difference",
    )
    first = await usecases.disputes.resolve_dispute(
        note="settled with the counterparty",
        item_id=1,
        actor="U0ALICE",
        now=clock.now(),
        outcome=DisputeOutcome.WRITTEN_OFF,
    )
    assert first.item.state is S.DISPUTED


async def test_write_off_and_approval_agree_on_dual_control_at_the_limit(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    # 1,492,537 JPY x 0.0067 = 9,999.9979 USD, which is 10,000.00 USD to the cent.
    item = await add_item(usecases, uow_factory, clock, currency="JPY", amount="1492537")
    assert item.required_approvals == 2
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        category=DisputeCategory.OTHER,
        description="customer will never pay",
    )
    first = await usecases.disputes.resolve_dispute(
        note="settled with the counterparty",
        item_id=1,
        actor="U0ALICE",
        now=clock.now(),
        outcome=DisputeOutcome.WRITTEN_OFF,
    )
    assert first.item.state is S.DISPUTED


# --- reads and policy reloads ------------------------------------------------------------


async def test_get_and_queue_use_read_only_units_of_work(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await ingest(
        usecases,
        clock,
        make_facts(external_id="A", amount="10.00"),
        make_facts(external_id="B", amount="5000.00"),
        make_facts(external_id="C", entity="ACME-DE", currency="EUR"),
    )
    opened = len(uow_factory.opened)
    assert (await usecases.queries.get(2)).facts.external_id == "B"
    queue = await usecases.queries.queue(viewer=OPERATOR, team="treasury")
    assert [i.facts.external_id for i in queue] == ["B", "A"]
    assert [
        i.id
        for i in await usecases.queries.queue(
            viewer=OPERATOR, states_=[S.PENDING], limit=1, offset=2
        )
    ] == [1]
    assert all(u.read_only for u in uow_factory.opened[opened:])


async def test_a_reloaded_policy_routes_new_items_and_keeps_old_versions(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    current = [make_policy()]
    usecases = UseCases.over(uow=uow_factory, policy=lambda: current[0])
    await ingest(usecases, clock, make_facts(external_id="A", amount="6000.00"))
    current[0] = make_policy(routing={"materiality": "5000.00"})
    await ingest(usecases, clock, make_facts(external_id="B", amount="6000.00"))
    a, b = uow_factory.items
    assert (a.route, b.route) == (Route.DIGEST, Route.IMMEDIATE)
    assert a.policy_version != b.policy_version == current[0].version
