"""Step-up confirmation (issue 14): approving a large item needs its amount retyped.

The threshold is in the reporting currency, compared with the item's reporting amount as
routing computes it. The approve use case itself refuses an approval without the
step-up, so no path skips it; a mismatch refuses; a match approves and its audit record
keeps ``step_up: true`` and what was typed. Dual control: each approver steps up.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.audit.records import AuditEntry
from domain.digest import needs_individual_review, plan_digest
from domain.errors import NotAuthorized, NotVisible, PolicyError
from domain.intake import IntakeRow
from domain.items import DisputeCategory, DisputeOutcome, ReviewState
from domain.policy import LoadedPolicy
from domain.step_up import (
    StepUp,
    StepUpMismatch,
    StepUpRequired,
    check_step_up,
    check_typed_amount,
    needs_step_up,
)
from domain.usecases import UseCases
from domain.usecases.transaction import REFUSED
from handlers import blocks
from handlers.ids import Field
from tests.builders import make_facts, make_item, make_policy
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import add_item, snapshot

#: Step-up at 5,000.00 USD: below materiality (10,000.00) and dual control (10,000.00).
STEP_UP = {"step_up": {"amount": "5000.00"}}


def data_of(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry's data as the use case wrote it (a dict, not pre-encoded)."""
    assert isinstance(entry.data, dict)
    return entry.data


@pytest.fixture
def loaded_policy() -> LoadedPolicy:
    return make_policy(**STEP_UP)


def test_no_step_up_without_the_policy_section() -> None:
    loaded = make_policy()
    assert loaded.policy.step_up is None
    item = make_item(facts=make_facts(amount=Decimal("9999999.00")))
    assert not needs_step_up(item, loaded)
    assert check_step_up(item, loaded, None) == {}


@pytest.mark.parametrize(
    ("amount", "currency", "needed"),
    [
        ("4999.99", "USD", False),
        ("5000.00", "USD", True),  # at the threshold
        ("-5000.00", "USD", True),  # a negative line is as large
        ("4629.62", "EUR", False),  # 4,999.99 USD at 1.08
        ("4629.63", "EUR", True),  # 5,000.0004 USD, 5,000.00 in reporting minor units
        ("10.00", "CHF", True),  # no rate: the desk cannot tell it is below
    ],
)
def test_the_threshold_is_the_reporting_amount(
    loaded_policy: LoadedPolicy, amount: str, currency: str, needed: bool
) -> None:
    item = make_item(facts=make_facts(amount=Decimal(amount), currency=currency))
    assert needs_step_up(item, loaded_policy) is needed


def test_a_step_up_must_be_positive() -> None:
    with pytest.raises(PolicyError) as info:
        make_policy(step_up={"amount": "0"})
    assert info.value.problems == ["step_up.amount: step_up amount must be positive"]


@pytest.mark.parametrize("typed", ["7500.00", "7500", "7,500.00", " 7500.0 ", "-7500.00"])
def test_the_amount_retyped_matches_in_any_plain_spelling(typed: str) -> None:
    item = make_item(facts=make_facts(amount=Decimal("7500.00")))
    check_typed_amount(item, typed)


@pytest.mark.parametrize("typed", ["7500.01", "750.00", "75000", "7.500,00", "seven", "", "1e4"])
def test_anything_else_is_a_mismatch(typed: str) -> None:
    item = make_item(facts=make_facts(amount=Decimal("7500.00")))
    with pytest.raises(StepUpMismatch):
        check_typed_amount(item, typed)


async def test_approving_without_the_step_up_is_refused_and_recorded(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount="7500.00", risk_tier="high")
    before = snapshot(uow_factory)
    with pytest.raises(StepUpRequired, match="needs its amount retyped"):
        await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    with pytest.raises(StepUpMismatch, match="not the amount of R-1"):
        await usecases.decisions.approve(
            item_id=1, actor="U0BOB", now=clock.now(), step_up=StepUp(typed="750.00")
        )
    assert snapshot(uow_factory) == before
    refused = [e for e in uow_factory.audit_entries if e.event == REFUSED]
    assert [(e.actor, data_of(e)["action"]) for e in refused] == [("U0BOB", "approve")] * 2
    assert "step_up" not in data_of(refused[0])


async def test_a_matching_step_up_approves_and_the_record_keeps_it(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount="7500.00", risk_tier="high")
    outcome = await usecases.decisions.approve(
        item_id=1, actor="U0BOB", now=clock.now(), step_up=StepUp(typed="7,500.00")
    )
    assert outcome.item.state is ReviewState.APPROVED
    [recorded] = [e for e in uow_factory.audit_entries if e.event == "item.approval_recorded"]
    assert data_of(recorded)["step_up"] is True
    assert data_of(recorded)["step_up_amount"] == "7,500.00"


