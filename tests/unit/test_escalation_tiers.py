"""Escalation tiers beyond the ladder's two rungs: the ladder walks the whole graph (the
item stays escalated while its tier moves), the item records its tier, a tier's limits
are those of the tier the item sits in, and a tier's members from outside the item's
team see and act on it there (never on what they prepared)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from domain import sla, states
from domain.errors import NotAuthorized, NotVisible
from domain.escalation import in_current_tier, position, tier_of, walk
from domain.items import Item, ReviewState
from domain.notifications import home_users
from domain.permissions import Person, Role, check_can_act, check_can_see
from domain.policy import LoadedPolicy
from domain.sla import Rung
from domain.templates import NoticeKind, TierReached
from domain.usecases import UseCases
from tests.builders import T0, make_facts, make_item, make_policy
from tests.fakes import FixedClock, InMemoryUnitOfWorkFactory
from tests.unit.test_services import add_item

H = timedelta(hours=1)

#: Four tiers, three edges after the reminder: reviewers -> leads -> controllers -> cfo.
#: U0CTRL and U0CFO are in no team; U0LEAD is in two tiers with different caps.
LONG = {
    "tiers": [
        {"name": "reviewers", "role": "reviewer"},
        {"name": "leads", "role": "lead", "approve_up_to": "50000.00"},
        {
            "name": "controllers",
            "members": ["U0CTRL", "U0LEAD"],
            "approve_up_to": "200000.00",
            "write_off": False,
            "channel": "C0CTRL",
        },
        {"name": "cfo", "members": ["U0CFO"], "approve_up_to": "1000000.00", "channel": "C0CFO"},
    ],
    "edges": [
        {"from": "reviewers", "to": "leads", "after": "30h"},
        {"from": "leads", "to": "controllers", "after": "40h"},
        {"from": "controllers", "to": "cfo", "after": "50h"},
    ],
}


def long_policy(**more: Any) -> LoadedPolicy:
    return make_policy(escalation=LONG, **more)


def escalated(amount: str, tier: str | None, **more: Any) -> Item:
    return make_item(
        facts=make_facts(amount=amount, **more.pop("facts", {})),
        state=ReviewState.ESCALATED,
        ladder_level=2,
        escalation_tier=tier,
        **more,
    )


def test_the_ladder_walks_every_edge_and_only_the_last_dead_letters() -> None:
    policy = long_policy().policy
    fresh = make_item(facts=make_facts(amount="25000.00"))
    assert [e.target for e in walk(policy, fresh.facts)] == ["leads", "controllers", "cfo"]
    step = sla.due_step(fresh, policy, T0 + 30 * H)
    assert step is not None and step.edge is not None
    assert (step.rung, step.skipped, step.edge.target) == (Rung.ESCALATE, (Rung.REMIND,), "leads")

    at_leads = escalated("25000.00", "leads")
    assert position(policy, at_leads) == 1
    assert sla.next_deadline(at_leads, policy) == T0 + 40 * H
    assert sla.due_step(at_leads, policy, T0 + 40 * H - timedelta(seconds=1)) is None
    move = sla.due_step(at_leads, policy, T0 + 40 * H)
    assert move is not None and move.edge is not None
    assert (move.rung, move.edge.target) == (Rung.ESCALATE, "controllers")

    at_controllers = escalated("25000.00", "controllers")
    assert sla.next_deadline(at_controllers, policy) == T0 + 50 * H
    last = sla.due_step(at_controllers, policy, T0 + 50 * H)
    assert last is not None and last.edge is not None
    assert (last.rung, last.edge.target) == (Rung.DEAD_LETTER, "cfo")

    # A desk down for days takes only the furthest step; the rest are reported skipped.
    late = sla.due_step(fresh, policy, T0 + 100 * H)
    assert late is not None and late.edge is not None and late.edge.target == "cfo"
    assert (late.rung, late.skipped) == (
        Rung.DEAD_LETTER,
        (Rung.REMIND, Rung.ESCALATE, Rung.ESCALATE),
    )


def test_the_item_records_its_tier_else_it_is_derived() -> None:
    policy = long_policy().policy
    assert tier_of(policy, escalated("25000.00", "controllers")).name == "controllers"
    # Escalated by a person (no tier recorded): the first edge's tier.
    assert tier_of(policy, escalated("25000.00", None)).name == "leads"
    dead = make_item(facts=make_facts(amount="25000.00"), ladder_level=3)
    assert tier_of(policy, dead).name == "cfo"
    # A tier the policy no longer has: derived again.
    assert tier_of(policy, escalated("25000.00", "gone")).name == "leads"
    assert tier_of(policy, make_item()).name == "reviewers"


def test_a_tier_move_keeps_the_item_escalated_and_says_so() -> None:
    item = escalated("25000.00", "leads")
    moved = states.climb_ladder(
        item, rung=Rung.ESCALATE, skipped=(), reason="late", now=T0, tier="controllers"
    )
    assert moved.item.state is ReviewState.ESCALATED
    assert (moved.item.ladder_level, moved.item.escalation_tier) == (2, "controllers")
    [event] = moved.events
    assert event.name == "sla.tier_moved"
    assert event.data["tier"] == "controllers" and event.data["from_tier"] == "leads"
    dead = states.climb_ladder(
        moved.item, rung=Rung.DEAD_LETTER, skipped=(), reason="later", now=T0, tier="cfo"
    )
    assert dead.item.state is ReviewState.DEAD_LETTER
    assert dead.item.escalation_tier == "cfo" and dead.item.ladder_level == 3


def test_limits_come_from_the_tier_the_item_sits_in() -> None:
    policy = long_policy().policy
    # U0LEAD is in leads (up to 50,000) and in controllers (up to 200,000).
    with pytest.raises(NotAuthorized, match=r"approves up to 50000\.00 USD"):
        check_can_act(policy, escalated("60000.00", "leads"), "U0LEAD", "approve")
    check_can_act(policy, escalated("60000.00", "controllers"), "U0LEAD", "approve")
    with pytest.raises(NotAuthorized, match=r"approves up to 200000\.00 USD"):
        check_can_act(policy, escalated("250000.00", "controllers"), "U0LEAD", "approve")
    # Controllers may not write off, even someone whose other tier may.
    with pytest.raises(NotAuthorized, match="may not write off"):
        check_can_act(policy, escalated("60000.00", "controllers"), "U0LEAD", "write_off")
    check_can_act(policy, escalated("40000.00", "leads"), "U0LEAD", "write_off")


def test_tier_members_outside_the_team_see_and_act_on_items_in_their_tier() -> None:
    policy = long_policy().policy
    mine = escalated("150000.00", "controllers")
    assert in_current_tier(policy, mine, "U0CTRL")
    check_can_see(policy, mine, Person("U0CTRL"))
    assert check_can_act(policy, mine, "U0CTRL", "approve") == {Role.TIER}
    with pytest.raises(NotAuthorized, match=r"approves up to 200000\.00 USD"):
        check_can_act(policy, escalated("250000.00", "controllers"), "U0CTRL", "approve")
    # The same item in another tier: not theirs to see, let alone decide.
    elsewhere = escalated("150000.00", "leads")
    with pytest.raises(NotVisible, match="you cannot see"):
        check_can_see(policy, elsewhere, Person("U0CTRL"))
    with pytest.raises(NotVisible):
        check_can_act(policy, elsewhere, "U0CTRL", "approve")
    # Nor what they prepared: maker-checker still holds for a tier member.
    own = escalated("150000.00", "controllers", facts={"prepared_by": "U0CTRL"})
    check_can_act(policy, own, "U0CTRL", "approve")
    with pytest.raises(NotAuthorized, match="maker-checker"):
        states.approve(own, actor="U0CTRL", now=T0)


async def test_the_sweep_moves_the_item_through_every_tier_and_tells_each(
    uow_factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    loaded = long_policy()
    usecases = UseCases.over(uow=uow_factory, policy=lambda: loaded)
    item = await add_item(usecases, uow_factory, clock, amount="9000.00", risk_tier="high")
    assert item.id is not None and item.route.value == "immediate"

    for hours in (24, 30, 40, 50):
        await usecases.ladder.sla_sweep(now=T0 + hours * H)
        if hours == 40:
            moved = uow_factory.item(item.id)
            assert moved.state is ReviewState.ESCALATED and moved.escalation_tier == "controllers"
    final = uow_factory.item(item.id)
    assert final.state is ReviewState.DEAD_LETTER and final.escalation_tier == "cfo"

    events = [e.event for e in uow_factory.audit_entries if e.item_id == item.id]
    assert events[-3:] == ["item.escalated", "sla.tier_moved", "item.dead_lettered"]
    [move] = [e for e in uow_factory.audit_entries if e.event == "sla.tier_moved"]
    assert isinstance(move.data, dict)
    assert (move.data["from_tier"], move.data["tier"]) == ("leads", "controllers")
    told = {
        (q.notification.kind, q.notification.target, q.notification.payload.tier)
        for q in uow_factory.store.outbox.values()
        if isinstance(q.notification.payload, TierReached)
    }
    assert told == {
        (NoticeKind.ALERT, "C0CTRL", "controllers"),
        (NoticeKind.DM, "U0CTRL", "controllers"),
        (NoticeKind.DM, "U0LEAD", "controllers"),
        (NoticeKind.ALERT, "C0CFO", "cfo"),
    }
    # A second sweep later changes nothing: the walk has ended.
    assert (await usecases.ladder.sla_sweep(now=T0 + 500 * H)).total == 0

    # The CFO, in no team, approves the dead letter sitting in their tier.
    outcome = await usecases.decisions.approve(
        item_id=item.id, actor="U0CFO", now=T0 + 501 * H, note="checked with the bank"
    )
    assert outcome.item.state in (ReviewState.APPROVED, ReviewState.POSTED)


async def test_app_home_lists_what_sits_in_their_tier_for_members_from_outside_its_team(
    uow_factory: InMemoryUnitOfWorkFactory,
) -> None:
    loaded = long_policy()
    usecases = UseCases.over(uow=uow_factory, policy=lambda: loaded)
    controllers = escalated("150000.00", "controllers", id=1)
    from_ap = escalated("90000.00", "controllers", id=2, team="ap")
    with_the_leads = escalated("150000.00", "leads", id=3)
    decided = replace(escalated("150000.00", "controllers", id=4), state=ReviewState.APPROVED)
    waiting = make_item(id=5)  # in the first tier: the treasury reviewers'
    for item in (controllers, from_ap, with_the_leads, decided, waiting):
        assert item.id is not None
        uow_factory.store.items[item.id] = item

    # U0CTRL, in no team, acts on what sits with the controllers: their Home lists it.
    home = await usecases.queries.dashboard(user="U0CTRL", now=T0 + H)
    assert [i.id for i in home.in_my_tiers] == [1, 2]
    assert home.in_my_tiers_total == 2
    for item in home.in_my_tiers:
        assert check_can_act(loaded.policy, item, "U0CTRL") == {Role.TIER}
    # One page at a time, with the other lists.
    second = await usecases.queries.dashboard(user="U0CTRL", now=T0 + H, page=1, page_size=1)
    assert ([i.id for i in second.in_my_tiers], second.pages) == ([2], 2)
    # U0LEAD, a controller too, leads treasury: only the other team's item is new to them.
    lead = await usecases.queries.dashboard(user="U0LEAD", now=T0 + H)
    assert [i.id for i in lead.in_my_tiers] == [2]
    # In no tier beyond their team: nothing more.
    alice = await usecases.queries.dashboard(user="U0ALICE", now=T0 + H)
    assert (alice.in_my_tiers, alice.in_my_tiers_total) == ((), 0)


def test_a_tier_move_refreshes_the_homes_of_the_tiers_it_leaves_and_reaches() -> None:
    policy = long_policy().policy
    with_leads = escalated("150000.00", "leads")
    to_controllers = replace(with_leads, escalation_tier="controllers", version=2)
    moved = home_users(with_leads, to_controllers, [], policy)
    assert {"U0CTRL", "U0LEAD"} <= set(filter(None, moved))
    to_cfo = replace(to_controllers, escalation_tier="cfo", ladder_level=3, version=3)
    # U0CTRL's list loses it, U0CFO's gains it.
    assert {"U0CTRL", "U0CFO"} <= set(filter(None, home_users(to_controllers, to_cfo, [], policy)))
    # A decision by someone else drops it from every tier member's list.
    approved = replace(to_cfo, state=ReviewState.APPROVED, version=4)
    assert "U0CFO" in home_users(to_cfo, approved, [], policy)
    # Nothing moved: nobody beyond the usual people.
    assert "U0CTRL" not in home_users(to_controllers, to_controllers, [], policy)
