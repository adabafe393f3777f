"""Away and back through the use cases: handover, refusals, redirected assignments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.errors import InvalidCommand, NotAuthorized
from domain.intake import IntakeRow
from domain.items import ItemFacts, ReviewState
from domain.policy import LoadedPolicy
from domain.templates import Assigned, NoticeKind
from domain.usecases import UseCases
from domain.usecases.delegations import AWAY, BACK
from domain.usecases.transaction import REFUSED
from handlers.blocks.home import home_view
from handlers.command_line import Command, Usage, Verb, parse
from tests.builders import make_facts, make_policy
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory

BIG = "20000.00"


def rows(*facts: ItemFacts) -> list[IntakeRow]:
    return [IntakeRow(line=i + 2, facts=f, raw=f.external_id) for i, f in enumerate(facts)]


@pytest.fixture
def loaded_policy() -> LoadedPolicy:
    return make_policy(compliance={"auditors": ["U0EXT"]})


async def claimed_by(
    uc: UseCases, factory: InMemoryUnitOfWorkFactory, clock: FixedClock, user: str, **facts: object
) -> int:
    await uc.intake.ingest(rows(make_facts(**facts)), now=clock.now())
    (item,) = [i for i in factory.items if i.facts.external_id == facts["external_id"]]
    assert item.id is not None
    await uc.claims.claim(item_id=item.id, actor=user, now=clock.now())
    return item.id


async def test_going_away_hands_over_what_the_delegate_may_take_and_returns_the_rest(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    plain = await claimed_by(usecases, uow_factory, clock, "U0ALICE", external_id="P", amount=BIG)
    bobs_own = await claimed_by(
        usecases, uow_factory, clock, "U0ALICE", external_id="B", amount=BIG, prepared_by="U0BOB"
    )
    now = clock.now()
    handover = await usecases.delegations.away(
        actor="U0ALICE", delegate="U0BOB", until=now + timedelta(days=2), note="leave", now=now
    )
    assert [i.id for i in handover.handed] == [plain]
    assert [i.id for i in handover.returned] == [bobs_own]
    items = {i.id: i for i in uow_factory.items}
    assert items[plain].assignee == "U0BOB"
    assert items[bobs_own].assignee is None and items[bobs_own].state is ReviewState.PENDING
    events = [e.event for e in uow_factory.store.audit]
    assert AWAY in events
    assigned = [e for e in uow_factory.store.audit if e.event == "item.assigned"][-1]
    assert isinstance(assigned.data, dict) and "delegated" in assigned.data["delegation"]
    # A lead's assignment to Alice now reaches Bob; Bob's own item is refused.
    fresh = await claimed_by(usecases, uow_factory, clock, "U0CAROL", external_id="N", amount=BIG)
    outcome = await usecases.claims.assign(
        item_id=fresh, actor="U0LEAD", assignee="U0ALICE", now=now
    )
    assert outcome.item.assignee == "U0BOB"
    with pytest.raises(InvalidCommand, match="U0ALICE is away and their delegate U0BOB may not"):
        await usecases.claims.assign(item_id=bobs_own, actor="U0LEAD", assignee="U0ALICE", now=now)
    # Back: new work reaches Alice again; Bob keeps what he took.
    ended = await usecases.delegations.back(actor="U0ALICE", now=now + timedelta(hours=1))
    assert ended is not None and ended.delegate == "U0BOB"
    assert await usecases.delegations.away_now(now=now + timedelta(hours=1)) == []
    again = await usecases.claims.assign(
        item_id=bobs_own, actor="U0LEAD", assignee="U0ALICE", now=now + timedelta(hours=1)
    )
    assert again.item.assignee == "U0ALICE"
    assert BACK in [e.event for e in uow_factory.store.audit]
    assert await usecases.delegations.back(actor="U0ALICE", now=now) is None


async def test_refusals_are_audited_and_change_nothing(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    now = clock.now()
    later = now + timedelta(days=1)
    with pytest.raises(InvalidCommand, match="yourself"):
        await usecases.delegations.away(
            actor="U0ALICE", delegate="U0ALICE", until=later, note=None, now=now
        )
    with pytest.raises(InvalidCommand, match="U0DAN is not in your team"):
        await usecases.delegations.away(
            actor="U0ALICE", delegate="U0DAN", until=later, note=None, now=now
        )
    with pytest.raises(NotAuthorized, match="auditor"):
        await usecases.delegations.away(
            actor="U0EXT", delegate="U0BOB", until=later, note=None, now=now
        )
    refused = [e for e in uow_factory.store.audit if e.event == REFUSED]
    assert [e.data["action"] for e in refused if isinstance(e.data, dict)] == ["away"] * 3
    assert await usecases.delegations.away_now(now=now) == []


def test_away_and_back_parse_with_usage_for_mistakes() -> None:
    assert parse("away until 2026-12-24 delegate <@U0BOB|bob> skiing in the alps") == Command(
        verb=Verb.AWAY, until=date(2026, 12, 24), user="U0BOB", text="skiing in the alps"
    )
    assert parse("away until 2026-12-24 delegate @U0BOB") == Command(
        verb=Verb.AWAY, until=date(2026, 12, 24), user="U0BOB"
    )
    assert parse("back") == Command(verb=Verb.BACK)
    for bad, why in [
        ("away", "say until when"),
        ("away until tomorrow delegate @U0BOB", "`tomorrow` is not a date"),
        ("away until 2026-12-24 delegate bob", "mention the person"),
    ]:
        parsed = parse(bad)
        assert isinstance(parsed, Usage) and why in parsed.problem


async def test_app_home_shows_who_is_away_to_the_team_only(
    usecases: UseCases, loaded_policy: LoadedPolicy, clock: FixedClock
) -> None:
    now = clock.now()
    await usecases.delegations.away(
        actor="U0ALICE", delegate="U0BOB", until=now + timedelta(days=1), note=None, now=now
    )
    mate = await usecases.queries.dashboard(user="U0CAROL", now=now)
    other = await usecases.queries.dashboard(user="U0DAN", now=now)
    assert [(d.user, d.delegate) for d in mate.away] == [("U0ALICE", "U0BOB")]
    assert other.away == ()
    view = home_view(mate, policy=loaded_policy.policy, now=now)
    (block,) = [b for b in view.blocks if b.block_id == "home.away"]
    assert "<@U0ALICE> until" in str(block.to_dict()) and "→ <@U0BOB>" in str(block.to_dict())
    assert not [
        b
        for b in home_view(other, policy=loaded_policy.policy, now=now).blocks
        if b.block_id == "home.away"
    ]


async def test_items_awaiting_a_second_approval_are_offered_to_the_delegate_under_the_guards(
    usecases: UseCases, uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    now = clock.now()
    # Alice claimed and gave the first approval; the second is still to come.
    first_given = await claimed_by(
        usecases, uow_factory, clock, "U0ALICE", external_id="A", amount=BIG
    )
    await usecases.decisions.approve(item_id=first_given, actor="U0ALICE", now=now)
    # Alice holds it, the lead gave the first approval: Alice was to give the second.
    hers_to_give = await claimed_by(
        usecases, uow_factory, clock, "U0ALICE", external_id="L", amount=BIG
    )
    await usecases.decisions.approve(item_id=hers_to_give, actor="U0LEAD", now=now)
    # Bob prepared this one: it is never his to approve, so it stays with Alice.
    bobs_own = await claimed_by(
        usecases, uow_factory, clock, "U0ALICE", external_id="B", amount=BIG, prepared_by="U0BOB"
    )
    await usecases.decisions.approve(item_id=bobs_own, actor="U0ALICE", now=now)
    before = {i.id: i for i in uow_factory.items}
    assert {before[n].state for n in (first_given, hers_to_give, bobs_own)} == {
        ReviewState.AWAITING_SECOND_APPROVAL
    }

    handover = await usecases.delegations.away(
        actor="U0ALICE", delegate="U0BOB", until=now + timedelta(days=2), note=None, now=now
    )
    assert sorted(i.id or 0 for i in handover.handed) == sorted([first_given, hers_to_give])
    assert handover.returned == ()
    items = {i.id: i for i in uow_factory.items}
    for n in (first_given, hers_to_give):
        assert items[n].state is ReviewState.AWAITING_SECOND_APPROVAL
        assert items[n].assignee == "U0BOB"
    assert items[bobs_own] == before[bobs_own]  # untouched
    dms = {
        (q.notification.target, q.notification.item_id)
        for q in uow_factory.store.outbox.values()
        if q.notification.kind is NoticeKind.DM and isinstance(q.notification.payload, Assigned)
    }
    assert {("U0BOB", first_given), ("U0BOB", hers_to_give)} <= dms

    # Bob gives the second approvals; Alice's first one still counts, never twice.
    done = await usecases.decisions.approve(item_id=first_given, actor="U0BOB", now=now)
    assert done.item.state is ReviewState.APPROVED
    assert [a.user for a in done.item.approvals] == ["U0ALICE", "U0BOB"]
    with pytest.raises(NotAuthorized, match="maker-checker"):
        await usecases.decisions.approve(item_id=bobs_own, actor="U0BOB", now=now)
