"""A re-imported item whose source data changed: the amendment, worked out before
anything is written (pure), so a segment's amendments are written together."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from domain import states
from domain.intake import content_hash
from domain.items import Item, ItemFacts, JournalEntry, ReviewState, Route, RoutingDecision
from domain.policy import LoadedPolicy
from domain.routing import route_item, routing_data
from domain.usecases.posting import Move, accepted_with_entry


def routed_item(
    facts: ItemFacts,
    decision: RoutingDecision,
    now: datetime,
    *,
    item_id: int | None = None,
    sla_next_at: datetime | None = None,
    hashed: str | None = None,
) -> Item:
    """A new item as routing decided it, waiting for review with its SLA clock started."""
    return Item(
        id=item_id,
        facts=facts
        if facts.kind is decision.kind
        else dataclasses.replace(facts, kind=decision.kind),
        content_hash=hashed if hashed is not None else content_hash(facts),
        state=ReviewState.PENDING,
        route=decision.route,
        priority=decision.priority,
        reasons=decision.reasons,
        policy_version=decision.policy_version,
        team=decision.team,
        required_approvals=decision.required_approvals,
        created_at=now,
        updated_at=now,
        sla_started_at=now,
        sla_next_at=sla_next_at,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Amendment:
    """One item's changed source data, worked out before anything is written."""

    current: Item  # as read, with the version the write expects
    final: Item  # as it leaves the transaction (auto-accepted and posted, maybe)
    moves: list[Move]  # what to audit and announce, in order
    entry: JournalEntry | None = None  # the entry to deliver, when accepted by policy


def plan_amendment(
    current: Item,
    facts: ItemFacts,
    loaded: LoadedPolicy,
    now: datetime,
    *,
    clocked: Callable[[Item], Item],
) -> Amendment:
    """Changed source data applied to ``current``: routed again under the policy in
    force, amended by :func:`domain.states.amend`, and accepted by policy when the new
    routing says so and the item is not held (disputed or dead-lettered).

    ``clocked`` sets the SLA deadline of an item as it will be written.
    """
    decision = route_item(facts, loaded)
    withheld = states.auto_accept_withheld(current)
    if withheld is not None and decision.route is not Route.IMMEDIATE:
        decision = dataclasses.replace(
            decision, route=Route.IMMEDIATE, reasons=(*decision.reasons, withheld)
        )
    fresh = routed_item(facts, decision, now)
    transition = states.amend(
        current,
        routed=fresh,
        routing=routing_data(fresh.facts, decision, fresh.content_hash),
        now=now,
    )
    amended = clocked(transition.item)
    moves: list[Move] = [(current, amended, transition.events)]
    if decision.route is not Route.AUTO_ACCEPTED:
        return Amendment(current=current, final=amended, moves=moves)
    final, accepting, entry = accepted_with_entry(amended, now, loaded.policy.accounts)
    return Amendment(current=current, final=clocked(final), moves=moves + accepting, entry=entry)
