"""The policy's ledger accounts: defaults, entity and currency overrides, validation, and
the journal entries posted on them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.accounts import AccountRole
from domain.breaker import Breaker, BreakerState
from domain.errors import PolicyError
from domain.intake import IntakeRow
from domain.items import ItemKind, ReviewState
from domain.journal import EntryKind, build_entry
from domain.notifications import NoticeKind
from domain.templates import LedgerPost
from domain.usecases import UseCases
from domain.usecases.ledger import ClaimedRow, Recorded
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import T0, FixedClock, InMemoryUnitOfWorkFactory

DEFAULT = {
    "clearing": "1190",
    "suspense": "1999",
    "variance": "6990",
    "write_off": "6800",
    "adjustment": "6810",
    "fx_difference": "6920",
}
ACCOUNTS: dict[str, Any] = {
    "default": DEFAULT,
    "entities": {
        "ACME-DE": {"clearing": "DE-1190", "suspense": "DE-1999"},
        "ACME-SE": {"currencies": {"eur": {"clearing": "SE-1191"}}},
    },
}


def test_a_role_comes_from_the_currency_then_the_entity_then_the_default() -> None:
    accounts = make_policy(accounts=ACCOUNTS).policy.accounts
    assert accounts is not None
    assert accounts.account(AccountRole.CLEARING, entity="ACME-DE", currency="EUR") == "DE-1190"
    assert accounts.account(AccountRole.VARIANCE, entity="ACME-DE", currency="EUR") == "6990"
    assert accounts.account(AccountRole.CLEARING, entity="ACME-SE", currency="EUR") == "SE-1191"
    assert accounts.account(AccountRole.CLEARING, entity="ACME-SE", currency="SEK") == "1190"
    assert accounts.account(AccountRole.SUSPENSE, entity="ACME-SE", currency="EUR") == "1999"
    assert accounts.account(AccountRole.WRITE_OFF, entity="ACME-US", currency="USD") == "6800"


def test_a_policy_without_accounts_still_loads() -> None:
    assert make_policy().policy.accounts is None


@pytest.mark.parametrize(
    ("accounts", "field"),
    [
        ({"default": {**DEFAULT, "suspense": None}}, "accounts.default.suspense"),
        ({"default": {**DEFAULT, "clearing": "11 90"}}, "accounts.default.clearing"),
        ({"default": DEFAULT, "entities": {"ACME-DE": {"bank": "1"}}}, "accounts.entities"),
        (
            {"default": DEFAULT, "entities": {"ACME-DE": {"currencies": {"EURO": {}}}}},
            "accounts.entities.ACME-DE.currencies",
        ),
    ],
)
def test_bad_accounts_name_the_field(accounts: dict[str, Any], field: str) -> None:
    with pytest.raises(PolicyError) as info:
        make_policy(accounts=accounts)
    assert any(p.startswith(field) for p in info.value.problems), info.value.problems


def test_an_entry_posts_on_the_mapped_accounts_and_balances() -> None:
    accounts = make_policy(accounts=ACCOUNTS).policy.accounts
    item = make_item(
        state=ReviewState.APPROVED,
        facts=make_facts(entity="ACME-DE", currency="EUR", amount=Decimal("-250.00")),
    )
    entry = build_entry(item, kind=EntryKind.APPROVAL, now=T0, accounts=accounts)
    assert entry.balanced
    assert [(line.account, line.debit_minor, line.credit_minor) for line in entry.lines] == [
        ("DE-1999", 25000, 0),
        ("DE-1190", 0, 25000),
    ]


def test_a_batch_variance_and_a_write_off_take_their_own_roles() -> None:
    accounts = make_policy(accounts=ACCOUNTS).policy.accounts
    batch = make_item(
        state=ReviewState.APPROVED,
        facts=make_facts(
            kind=ItemKind.BATCH, variance=Decimal("12.50"), matched_value=Decimal("1")
        ),
    )
    variance = build_entry(batch, kind=EntryKind.APPROVAL, now=T0, accounts=accounts)
    assert {line.account for line in variance.lines} == {"6990", "1999"}
    write_off = build_entry(batch, kind=EntryKind.WRITE_OFF, now=T0, accounts=accounts)
    assert {line.account for line in write_off.lines} == {"6800", "1999"}


def test_without_a_mapping_entries_keep_their_placeholders() -> None:
    item = make_item(state=ReviewState.APPROVED)
    entry = build_entry(item, kind=EntryKind.APPROVAL, now=T0)
    entity = item.facts.entity
    assert {line.account for line in entry.lines} == {
        f"recon-clearing:{entity}",
        f"suspense:{entity}",
    }


async def test_an_approval_posts_its_entry_on_the_policys_accounts(clock: FixedClock) -> None:
    loaded = make_policy(accounts=ACCOUNTS)
    factory = InMemoryUnitOfWorkFactory()
    usecases = UseCases.over(uow=factory, policy=lambda: loaded)
    await usecases.intake.ingest(
        [IntakeRow(line=2, facts=make_facts(external_id="A", amount=Decimal("2500.00")))],
        now=clock.now(),
    )
    (item,) = factory.items
    outcome = await usecases.decisions.approve(
        item_id=item.id or 0, actor="U0ALICE", now=clock.now()
    )
    # Approved, not posted: the entry waits for the ledger, queued exactly once.
    assert outcome.item.state is ReviewState.APPROVED and outcome.journal_entry is not None
    entry = outcome.journal_entry
    assert {line.account for line in entry.lines} == {"1190", "1999"}
    assert entry.hold is None
    [queued] = [n for n in factory.notifications if n.kind is NoticeKind.LEDGER]
    assert queued.dedupe_key == "ledger:item-1-approval"
    assert queued.payload == LedgerPost(idempotency_key="item-1-approval")

    # The ledger's answer posts the item with the ledger's reference, once.
    row = ClaimedRow(id=1, attempts=1)
    later = clock.now() + timedelta(seconds=5)
    recorded = await usecases.ledger.delivered(
        row=row, idempotency_key=entry.idempotency_key, reference="GL-77", now=later
    )
    assert recorded is Recorded.DELIVERED
    posted = factory.item(item.id or 0)
    assert (posted.state, posted.ledger_ref) == (ReviewState.POSTED, "GL-77")
    [stored] = factory.journal_entries
    assert (stored.reference, stored.delivered_at) == ("GL-77", later)
    event = factory.audit_entries[-1]
    assert event.event == "item.posted" and isinstance(event.data, dict)
    assert event.data["reference"] == "GL-77" and event.data["entry"] == "JE-00000001-A"
    again = await usecases.ledger.delivered(
        row=row, idempotency_key=entry.idempotency_key, reference="GL-77", now=later
    )
    assert again is Recorded.ALREADY
    assert factory.audit_events(item.id).count("item.posted") == 1


async def test_held_entries_leave_on_the_accounts_a_reloaded_policy_brings(
    clock: FixedClock,
) -> None:
    without, with_accounts = make_policy(), make_policy(accounts=ACCOUNTS)
    current = [without]
    factory = InMemoryUnitOfWorkFactory()
    usecases = UseCases.over(uow=factory, policy=lambda: current[0])
    await usecases.intake.ingest(
        [IntakeRow(line=2, facts=make_facts(external_id="A", amount=Decimal("2500.00")))],
        now=clock.now(),
    )
    (item,) = factory.items
    await usecases.decisions.approve(item_id=item.id or 0, actor="U0ALICE", now=clock.now())
    (held,) = factory.journal_entries
    assert held.hold == "no account mapping"
    assert not [n for n in factory.notifications if n.kind is NoticeKind.LEDGER]
    # A reload that still maps no accounts changes nothing.
    await usecases.policy_events.policy_changed(
        old_version="v1", new_version="v2", text="x", now=clock.now()
    )
    assert factory.journal_entries == [held]

    current[0] = with_accounts
    await usecases.policy_events.policy_changed(
        old_version="v2", new_version="v3", text="y", now=clock.now()
    )
    (entry,) = factory.journal_entries
    assert entry.hold is None
    assert [line.account for line in entry.lines] == ["1190", "1999"]
    assert (entry.idempotency_key, entry.ledger_ref, entry.lines[0].debit_minor) == (
        held.idempotency_key,
        held.ledger_ref,
        held.lines[0].debit_minor,
    )
    [queued] = [n for n in factory.notifications if n.kind is NoticeKind.LEDGER]
    assert queued.dedupe_key == f"ledger:{held.idempotency_key}"
    released = factory.audit_entries[-1]
    assert released.event == "journal.released" and isinstance(released.data, dict)
    assert released.data["old_accounts"] == ["recon-clearing:ACME-US", "suspense:ACME-US"]
    assert released.data["new_accounts"] == ["1190", "1999"]
    # Once released, a further reload has nothing left to release.
    await usecases.policy_events.policy_changed(
        old_version="v3", new_version="v4", text="z", now=clock.now()
    )
    assert factory.audit_events(item.id).count("journal.released") == 1


async def test_decisions_taken_while_the_ledgers_breaker_is_open_say_so(
    clock: FixedClock,
) -> None:
    loaded = make_policy(accounts=ACCOUNTS)
    factory = InMemoryUnitOfWorkFactory()
    usecases = UseCases.over(uow=factory, policy=lambda: loaded)
    rows = [
        IntakeRow(line=n, facts=make_facts(external_id=f"F{n}", amount=Decimal("2500.00")))
        for n in (2, 3, 4)
    ]
    await usecases.intake.ingest(rows, now=clock.now())
    first, second, third = factory.items
    await usecases.decisions.approve(item_id=first.id or 0, actor="U0ALICE", now=clock.now())
    factory.store.breakers["ledger"] = Breaker(
        name="ledger", state=BreakerState.OPEN, failures=5, opened_at=T0, probe_at=T0
    )
    await usecases.decisions.approve(item_id=second.id or 0, actor="U0ALICE", now=clock.now())
    await usecases.decisions.reject(
        item_id=third.id or 0, actor="U0ALICE", now=clock.now(), reason="a duplicate of F2 here"
    )

    def fallback(item_id: int | None) -> list[str]:
        return [
            e.event
            for e in factory.audit_entries
            if e.item_id == item_id and isinstance(e.data, dict) and e.data.get("fallback_mode")
        ]

    assert fallback(first.id) == []
    assert fallback(second.id) == ["item.approval_recorded", "item.approved"]
    assert fallback(third.id) == ["item.rejected"]
    # The decision happened all the same: approved, its entry queued for later.
    assert factory.item(second.id or 0).state is ReviewState.APPROVED
    assert f"ledger:item-{second.id}-approval" in {n.dedupe_key for n in factory.notifications}