async def test_a_small_item_needs_no_step_up(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount="4999.99", risk_tier="high")
    outcome = await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    assert outcome.item.state is ReviewState.APPROVED
    [recorded] = [e for e in uow_factory.audit_entries if e.event == "item.approval_recorded"]
    assert "step_up" not in data_of(recorded)
    assert (
        await usecases.decisions.step_up_needed(item_id=1, actor="U0BOB", now=clock.now()) is None
    )


async def test_each_approver_of_a_dual_control_item_steps_up(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount="20000.00", risk_tier="high")
    assert await usecases.decisions.step_up_needed(item_id=1, actor="U0BOB", now=clock.now())
    first = await usecases.decisions.approve(
        item_id=1, actor="U0BOB", now=clock.now(), step_up=StepUp(typed="20000.00")
    )
    assert first.item.state is ReviewState.AWAITING_SECOND_APPROVAL
    # The first approver's repeat is a plain no-op, no form.
    assert (
        await usecases.decisions.step_up_needed(item_id=1, actor="U0BOB", now=clock.now()) is None
    )
    second = await usecases.decisions.step_up_needed(item_id=1, actor="U0LEAD", now=clock.now())
    assert second is not None and second.state is ReviewState.AWAITING_SECOND_APPROVAL
    with pytest.raises(StepUpRequired):
        await usecases.decisions.approve(item_id=1, actor="U0LEAD", now=clock.now())
    done = await usecases.decisions.approve(
        item_id=1, actor="U0LEAD", now=clock.now(), step_up=StepUp(typed="20000")
    )
    assert done.item.state is ReviewState.APPROVED
    recorded = [e for e in uow_factory.audit_entries if e.event == "item.approval_recorded"]
    assert [(e.actor, data_of(e)["step_up_amount"]) for e in recorded] == [
        ("U0BOB", "20000.00"),
        ("U0LEAD", "20000"),
    ]


