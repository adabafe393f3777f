"""Property: whatever people do (auto assignment, claims, assignments by a lead, going
away and coming back, approvals), nobody approves an item they prepared and no one
gives both approvals of a dual-control item; the desk never hands an item to its
preparer or to someone who already approved it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.intake import IntakeRow
from domain.policy import LoadedPolicy
from domain.states import SYSTEM
from domain.usecases import UseCases
from tests.builders import T0, make_facts, make_policy, policy_data
from tests.fakes import InMemoryUnitOfWorkFactory

PEOPLE = ["U0ALICE", "U0BOB", "U0CAROL", "U0LEAD"]
USER = st.sampled_from(PEOPLE)


def _policy() -> LoadedPolicy:
    teams = policy_data()["teams"]
    teams[0] = {**teams[0], "assignment": "auto"}
    return make_policy(
        teams=teams,
        people=[{"id": u, "teams": ["treasury"], "capacity": 2} for u in PEOPLE[:3]],
    )


LOADED = _policy()

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("ingest"), USER, st.booleans()),
        st.tuples(st.just("approve"), USER, st.integers(1, 6)),
        st.tuples(st.just("claim"), USER, st.integers(1, 6)),
        st.tuples(st.just("assign"), USER, st.integers(1, 6)),
        st.tuples(st.just("away"), USER, USER),
        st.tuples(st.just("back"), USER, st.none()),
        st.tuples(st.just("sweep"), st.none(), st.none()),
    ),
    max_size=25,
)


async def _run(ops: list[tuple[str, object, object]]) -> InMemoryUnitOfWorkFactory:
    factory = InMemoryUnitOfWorkFactory()
    uc = UseCases.over(uow=factory, policy=lambda: LOADED)
    now = T0
    seq = 0
    for op, a, b in ops:
        now += timedelta(minutes=1)
        try:
            match op:
                case "ingest":
                    seq += 1
                    amount = "20000.00" if b else "12000.00"  # both over the dual-control limit
                    facts = make_facts(external_id=f"E{seq}", amount=amount, prepared_by=a)
                    await uc.intake.ingest([IntakeRow(line=seq, facts=facts)], now=now)
                case "approve":
                    await uc.decisions.approve(item_id=int(str(b)), actor=str(a), now=now)
                case "claim":
                    await uc.claims.claim(item_id=int(str(b)), actor=str(a), now=now)
                case "assign":
                    await uc.claims.assign(
                        item_id=int(str(b)), actor="U0LEAD", assignee=str(a), now=now
                    )
                case "away":
                    await uc.delegations.away(
                        actor=str(a),
                        delegate=str(b),
                        until=now + timedelta(hours=5),
                        note=None,
                        now=now,
                    )
                case "back":
                    await uc.delegations.back(actor=str(a), now=now)
                case _:
                    await uc.claims.assign_waiting(now=now)
        except DomainError:
            pass
    return factory


@settings(max_examples=150)
@given(ops=OPS)
# Bob prepared what Alice holds; Alice goes away to Bob (the handover must refuse).
@example(ops=[("ingest", "U0BOB", True), ("away", "U0ALICE", "U0BOB")])
# Bob is away to Alice; a lead assigns Bob the item Alice prepared.
@example(ops=[("away", "U0BOB", "U0ALICE"), ("ingest", "U0ALICE", True), ("assign", "U0BOB", 1)])
def test_no_path_lets_a_preparer_approve_or_one_person_approve_twice(
    ops: list[tuple[str, object, object]],
) -> None:
    factory = asyncio.run(_run(ops))
    for item in factory.items:
        approvers = [a.user for a in item.approvals]
        assert item.facts.prepared_by not in approvers, item
        assert len(approvers) == len(set(approvers)), item
    by_id = {i.id: i for i in factory.items}
    approved_so_far: dict[int, set[str]] = {}
    for entry in factory.store.audit:
        if entry.item_id is None or not isinstance(entry.data, dict):
            continue
        if entry.event == "item.approval_recorded":
            approved_so_far.setdefault(entry.item_id, set()).add(entry.actor)
        if entry.event == "item.assigned" and (entry.actor == SYSTEM or "delegation" in entry.data):
            assignee = entry.data["assignee"]
            assert assignee != by_id[entry.item_id].facts.prepared_by, entry
            assert assignee not in approved_so_far.get(entry.item_id, set()), entry
