"""Refused decision attempts are audited: who tried what, and the sentence they were told.

Each refusal raised inside a decision's transaction leaves one ``decision.refused``
record, written in a transaction of its own after the refused one rolled back, and
nothing else. A repeat (a double click) is no refusal and leaves nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.audit.records import AuditEntry, record_body
from domain.errors import (
    DomainError,
    IllegalTransition,
    InvalidCommand,
    ItemNotFound,
    NotAuthorized,
    NotVisible,
    StaleItem,
)
from domain.items import DisputeOutcome, ReviewState
from domain.usecases import UseCases
from domain.usecases.transaction import REFUSED
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import BIG, add_item, snapshot


def refusals(factory: InMemoryUnitOfWorkFactory) -> list[AuditEntry]:
    return [e for e in factory.audit_entries if e.event == REFUSED]


def shape(entry: AuditEntry) -> dict[str, Any]:
    return {
        "actor": entry.actor,
        "item_id": entry.item_id,
        "item": entry.item,
        "from": entry.from_state,
        "to": entry.to_state,
        "data": entry.data,
    }


async def test_the_preparer_approving_their_own_item_is_recorded(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, prepared_by="U0ALICE")
    before = snapshot(uow_factory)
    with pytest.raises(NotAuthorized) as info:
        await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert snapshot(uow_factory) == before  # nothing but the refusal record
    [entry] = refusals(uow_factory)
    assert shape(entry) == {
        "actor": "U0ALICE",
        "item_id": 1,
        "item": "R-1",
        "from": None,
        "to": None,
        "data": {"action": "approve", "reason": str(info.value)},
    }
    assert str(info.value) == "you prepared R-1, so you cannot approve it (maker-checker)"
    assert entry.time == clock.now()
    record_body(entry, seq=1, prev="0" * 64)  # a record the log can store


async def test_the_same_approver_twice_is_recorded(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock, amount=BIG)
    first = await usecases.decisions.approve(item_id=1, actor="U0LEAD", now=clock.now())
    assert first.item.state is ReviewState.AWAITING_SECOND_APPROVAL
    await usecases.decisions.escalate(item_id=1, actor="U0BOB", now=clock.now(), reason="odd")
    assert [a.user for a in uow_factory.item(1).approvals] == ["U0LEAD"]
    with pytest.raises(NotAuthorized, match="you already approved R-1") as info:
        await usecases.decisions.approve(item_id=1, actor="U0LEAD", now=clock.now())
    [entry] = refusals(uow_factory)
    assert (entry.actor, entry.item_id, entry.from_state) == ("U0LEAD", 1, None)
    assert entry.data == {"action": "approve", "reason": str(info.value)}


async def test_a_stale_version_is_recorded(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    seen = await add_item(usecases, uow_factory, clock)
    await usecases.decisions.escalate(item_id=1, actor="U0CAROL", now=clock.now(), reason="hm")
    with pytest.raises(StaleItem) as info:
        await usecases.decisions.reject(
            item_id=1,
            actor="U0LEAD",
            now=clock.now(),
            reason="wrong account code used",
            expected_version=seen.version,
        )
    [entry] = refusals(uow_factory)
    assert entry.data == {"action": "reject", "reason": str(info.value)}
    assert "changed since you opened it" in str(info.value)


async def test_a_closed_item_is_recorded(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    with pytest.raises(IllegalTransition, match="R-1 is approved") as info:
        await usecases.decisions.approve(item_id=1, actor="U0CAROL", now=clock.now())
    [entry] = refusals(uow_factory)
    assert (entry.actor, entry.item_id, entry.from_state) == ("U0CAROL", 1, None)
    assert entry.data == {"action": "approve", "reason": str(info.value)}


async def test_not_allowed_for_the_team_is_recorded(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.decisions.escalate(item_id=1, actor="U0BOB", now=clock.now(), reason="help")
    with pytest.raises(NotAuthorized, match="only its team's leads") as info:
        await usecases.decisions.approve(item_id=1, actor="U0CAROL", now=clock.now())
    [entry] = refusals(uow_factory)
    assert entry.item_id == 1
    assert entry.data == {"action": "approve", "reason": str(info.value)}


async def test_an_item_one_may_not_see_is_recorded_without_it_exactly_as_a_missing_one(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    with pytest.raises(NotVisible):
        await usecases.decisions.approve(item_id=1, actor="U0DAN", now=clock.now())
    await add_item(usecases, uow_factory, clock)  # R-2 exists now, R-99 does not
    with pytest.raises(NotVisible):
        await usecases.decisions.approve(item_id=99, actor="U0DAN", now=clock.now())
    with pytest.raises(ItemNotFound):  # an officer is told; the record names no item either
        await usecases.decisions.approve(item_id=99, actor="U0AUDIT", now=clock.now())
    seen, missing, told = refusals(uow_factory)
    # The record of an item one may not see reads exactly like that of a missing one.
    assert {k: v for k, v in shape(seen).items() if k != "data"} == {
        k: v for k, v in shape(missing).items() if k != "data"
    }
    assert shape(seen)["item_id"] is None and shape(seen)["from"] is None
    assert seen.data == {"action": "approve", "reason": "you cannot see R-1"}
    assert missing.data == {"action": "approve", "reason": "you cannot see R-99"}
    assert told.data == {"action": "approve", "reason": "there is no item R-99"}
    assert told.item_id is None


async def test_a_double_click_is_no_refusal(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    again = await usecases.decisions.approve(item_id=1, actor="U0BOB", now=clock.now())
    assert again.noop
    assert refusals(uow_factory) == []


@pytest.mark.parametrize(
    ("call", "action"),
    [
        (lambda u, now: u.claims.claim(item_id=1, actor="U0DAN", now=now), "claim"),
        (lambda u, now: u.claims.release(item_id=1, actor="U0BOB", now=now), "release"),
        (lambda u, now: u.decisions.escalate(item_id=1, actor="U0DAN", now=now), "escalate"),
        (
            lambda u, now: u.disputes.resolve_dispute(
                item_id=1, actor="U0BOB", now=now, outcome=DisputeOutcome.MATCHED, note="n"
            ),
            "resolve_dispute",
        ),
    ],
)
async def test_every_decision_names_its_action(
    usecases: UseCases,
    uow_factory: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    call: Any,
    action: str,
) -> None:
    await add_item(usecases, uow_factory, clock)
    with pytest.raises(DomainError) as info:
        await call(usecases, clock.now())
    [entry] = refusals(uow_factory)
    assert entry.data == {"action": action, "reason": str(info.value)}


async def test_a_refusal_a_form_catches_before_the_transaction_is_recorded_too(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await add_item(usecases, uow_factory, clock)
    with pytest.raises(InvalidCommand):
        await usecases.decisions.reject(item_id=1, actor="U0BOB", now=clock.now(), reason="")
    [entry] = refusals(uow_factory)
    assert isinstance(entry.data, dict) and entry.data["action"] == "reject"


class _AuditDown:
    async def append(self, entries: Any) -> None:
        raise OSError("disk full")


class AuditDownFactory(InMemoryUnitOfWorkFactory):
    """Units of work whose audit log fails once ``down`` is set."""

    down = False

    def __call__(self, *, read_only: bool = False) -> Any:
        uow = super().__call__(read_only=read_only)
        if self.down:
            uow.audit = _AuditDown()
        return uow


async def test_a_refusal_the_log_cannot_take_still_reaches_the_person(
    clock: FixedClock, loaded_policy: Any
) -> None:
    factory = AuditDownFactory()
    usecases = UseCases.over(uow=factory, policy=lambda: loaded_policy)
    await add_item(usecases, factory, clock, prepared_by="U0ALICE")
    factory.down = True
    with pytest.raises(NotAuthorized, match="maker-checker") as info:
        await usecases.decisions.approve(item_id=1, actor="U0ALICE", now=clock.now())
    assert info.value.__notes__ == ["refusal not audited: OSError"]
    assert refusals(factory) == []
