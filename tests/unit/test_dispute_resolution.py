"""What a dispute's resolution settles: its amount, its note, its number, and the entry
fields that link a write-off to the dispute."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import states
from domain.errors import InvalidCommand
from domain.items import (
    Approval,
    Dispute,
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    EntryKind,
    Item,
    ReviewState,
    dispute_id,
)
from domain.journal import NO_ACCOUNT_MAPPING, build_entry, idempotency_key, ledger_ref
from domain.routing import write_off_approvers
from tests.builders import make_item, make_policy
from tests.fakes import T0

S = ReviewState


def disputed(**dispute: object) -> Item:
    values: dict[str, object] = {
        "state": DisputeState.OPEN,
        "category": DisputeCategory.AMOUNT_MISMATCH,
        "description": "counterparty says they paid less",
        "opened_by": "U0BOB",
        "opened_at": T0,
        **dispute,
    }
    return make_item(state=S.DISPUTED, dispute=Dispute(**values))  # type: ignore[arg-type]


def resolve(
    item: Item,
    outcome: DisputeOutcome,
    *,
    actor: str = "U0BOB",
    amount: Decimal | None = None,
    note: str | None = "agreed with the counterparty",
    required: int = 2,
) -> states.Transition:
    return states.resolve_dispute(
        item,
        actor=actor,
        now=T0,
        outcome=outcome,
        note=note,
        write_off_approvals_required=required,
        amount=amount,
    )


def test_an_adjusted_resolution_needs_its_amount_and_keeps_it() -> None:
    with pytest.raises(InvalidCommand, match="needs the adjustment amount"):
        resolve(disputed(), DisputeOutcome.ADJUSTED)
    done = resolve(disputed(), DisputeOutcome.ADJUSTED, amount=Decimal("-4.10")).item
    assert done.dispute is not None and done.dispute.resolution_amount == Decimal("-4.10")
    assert done.state is S.PENDING


@pytest.mark.parametrize("outcome", [DisputeOutcome.MATCHED, DisputeOutcome.WITHDRAWN])
def test_matched_and_withdrawn_take_no_amount(outcome: DisputeOutcome) -> None:
    with pytest.raises(InvalidCommand, match="takes no amount"):
        resolve(disputed(), outcome, amount=Decimal("1.00"))


def test_every_resolution_needs_a_note() -> None:
    with pytest.raises(InvalidCommand, match="resolution note"):
        resolve(disputed(), DisputeOutcome.MATCHED, note=None)
    with pytest.raises(InvalidCommand, match="resolution note"):
        resolve(disputed(), DisputeOutcome.WRITTEN_OFF, note="ok")


def test_the_first_write_off_sign_off_fixes_the_amount() -> None:
    first = resolve(disputed(), DisputeOutcome.WRITTEN_OFF, amount=Decimal("80.00")).item
    assert first.state is S.DISPUTED
    assert first.dispute is not None and first.dispute.resolution_amount == Decimal("80.00")
    with pytest.raises(InvalidCommand, match=r"awaiting sign-off is for 80\.00"):
        resolve(first, DisputeOutcome.WRITTEN_OFF, actor="U0LEAD", amount=Decimal("90.00"))
    second = resolve(first, DisputeOutcome.WRITTEN_OFF, actor="U0LEAD").item
    assert second.state is S.APPROVED
    assert second.dispute is not None and second.dispute.resolution_amount == Decimal("80.00")


def test_a_write_off_without_an_amount_takes_the_proposed_adjustment() -> None:
    item = disputed(proposed_adjustment=Decimal("12.00"))
    done = resolve(item, DisputeOutcome.WRITTEN_OFF, required=1).item
    assert done.dispute is not None and done.dispute.resolution_amount == Decimal("12.00")


def test_a_write_off_without_any_amount_takes_the_items_amount() -> None:
    item = disputed()
    first = resolve(item, DisputeOutcome.WRITTEN_OFF).item
    assert first.dispute is not None and first.dispute.resolution_amount == item.facts.amount
    (event,) = resolve(item, DisputeOutcome.WRITTEN_OFF).events
    assert event.data["amount"] == str(item.facts.amount)  # never "None"


def test_a_second_dispute_on_an_item_has_the_next_number() -> None:
    first = disputed()
    back = resolve(first, DisputeOutcome.MATCHED).item
    again = states.open_dispute(
        back,
        actor="U0BOB",
        now=T0,
        category=DisputeCategory.TIMING,
        description="the refund has not arrived yet",
    ).item
    assert first.dispute is not None and first.dispute.number == 1
    assert again.dispute is not None and again.dispute.number == 2
    assert dispute_id(again.id or 0, again.dispute.number) == "D-1-2"


def test_a_write_off_entry_names_its_dispute_and_an_unmapped_one_is_held() -> None:
    done = resolve(disputed(), DisputeOutcome.WRITTEN_OFF, amount=Decimal("5.00"), required=1)
    entry = build_entry(done.item, kind=EntryKind.WRITE_OFF, now=T0)
    assert (entry.kind, entry.entity, entry.dispute_id) == (
        EntryKind.WRITE_OFF,
        done.item.facts.entity,
        "D-1-1",
    )
    assert entry.hold == NO_ACCOUNT_MAPPING
    assert sum(line.debit_minor for line in entry.lines) == 500
    accounts = make_policy(
        accounts={
            "default": {
                "clearing": "1190",
                "suspense": "1999",
                "variance": "6990",
                "write_off": "6800",
                "adjustment": "6810",
                "fx_difference": "6920",
            }
        }
    ).policy.accounts
    mapped = build_entry(done.item, kind=EntryKind.WRITE_OFF, now=T0, accounts=accounts)
    assert mapped.hold is None
    assert {line.account for line in mapped.lines} == {"6800", "1999"}


def test_keys_and_references_name_the_kind_and_sequence() -> None:
    assert idempotency_key(42, EntryKind.APPROVAL) == "item-42-approval"
    assert idempotency_key(42, EntryKind.REVERSAL, 2) == "item-42-reversal-2"
    assert [ledger_ref(42, kind) for kind in EntryKind] == [
        "JE-00000042-A",
        "JE-00000042-W",
        "JE-00000042-J",
        "JE-00000042-V",
        "JE-00000042-M",
    ]
    assert ledger_ref(42, EntryKind.REVERSAL, 2) == "JE-00000042-V2"


def test_write_off_approvers_follow_the_amount_written_off() -> None:
    loaded = make_policy(dual_control={"amount": "10000.00"})
    small = disputed()
    assert small.facts.amount < Decimal("10000.00")
    assert write_off_approvers(small, loaded) == 1  # the item's amount
    assert write_off_approvers(small, loaded, amount=Decimal("10000.00")) == 2  # proposed now
    proposed = disputed(proposed_adjustment=Decimal("-12000.00"))
    assert write_off_approvers(proposed, loaded) == 2  # the dispute's proposal, by size
    sign_off = Approval(user="U0BOB", at=T0)
    fixed = disputed(write_off_approvals=(sign_off,), resolution_amount=Decimal("15000.00"))
    assert write_off_approvers(fixed, loaded, amount=Decimal("5.00")) == 2  # fixed wins
    # an amendment voids the sign-offs, and with them the amount they fixed
    voided = disputed(write_off_approvals=(), resolution_amount=Decimal("15000.00"))
    assert write_off_approvers(voided, loaded) == 1
