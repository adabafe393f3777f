"""Corrective entries, pure: adjustments, write-offs per dispute and reversals.

Every builder here is a pure function of the item (and the entries it already has); the
use cases that store them are tested in ``test_corrective_usecases.py``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.items import (
    Dispute,
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    EntryKind,
    Item,
    ItemKind,
    JournalEntry,
    JournalLine,
    ReviewState,
)
from domain.journal import (
    NO_ACCOUNT_MAPPING,
    build_adjustment,
    build_entry,
    build_reversal,
    entry_seq,
    unreversed,
)
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import T0
from tests.unit.test_accounts import ACCOUNTS

S = ReviewState
ACCTS = make_policy(accounts=ACCOUNTS).policy.accounts


def resolved(
    outcome: DisputeOutcome, amount: str, *, number: int = 1, by: str = "U0LEAD"
) -> Dispute:
    return Dispute(
        state=DisputeState.RESOLVED,
        category=DisputeCategory.AMOUNT_MISMATCH,
        description="the bank charged a fee",
        opened_by="U0BOB",
        opened_at=T0,
        outcome=outcome,
        resolved_by=by,
        resolved_at=T0,
        number=number,
        resolution_amount=Decimal(amount),
    )


def adjusted_item(amount: str, *, number: int = 1, reference: str | None = "INV-7") -> Item:
    return make_item(
        state=S.PENDING,
        facts=make_facts(reference=reference),
        dispute=resolved(DisputeOutcome.ADJUSTED, amount, number=number),
    )


def lines_of(entry: JournalEntry) -> list[tuple[str, int, int]]:
    return [(ln.account, ln.debit_minor, ln.credit_minor) for ln in entry.lines]


# --- adjustments -------------------------------------------------------------------------


def test_a_positive_adjustment_debits_the_adjustment_account_against_suspense() -> None:
    entry = build_adjustment(adjusted_item("12.34"), now=T0, accounts=ACCTS)
    assert entry.balanced
    assert lines_of(entry) == [("6810", 1234, 0), ("1999", 0, 1234)]
    assert (entry.kind, entry.dispute_id, entry.reverses, entry.hold) == (
        EntryKind.ADJUSTMENT,
        "D-1-1",
        None,
        None,
    )
    assert (entry.idempotency_key, entry.ledger_ref) == ("item-1-adjustment-1", "JE-00000001-J1")
    assert entry.memo == "R-1 adjustment of dispute D-1-1 on R-1 by U0LEAD (INV-7)"
    assert (entry.item_id, entry.currency, entry.entity, entry.created_at) == (
        1,
        "USD",
        "ACME-US",
        T0,
    )


def test_a_negative_adjustment_credits_the_adjustment_account() -> None:
    entry = build_adjustment(adjusted_item("-0.05"), now=T0, accounts=ACCTS)
    assert entry.balanced
    assert lines_of(entry) == [("1999", 5, 0), ("6810", 0, 5)]


def test_an_adjustment_key_names_its_dispute_and_entity_overrides_apply() -> None:
    item = dataclasses.replace(
        adjusted_item("3.00", number=3),
        facts=make_facts(entity="ACME-DE", currency="EUR"),
    )
    entry = build_adjustment(item, now=T0, accounts=ACCTS)
    assert (entry.idempotency_key, entry.ledger_ref, entry.dispute_id) == (
        "item-1-adjustment-3",
        "JE-00000001-J3",
        "D-1-3",
    )
    # ACME-DE overrides suspense only; the adjustment account comes from the default.
    assert lines_of(entry) == [("6810", 300, 0), ("DE-1999", 0, 300)]


def test_an_adjustment_without_a_mapping_is_held_on_placeholders() -> None:
    entry = build_adjustment(adjusted_item("1.00"), now=T0, accounts=None)
    assert entry.hold == NO_ACCOUNT_MAPPING
    assert {ln.account for ln in entry.lines} == {"recon-adjustment:ACME-US", "suspense:ACME-US"}


@pytest.mark.parametrize(
    "dispute",
    [
        None,
        resolved(DisputeOutcome.MATCHED, "1.00"),
        dataclasses.replace(resolved(DisputeOutcome.ADJUSTED, "1.00"), resolution_amount=None),
    ],
)
def test_only_an_adjusted_dispute_makes_an_adjustment(dispute: Dispute | None) -> None:
    with pytest.raises(ValueError, match="adjusted"):
        build_adjustment(make_item(dispute=dispute), now=T0, accounts=ACCTS)


# --- write-offs -------------------------------------------------------------------------


def written_off(number: int, amount: str = "40.00") -> Item:
    return make_item(
        state=S.APPROVED,
        approvers=["U0ALICE", "U0LEAD"],
        dispute=resolved(DisputeOutcome.WRITTEN_OFF, amount, number=number),
    )


def test_the_first_disputes_write_off_keeps_its_key_and_names_the_dispute() -> None:
    entry = build_entry(written_off(1), kind=EntryKind.WRITE_OFF, now=T0, accounts=ACCTS)
    assert (entry.idempotency_key, entry.ledger_ref) == ("item-1-write_off", "JE-00000001-W")
    assert entry.dispute_id == "D-1-1"
    assert entry.memo == "R-1 write_off of dispute D-1-1 on R-1 by U0ALICE, U0LEAD (INV-2025-0042)"
    assert lines_of(entry) == [("6800", 4000, 0), ("1999", 0, 4000)]


def test_a_later_disputes_write_off_has_a_key_of_its_own() -> None:
    first = build_entry(written_off(1), kind=EntryKind.WRITE_OFF, now=T0, accounts=ACCTS)
    second = build_entry(written_off(2, "7.50"), kind=EntryKind.WRITE_OFF, now=T0, accounts=ACCTS)
    assert (second.idempotency_key, second.ledger_ref) == ("item-1-write_off-2", "JE-00000001-W2")
    assert second.idempotency_key != first.idempotency_key
    assert second.dispute_id == "D-1-2" and "D-1-2" in second.memo and "R-1" in second.memo
    assert lines_of(second) == [("6800", 750, 0), ("1999", 0, 750)]


# --- sequence numbers -------------------------------------------------------------------


def approval_entry(item: Item, prior: tuple[JournalEntry, ...] = ()) -> JournalEntry:
    return build_entry(item, kind=EntryKind.APPROVAL, now=T0, accounts=ACCTS, prior=prior)


def test_a_re_approval_after_a_reversal_gets_the_next_number() -> None:
    item = make_item(state=S.APPROVED, approvers=["U0ALICE"])
    first = approval_entry(item)
    assert (first.idempotency_key, first.ledger_ref) == ("item-1-approval", "JE-00000001-A")
    reversal = build_reversal(first, seq=1, now=T0, item=item)
    second = approval_entry(item, (first, reversal))
    assert (second.idempotency_key, second.ledger_ref) == ("item-1-approval-2", "JE-00000001-A2")
    third = approval_entry(item, (first, reversal, second))
    assert third.idempotency_key == "item-1-approval-3"
    # Other kinds do not count towards an approval's number.
    assert entry_seq(item, EntryKind.APPROVAL, (reversal,)) is None


def test_unreversed_leaves_out_reversals_and_what_they_reversed() -> None:
    item = make_item(state=S.APPROVED, approvers=["U0ALICE"])
    first = approval_entry(item)
    adjustment = build_adjustment(adjusted_item("2.00"), now=T0, accounts=ACCTS)
    reversal = build_reversal(first, seq=1, now=T0, item=item)
    second = approval_entry(item, (first, reversal))
    assert unreversed([first, adjustment]) == [first, adjustment]
    assert unreversed([first, adjustment, reversal, second]) == [adjustment, second]
    assert unreversed([]) == []


# --- reversals --------------------------------------------------------------------------


def test_a_reversal_mirrors_the_lines_and_links_the_original() -> None:
    posted = make_item(state=S.APPROVED, approvers=["U0ALICE"], facts=make_facts(amount="99.10"))
    original = approval_entry(posted)
    amended = dataclasses.replace(posted, state=S.PENDING, version=7)
    reversal = build_reversal(original, seq=2, now=T0, item=amended)
    assert reversal.balanced
    assert lines_of(original) == [("1190", 9910, 0), ("1999", 0, 9910)]
    assert lines_of(reversal) == [("1190", 0, 9910), ("1999", 9910, 0)]
    assert (reversal.kind, reversal.reverses) == (EntryKind.REVERSAL, "item-1-approval")
    assert (reversal.idempotency_key, reversal.ledger_ref) == (
        "item-1-reversal-2",
        "JE-00000001-V2",
    )
    assert reversal.memo == (
        "R-1 reversal of JE-00000001-A (approval): source data changed, item now version 7"
    )
    assert (reversal.entity, reversal.currency, reversal.hold) == ("ACME-US", "USD", None)


def test_a_reversal_keeps_the_dispute_and_the_hold_of_its_original() -> None:
    item = written_off(2)
    original = build_entry(item, kind=EntryKind.WRITE_OFF, now=T0, accounts=None)
    reversal = build_reversal(original, seq=1, now=T0, item=item)
    assert (reversal.dispute_id, reversal.hold) == ("D-1-2", NO_ACCOUNT_MAPPING)


def test_a_reversal_is_never_reversed_nor_made_for_another_item() -> None:
    item = make_item(state=S.APPROVED, approvers=["U0ALICE"])
    reversal = build_reversal(approval_entry(item), seq=1, now=T0, item=item)
    with pytest.raises(ValueError, match="never itself reversed"):
        build_reversal(reversal, seq=2, now=T0, item=item)
    with pytest.raises(ValueError, match="stored item"):
        build_reversal(approval_entry(item), seq=1, now=T0, item=make_item(id=2))


amounts = st.decimals(
    min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=2, allow_nan=False
)


@given(
    amount=amounts,
    kind=st.sampled_from([EntryKind.APPROVAL, EntryKind.WRITE_OFF]),
    item_kind=st.sampled_from([ItemKind.UNMATCHED, ItemKind.BATCH]),
    mapped=st.booleans(),
    seq=st.integers(min_value=1, max_value=50),
)
def test_a_reversal_exactly_cancels_its_original(
    amount: Decimal, kind: EntryKind, item_kind: ItemKind, mapped: bool, seq: int
) -> None:
    facts = make_facts(
        kind=item_kind,
        amount=amount,
        variance=amount if item_kind is ItemKind.BATCH else None,
        matched_value=Decimal("1") if item_kind is ItemKind.BATCH else None,
    )
    item = make_item(
        state=S.APPROVED,
        facts=facts,
        approvers=["U0ALICE"],
        dispute=resolved(DisputeOutcome.WRITTEN_OFF, str(amount)),
    )
    original = build_entry(item, kind=kind, now=T0, accounts=ACCTS if mapped else None)
    reversal = build_reversal(original, seq=seq, now=T0, item=item)
    assert original.balanced and reversal.balanced
    net: Counter[str] = Counter()
    for line in (*original.lines, *reversal.lines):
        net[line.account] += line.debit_minor - line.credit_minor
    assert set(net.values()) == {0}
    # Mirroring twice gives the original lines back: nothing is lost or rounded.
    assert [
        JournalLine(account=ln.account, debit_minor=ln.credit_minor, credit_minor=ln.debit_minor)
        for ln in reversal.lines
    ] == list(original.lines)
    assert unreversed([original, reversal]) == []
