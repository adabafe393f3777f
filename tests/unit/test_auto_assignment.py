"""Automatic assignment through the use cases (in-memory store): who gets each new
immediate item of an ``auto`` team, the audit of why, and the lead told once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.intake import IntakeRow
from domain.items import ItemFacts, ReviewState
from domain.policy import LoadedPolicy
from domain.templates import Assigned, Unassigned
from domain.usecases import UseCases
from tests.builders import make_facts, make_policy, policy_data
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory

BIG = "20000.00"  # immediate (above materiality)


def auto_policy(**people: Any) -> LoadedPolicy:
    teams = policy_data()["teams"]
    teams[0] = {**teams[0], "assignment": "auto"}
    return make_policy(
        teams=teams,
        people=[
            {"id": "U0ALICE", "teams": ["treasury"], "certification": 2, "capacity": 2},
            {"id": "U0BOB", "teams": ["treasury"], "certification": 1, "capacity": 3},
            {"id": "U0CAROL", "teams": ["treasury"], "certification": 2, "capacity": 1},
        ],
        assignment={"certification": [{"level": 2, "min_amount": "50000.00"}]},
        **people,
    )


def rows(*facts: ItemFacts) -> list[IntakeRow]:
    return [IntakeRow(line=i + 2, facts=f, raw=f.external_id) for i, f in enumerate(facts)]


@pytest.fixture
def loaded() -> LoadedPolicy:
    return auto_policy()


@pytest.fixture
def uc(uow_factory: InMemoryUnitOfWorkFactory, loaded: LoadedPolicy) -> UseCases:
    return UseCases.over(uow=uow_factory, policy=lambda: loaded)


async def test_new_immediate_items_are_assigned_by_load_then_id_and_audited(
    uc: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    facts = [make_facts(external_id=f"E{n}", amount=BIG) for n in range(3)]
    facts.append(make_facts(external_id="SMALL"))  # a digest item: left to the digest
    await uc.intake.ingest(rows(*facts), now=clock.now())
    by_ext = {i.facts.external_id: i for i in uow_factory.items}
    # Nobody has history: least loaded, then user id, one after the other.
    assert [by_ext[f"E{n}"].assignee for n in range(3)] == ["U0ALICE", "U0BOB", "U0CAROL"]
    assert all(by_ext[f"E{n}"].state is ReviewState.ASSIGNED for n in range(3))
    assert by_ext["SMALL"].assignee is None
    assigned = [e for e in uow_factory.store.audit if e.event == "item.assigned"]
    assert [e.data["reasons"] for e in assigned if isinstance(e.data, dict)] == [
        "certified 2, 0 of 2 open, no decisions yet",
        "certified 1, 0 of 3 open, no decisions yet",
        "certified 2, 0 of 1 open, no decisions yet",
    ]
    assert {e.actor for e in assigned} == {"system"}
    dms = [n for n in uow_factory.notifications if isinstance(n.payload, Assigned)]
    assert sorted(n.target for n in dms) == ["U0ALICE", "U0BOB", "U0CAROL"]


async def test_certification_and_the_preparer_are_respected(
    uc: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await uc.intake.ingest(
        rows(make_facts(external_id="HUGE", amount="60000.00", prepared_by="U0ALICE")),
        now=clock.now(),
    )
    (item,) = uow_factory.items
    assert item.assignee == "U0CAROL"  # level 2 needed: not Bob; Alice prepared it


async def test_accuracy_ranks_first_and_an_approval_voided_by_an_amendment_counts_against(
    uc: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await uc.intake.ingest(
        rows(*(make_facts(external_id=f"E{n}", amount=BIG) for n in range(3))), now=clock.now()
    )
    held = {i.assignee: i for i in uow_factory.items}
    alices, bobs, carols = (held[u].id for u in ("U0ALICE", "U0BOB", "U0CAROL"))
    assert alices and bobs and carols
    now = clock.now() + timedelta(minutes=5)
    # Alice gives the first of two approvals; the source data then changes: void.
    await uc.decisions.approve(item_id=alices, actor="U0ALICE", now=now)
    await uc.intake.ingest(rows(make_facts(external_id="E0", amount="20000.01")), now=now)
    reason = "the counterparty is wrong"
    await uc.decisions.reject(item_id=bobs, actor="U0BOB", reason=reason, now=now)
    await uc.decisions.reject(item_id=carols, actor="U0CAROL", reason=reason, now=now)
    async with uow_factory() as uow:
        accuracy = await uow.people.accuracy(
            ["U0ALICE", "U0BOB", "U0CAROL"], since=now - timedelta(days=1)
        )
        assert await uow.people.open_counts(["U0ALICE", "U0BOB", "U0CAROL"]) == {}
    assert {u: a.share for u, a in accuracy.items()} == {"U0ALICE": 0, "U0BOB": 1, "U0CAROL": 1}
    # Without accuracy Alice (first by id, nothing open) would win; Bob beats Carol by id.
    later = now + timedelta(minutes=1)
    await uc.intake.ingest(rows(make_facts(external_id="NEXT", amount=BIG)), now=later)
    nxt = next(i for i in uow_factory.items if i.facts.external_id == "NEXT")
    assert nxt.assignee == "U0BOB"
    # Outside the window, nothing counts.
    async with uow_factory() as uow:
        assert await uow.people.accuracy(["U0ALICE"], since=later) == {}


async def test_nobody_eligible_waits_unassigned_and_the_lead_is_told_once(
    uc: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    # Capacities 2 + 3 + 1 = 6: the seventh and eighth items find nobody.
    await uc.intake.ingest(
        rows(*(make_facts(external_id=f"E{n}", amount=BIG) for n in range(8))), now=clock.now()
    )
    waiting = [i for i in uow_factory.items if i.assignee is None]
    assert len(waiting) == 2
    assert all(i.state is ReviewState.PENDING for i in waiting)
    told = [n for n in uow_factory.notifications if isinstance(n.payload, Unassigned)]
    assert sorted((n.target, n.item_id) for n in told) == sorted(("U0LEAD", i.id) for i in waiting)
    assert "U0ALICE: at capacity (2 of 2 open)" in told[0].payload.reasons  # type: ignore[union-attr]
    # Ingesting the same rows again changes nothing and tells nobody twice.
    await uc.intake.ingest(
        rows(*(make_facts(external_id=f"E{n}", amount=BIG) for n in range(8))), now=clock.now()
    )
    again = [n for n in uow_factory.notifications if isinstance(n.payload, Unassigned)]
    assert len(again) == 2
    unassignable = [e for e in uow_factory.store.audit if e.event == "item.unassignable"]
    assert len(unassignable) == 2


async def test_a_pull_team_is_never_assigned_automatically(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    pulled = make_policy()
    uc = UseCases.over(uow=uow_factory, policy=lambda: pulled)
    await uc.intake.ingest(rows(make_facts(external_id="E", amount=BIG)), now=clock.now())
    (item,) = uow_factory.items
    assert item.assignee is None and item.state is ReviewState.PENDING


async def test_waiting_items_go_to_whoever_is_eligible_once_capacity_frees(
    uc: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await uc.intake.ingest(
        rows(*(make_facts(external_id=f"E{n}", amount=BIG) for n in range(7))), now=clock.now()
    )
    assert await uc.claims.assign_waiting(now=clock.now()) == []  # everyone is full
    carols = next(i for i in uow_factory.items if i.assignee == "U0CAROL")
    assert carols.id is not None
    later = clock.now() + timedelta(minutes=1)
    await uc.decisions.reject(
        item_id=carols.id, actor="U0CAROL", reason="the counterparty is wrong", now=later
    )
    (assigned,) = await uc.claims.assign_waiting(now=later)
    assert assigned.assignee == "U0CAROL"
    waiting = [i for i in uow_factory.items if i.state is ReviewState.PENDING]
    assert waiting == []


async def test_an_expired_lease_goes_to_the_next_eligible_reviewer_not_back(
    uc: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock, loaded: LoadedPolicy
) -> None:
    await uc.intake.ingest(rows(make_facts(external_id="E", amount=BIG)), now=clock.now())
    (item,) = uow_factory.items
    assert item.assignee == "U0ALICE"
    later = clock.now() + loaded.policy.sla.claim_ttl + timedelta(minutes=1)
    (released,) = await uc.claims.release_expired_claims(now=later)
    (now_held,) = uow_factory.items
    assert now_held.assignee == "U0BOB" and now_held.state is ReviewState.ASSIGNED
    assigned = [e for e in uow_factory.store.audit if e.event == "item.assigned"]
    assert [e.data["assignee"] for e in assigned if isinstance(e.data, dict)] == [
        "U0ALICE",
        "U0BOB",
    ]
    assert released.id == item.id