async def test_a_digest_never_bulk_approves_a_step_up_item(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    loaded = make_policy(step_up={"amount": "100.00"})
    small, large = (
        make_item(id=n, facts=make_facts(external_id=f"D{n}", amount=Decimal(a)))
        for n, a in ((1, "40.00"), (2, "150.00"))
    )
    assert not needs_individual_review(small, loaded)
    assert needs_individual_review(large, loaded)
    plan = plan_digest("treasury", "w1", [small, large], loaded)
    assert plan.apart == (2,)
    # Items digested under a policy without a step-up, approved under one with it.
    facts = [make_facts(external_id=f"E{n}", amount=Decimal("150.00")) for n in range(2)]
    await usecases.intake.ingest(
        [IntakeRow(line=n + 2, facts=f) for n, f in enumerate(facts)], now=clock.now()
    )
    no_step_up = make_policy()
    tightened = UseCases.over(uow=uow_factory, policy=lambda: no_step_up)
    assert await tightened.digests.digest_window(window="w1", now=clock.now())
    (cluster_id,) = uow_factory.store.clusters
    before = snapshot(uow_factory)
    strict = UseCases.over(uow=uow_factory, policy=lambda: loaded)
    with pytest.raises(StepUpRequired, match="review the group individually"):
        await strict.digests.decide_cluster(
            cluster_id=cluster_id, actor="U0BOB", now=clock.now(), approve=True
        )
    assert snapshot(uow_factory) == before


async def test_a_refusal_before_the_form_is_audited_once_as_an_approval(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    """The form's pre-check stands in for the approval: an outsider's or a preparer's
    click is recorded as that approval's refusal would be, once."""
    await add_item(
        usecases, uow_factory, clock, amount="7500.00", risk_tier="high", prepared_by="U0BOB"
    )
    decisions = usecases.decisions
    with pytest.raises(NotVisible):
        await decisions.step_up_needed(item_id=1, actor="U0DAN", now=clock.now())
    with pytest.raises(NotAuthorized, match="maker-checker"):
        await decisions.step_up_needed(item_id=1, actor="U0BOB", now=clock.now())
    refused = [e for e in uow_factory.audit_entries if e.event == REFUSED]
    assert [(e.actor, e.item_id, data_of(e)["action"]) for e in refused] == [
        ("U0DAN", None, "approve"),
        ("U0BOB", 1, "approve"),
    ]


async def _disputed(
    usecases: UseCases, factory: InMemoryUnitOfWorkFactory, clock: FixedClock, amount: str
) -> None:
    await add_item(usecases, factory, clock, amount=amount, risk_tier="high")
    await usecases.disputes.open_dispute(
        item_id=1,
        actor="U0ALICE",
        now=clock.now(),
        category=DisputeCategory.TIMING,
        description="the counterparty never paid it",
    )


async def test_a_large_write_off_sign_off_needs_the_written_off_amount_retyped(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await _disputed(usecases, uow_factory, clock, "20000.00")
    # Writing off 12,000.00 of it: above the 5,000.00 step-up (and dual control).
    needed = await usecases.disputes.write_off_step_up(
        item_id=1, actor="U0BOB", amount=Decimal("12000.00")
    )
    assert needed == Decimal("12000.00")
    before = snapshot(uow_factory)

    async def sign_off(actor: str, step_up: StepUp | None) -> Any:
        return await usecases.disputes.resolve_dispute(
            item_id=1,
            actor=actor,
            now=clock.now(),
            outcome=DisputeOutcome.WRITTEN_OFF,
            note="the counterparty is insolvent",
            amount=Decimal("12000.00"),
            step_up=step_up,
        )

    with pytest.raises(StepUpRequired, match="needs the amount retyped"):
        await sign_off("U0BOB", None)
    with pytest.raises(StepUpMismatch, match=r"not the amount written off \(12000\.00 USD\)"):
        await sign_off("U0BOB", StepUp(typed="20000.00"))  # the item's, not the write-off's
    assert snapshot(uow_factory) == before
    refused = [e for e in uow_factory.audit_entries if e.event == REFUSED]
    assert [data_of(e)["action"] for e in refused] == ["resolve_dispute"] * 2

    first = await sign_off("U0BOB", StepUp(typed="12,000.00"))
    dispute = first.item.dispute
    assert dispute is not None and len(dispute.write_off_approvals) == 1
    # The second signer steps up too, on the amount the first fixed.
    with pytest.raises(StepUpRequired):
        await sign_off("U0LEAD", None)
    done = await sign_off("U0LEAD", StepUp(typed="12000"))
    assert done.item.state in (ReviewState.APPROVED, ReviewState.POSTED)
    signed = [
        (e.actor, data_of(e)["step_up_amount"])
        for e in uow_factory.audit_entries
        if e.event != REFUSED and data_of(e).get("step_up") is True
    ]
    assert ("U0BOB", "12,000.00") in signed and ("U0LEAD", "12000") in signed


async def test_a_small_write_off_needs_no_step_up(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await _disputed(usecases, uow_factory, clock, "20000.00")
    assert (
        await usecases.disputes.write_off_step_up(
            item_id=1, actor="U0BOB", amount=Decimal("4999.99")
        )
        is None
    )
    outcome = await usecases.disputes.resolve_dispute(
        item_id=1,
        actor="U0BOB",
        now=clock.now(),
        outcome=DisputeOutcome.WRITTEN_OFF,
        note="a small rounding difference",
        amount=Decimal("4999.99"),
    )
    assert outcome.item.dispute is not None and outcome.item.dispute.write_off_approvals
    # The next signer's write-off is the amount the first sign-off fixed: no step-up.
    assert await usecases.disputes.write_off_step_up(item_id=1, actor="U0LEAD", amount=None) is None


async def test_a_write_off_of_the_whole_item_is_sized_by_its_amount(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await _disputed(usecases, uow_factory, clock, "20000.00")
    needed = await usecases.disputes.write_off_step_up(item_id=1, actor="U0BOB", amount=None)
    assert needed == Decimal("20000.00")
    with pytest.raises(StepUpRequired):
        await usecases.disputes.resolve_dispute(
            item_id=1,
            actor="U0BOB",
            now=clock.now(),
            outcome=DisputeOutcome.WRITTEN_OFF,
            note="the counterparty is insolvent",
        )


def test_the_resolve_form_asks_for_the_write_off_only_with_a_step_up() -> None:
    item = make_item(state=ReviewState.DISPUTED, id=7)

    def block_ids(loaded: LoadedPolicy) -> list[str]:
        view = blocks.resolve_modal(item, policy=loaded.policy).to_dict()
        return [str(b.get("block_id")) for b in view["blocks"]]

    assert Field.STEP_UP.value not in block_ids(make_policy())
    assert Field.STEP_UP.value in block_ids(make_policy(**STEP_UP))
