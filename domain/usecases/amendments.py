"""A re-imported item whose source data changed: the amendment, worked out before
anything is written (pure), so a segment's amendments are written together.

Entries already made on the old data are never changed: each one not yet reversed gets a
reversing entry (lines mirrored, linked by ``reverses``), and the item returns to review
as a new version. The audit links all three: original entry, reversal, new version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import states
from domain.fx import RateBook
from domain.intake import content_hash
from domain.items import (
    EntryKind,
    Item,
    ItemFacts,
    JournalEntry,
    ReviewState,
    Route,
    RoutingDecision,
)
from domain.journal import build_reversal, unreversed
from domain.matching.history import MatchHistory
from domain.policy import LoadedPolicy
from domain.routing import route_item, routing_data
from domain.usecases.posting import Move, accepted_with_entry, entry_data


def routed_item(
    facts: ItemFacts,
    decision: RoutingDecision,
    now: datetime,
    *,
    item_id: int | None = None,
    sla_next_at: datetime | None = None,
    hashed: str | None = None,
) -> Item:
    """A new item as routing decided it, waiting for review with its SLA clock started
    (a digest item's waits for its digest)."""
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
        fx=decision.fx,
        created_at=now,
        updated_at=now,
        sla_started_at=now,
        sla_next_at=sla_next_at,
        # A digest item's clock starts when its digest is posted (domain.sla).
        sla_waits=decision.route is Route.DIGEST,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Amendment:
    """One item's changed source data, worked out before anything is written."""

    current: Item  # as read, with the version the write expects
    final: Item  # as it leaves the transaction (auto-accepted and posted, maybe)
    moves: list[Move]  # what to audit and announce, in order
    entry: JournalEntry | None = None  # the entry to deliver, when accepted by policy
    #: The reversing entries of the entries made on the old data, stored before ``entry``.
    reversals: tuple[JournalEntry, ...] = ()


def reversals_for(
    prior: Sequence[JournalEntry], current: Item, amended: Item, now: datetime
) -> tuple[tuple[JournalEntry, ...], tuple[states.Event, ...]]:
    """The reversing entry of each of ``prior`` not yet reversed, and one ``item.reversed``
    event each linking the original, its reversal and the item's new version.

    ``prior`` are the item's stored entries, oldest first; ``current`` and ``amended``
    the item before and after the amendment (the events belong to that move).
    Reversals are numbered after the ones the item already has.
    """
    done = sum(1 for e in prior if e.kind is EntryKind.REVERSAL)
    entries = tuple(
        build_reversal(original, seq=done + n, now=now, item=amended)
        for n, original in enumerate(unreversed(prior), start=1)
    )
    events = tuple(
        states.Event(
            name="item.reversed",
            actor=states.SYSTEM,
            from_state=current.state.value,
            to_state=amended.state.value,
            data={
                **entry_data(reversal),
                "original_key": reversal.reverses,
                "original_ledger_ref": original.ledger_ref,
                "reversal_key": reversal.idempotency_key,
                "reversal_ledger_ref": reversal.ledger_ref,
                "new_version": amended.version,
                "content_hash": amended.content_hash,
            },
        )
        for original, reversal in zip(unreversed(prior), entries, strict=True)
    )
    return entries, events


def plan_amendment(
    current: Item,
    facts: ItemFacts,
    loaded: LoadedPolicy,
    now: datetime,
    *,
    clocked: Callable[[Item], Item],
    prior: Sequence[JournalEntry] = (),
    rates: RateBook | None = None,
    history: MatchHistory | None = None,
) -> Amendment:
    """Changed source data applied to ``current``: routed again under the policy in
    force, amended by :func:`domain.states.amend`, and accepted by policy when the new
    routing says so and the item is not held (disputed or dead-lettered).

    ``prior`` are the item's stored entries: every one not yet reversed (a posted
    item's posting, an adjustment agreed on the old data...) gets a reversing entry in
    the same transaction, and the ``item.amended`` record lists them. Entries made on
    data that is no longer true are void like the sign-offs, but as history they stay.

    ``clocked`` sets the SLA deadline of an item as it will be written. ``rates`` are
    the dated FX rates; an item without ``booked_on`` is converted at the rate of the
    day it was first ingested. ``history``: the counterparties' match rates (routing's
    priority).
    """
    decision = route_item(
        facts, loaded, rates=rates, today=current.created_at.date(), history=history
    )
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
    reversals, reversed_events = reversals_for(prior, current, amended, now)
    events = transition.events
    if reversals:
        amend_event = dataclasses.replace(
            events[0], data={**events[0].data, **_reversal_links(reversals, amended)}
        )
        events = (amend_event, *events[1:], *reversed_events)
    moves: list[Move] = [(current, amended, events)]
    if decision.route is not Route.AUTO_ACCEPTED:
        return Amendment(current=current, final=amended, moves=moves, reversals=reversals)
    final, accepting, entry = accepted_with_entry(
        amended, now, loaded.policy.accounts, (*prior, *reversals)
    )
    return Amendment(
        current=current,
        final=clocked(final),
        moves=moves + accepting,
        entry=entry,
        reversals=reversals,
    )


def _reversal_links(reversals: Sequence[JournalEntry], amended: Item) -> dict[str, Any]:
    """What the ``item.amended`` record says of the entries it reversed."""
    return {
        "reversals": [
            {"original_key": r.reverses, "reversal_key": r.idempotency_key} for r in reversals
        ],
        "new_version": amended.version,
    }
