"""The review transitions: claims, decisions, the ladder, amendment and posting.

Each function takes the current item and returns a :class:`Transition`: the new item
(version bumped) and the events to audit. ``Transition.noop`` marks an idempotent repeat
(a double click): nothing changes and nothing is audited. Permission checks live in
``domain.permissions``; these functions only know which states allow which action, and
the rules that belong to the move itself (maker-checker, distinct approvers, reasons).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from domain.errors import IllegalTransition, InvalidCommand, NotAuthorized
from domain.items import Approval, Item, ItemFacts, ItemKind, ReviewState, Route
from domain.sla import Rung
from domain.states.table import (
    ALLOWED_FROM,
    SYSTEM,
    Action,
    Transition,
    check_allowed,
    event_of,
    evolve,
    require_reason,
)

S = ReviewState


def claim(item: Item, *, actor: str, now: datetime, ttl: timedelta) -> Transition:
    """Takes an unclaimed item exclusively until ``now + ttl``."""
    check_allowed(item, Action.CLAIM)
    new = evolve(item, now, state=S.ASSIGNED, assignee=actor, claim_expires_at=now + ttl)
    return Transition(
        item=new,
        events=(
            event_of(
                item,
                new,
                "item.claimed",
                actor,
                assignee=actor,
                claim_expires_at=(now + ttl).isoformat(),
                resume_state=item.state.value,
            ),
        ),
    )


def assign(item: Item, *, actor: str, assignee: str, now: datetime, ttl: timedelta) -> Transition:
    """Gives the item to ``assignee`` (a lead's or officer's hand-off, or a self-assign)."""
    check_allowed(item, Action.ASSIGN)
    if item.state is S.ASSIGNED and item.assignee == assignee:
        return Transition.repeat(item)
    resume = item.state.value if item.state is not S.ASSIGNED else _resume_state(item).value
    new = evolve(item, now, state=S.ASSIGNED, assignee=assignee, claim_expires_at=now + ttl)
    return Transition(
        item=new,
        events=(
            event_of(
                item,
                new,
                "item.assigned",
                actor,
                assignee=assignee,
                previous_assignee=item.assignee,
                resume_state=resume,
                claim_expires_at=(now + ttl).isoformat(),
            ),
        ),
    )


def hand_over_second_approval(
    item: Item, *, actor: str, assignee: str, now: datetime, reason: str
) -> Transition:
    """An item awaiting its second approval and held by ``actor`` (their claim kept
    through the first approval) handed to ``assignee`` (their delegate while away), to
    give or chase that approval. The state stays; whether ``assignee`` may take it
    (never its preparer, never its first approver) is the caller's guard, and
    :func:`approve` refuses them anyway.
    """
    if item.state is not S.AWAITING_SECOND_APPROVAL or item.assignee != actor:
        raise IllegalTransition(
            f"{item.human_id} is not awaiting a second approval in your hands; nothing to hand over"
        )
    if assignee == actor:
        return Transition.repeat(item)
    new = evolve(item, now, assignee=assignee)
    return Transition(
        item=new,
        events=(
            event_of(
                item,
                new,
                "item.assigned",
                actor,
                assignee=assignee,
                previous_assignee=actor,
                resume_state=item.state.value,
                reason=reason,
            ),
        ),
    )


def _resume_state(item: Item) -> ReviewState:
    """Where an assigned item returns when released: back up the ladder it was on."""
    if item.ladder_level >= 3:
        return S.DEAD_LETTER
    if item.ladder_level >= 2:
        return S.ESCALATED
    return S.PENDING


def release(item: Item, *, actor: str, now: datetime, reason: str) -> Transition:
    """Returns a claimed item to the queue (expired lease, or the assignee lets go)."""
    check_allowed(item, Action.RELEASE)
    new = evolve(item, now, state=_resume_state(item), assignee=None, claim_expires_at=None)
    return Transition(
        item=new,
        events=(
            event_of(
                item, new, "item.released", actor, previous_assignee=item.assignee, reason=reason
            ),
        ),
    )


def approve(item: Item, *, actor: str, now: datetime, note: str | None = None) -> Transition:
    """Records an approval; the last required one makes the item ``approved``.

    Maker-checker: the preparer may never approve. Dual control: approvers are distinct.
    A repeat by someone who already approved is a no-op (double click), not an error.
    """
    if actor in {a.user for a in item.approvals} and item.state in (
        S.AWAITING_SECOND_APPROVAL,
        S.APPROVED,
        S.POSTED,
    ):
        return Transition.repeat(item)
    check_allowed(item, Action.APPROVE)
    if item.facts.prepared_by and actor == item.facts.prepared_by:
        raise NotAuthorized(
            f"you prepared {item.human_id}, so you cannot approve it (maker-checker)"
        )
    if actor in {a.user for a in item.approvals}:
        # Reachable: an item awaiting its second approval can be escalated or
        # dead-lettered with the first approval kept; its giver may not be the second.
        raise NotAuthorized(
            f"you already approved {item.human_id}; dual control needs a second, different approver"
        )
    approvals = (*item.approvals, Approval(user=actor, at=now, note=note))
    approvers = [a.user for a in approvals]
    done = len(approvals) >= item.required_approvals
    new = evolve(
        item,
        now,
        state=S.APPROVED if done else S.AWAITING_SECOND_APPROVAL,
        approvals=approvals,
        assignee=None if done else item.assignee,
        claim_expires_at=None if done else item.claim_expires_at,
        decided_by=actor if done else None,
        decided_at=now if done else None,
        decision_note=note if done else item.decision_note,
    )
    events = [
        event_of(
            item,
            new,
            "item.approval_recorded",
            actor,
            approval=len(approvals),
            required=item.required_approvals,
            note=note,
            # The rate routing sized the item at, which set ``required``.
            **({"fx": item.fx.audit_data()} if item.fx is not None else {}),
        )
    ]
    if done:
        events.append(event_of(item, new, "item.approved", actor, approvers=approvers))
    return Transition(item=new, events=tuple(events))


def _closed(item: Item, now: datetime, *, state: ReviewState, by: str, note: str) -> Item:
    """``item`` settled without posting (rejected, or closed as matched): decided by
    ``by`` with ``note``, let go by its assignee, its approvals void."""
    return evolve(
        item,
        now,
        state=state,
        decided_by=by,
        decided_at=now,
        decision_note=note,
        assignee=None,
        claim_expires_at=None,
        approvals=(),
    )


def reject(item: Item, *, actor: str, now: datetime, reason: str) -> Transition:
    """Rejects the item; a reason of a few words is required."""
    if item.state is S.REJECTED and item.decided_by == actor:
        return Transition.repeat(item)
    check_allowed(item, Action.REJECT)
    text = require_reason(reason)
    new = _closed(item, now, state=S.REJECTED, by=actor, note=text)
    voided = [a.user for a in item.approvals]
    return Transition(
        item=new,
        events=(event_of(item, new, "item.rejected", actor, reason=text, voided_approvals=voided),),
    )


def escalate(
    item: Item, *, actor: str, now: datetime, reason: str | None, ladder_level: int | None = None
) -> Transition:
    """Moves the item up to the team's leads."""
    if item.state is S.ESCALATED:
        return Transition.repeat(item)
    check_allowed(item, Action.ESCALATE)
    level = max(item.ladder_level, 2) if ladder_level is None else ladder_level
    new = evolve(
        item,
        now,
        state=S.ESCALATED,
        assignee=None,
        claim_expires_at=None,
        ladder_level=level,
        decided_by=actor,
        decided_at=now,
        decision_note=(reason or "").strip() or None,
    )
    return Transition(
        item=new,
        events=(
            event_of(
                item,
                new,
                "item.escalated",
                actor,
                reason=(reason or "").strip() or None,
                ladder_level=level,
            ),
        ),
    )


def dead_letter(item: Item, *, actor: str, now: datetime, reason: str) -> Transition:
    """Moves the item to the compliance queue; automatic posting halts for it."""
    if item.state is S.DEAD_LETTER:
        return Transition.repeat(item)
    check_allowed(item, Action.DEAD_LETTER)
    new = evolve(
        item, now, state=S.DEAD_LETTER, assignee=None, claim_expires_at=None, ladder_level=3
    )
    return Transition(
        item=new,
        events=(event_of(item, new, "item.dead_lettered", actor, reason=reason, severity="high"),),
    )


def post(item: Item, *, actor: str, now: datetime, ledger_ref: str) -> Transition:
    """Marks an approved item posted once its journal entry exists."""
    check_allowed(item, Action.POST)
    new = evolve(item, now, state=S.POSTED, ledger_ref=ledger_ref)
    return Transition(
        item=new, events=(event_of(item, new, "item.posted", actor, ledger_ref=ledger_ref),)
    )


def accept_by_policy(item: Item, *, now: datetime) -> Transition:
    """Approval by the policy itself, for an item routed to acceptance: nobody signs.

    Raises:
        InvalidCommand: the item was not routed for acceptance by policy.
    """
    check_allowed(item, Action.ACCEPT_BY_POLICY)
    if item.route is not Route.AUTO_ACCEPTED:
        raise InvalidCommand(f"{item.human_id} was not routed for acceptance by policy")
    new = evolve(
        item,
        now,
        state=S.APPROVED,
        decided_by=SYSTEM,
        decided_at=now,
        decision_note="auto-accepted by policy",
    )
    return Transition(
        item=new,
        events=(event_of(item, new, "item.auto_accepted", SYSTEM, reasons=list(item.reasons)),),
    )


def close_matched(item: Item, *, match_id: int, run: int | None, now: datetime) -> Transition:
    """Closes an ``unmatched`` item whose line or entry a later matching run matched
    (match ``match_id``, accepted by policy or by people): nobody owes a decision on it
    any more, and nothing is posted for it (the match's own item carries the entry).
    Approvals given to the exception are void with it.

    Raises:
        InvalidCommand: the item is not an unmatched line or entry.
    """
    check_allowed(item, Action.CLOSE_MATCHED)
    if item.facts.kind is not ItemKind.UNMATCHED:
        raise InvalidCommand(f"{item.human_id} is not an unmatched item")
    note = (f"matched by run {run} / " if run is not None else "matched by ") + f"match {match_id}"
    new = _closed(item, now, state=S.MATCHED, by=SYSTEM, note=note)
    return Transition(
        item=new,
        events=(
            event_of(
                item,
                new,
                "item.matched",
                SYSTEM,
                match=match_id,
                run=run,
                reason=note,
                voided_approvals=[a.user for a in item.approvals],
            ),
        ),
    )


def climb_ladder(
    item: Item,
    *,
    rung: Rung,
    skipped: Sequence[Rung],
    reason: str,
    now: datetime,
    tier: str | None = None,
    from_tier: str | None = None,
) -> Transition:
    """One rung of the SLA ladder, taken by the desk.

    The escalation rung escalates and the dead-letter rung dead-letters where the state
    allows it; otherwise (a reminder, or a dispute already with a person, or an item
    already escalated) the ladder still moves and the people are told, the state stays.
    Every event carries the rung, the rungs skipped and the reason.

    ``tier`` is the escalation tier the rung moves the item into (with an escalation
    graph in the policy); the item records it. An escalation rung taken by an item
    already escalated moves it from its tier (``from_tier``) to the next
    (``sla.tier_moved``).
    """
    check_allowed(item, Action.CLIMB_LADDER)
    data: dict[str, Any] = {
        "rung": rung.name.lower(),
        "skipped": [r.name.lower() for r in skipped],
        "reason": reason,
    }
    if tier is not None:
        data["tier"] = tier
        if rung is Rung.ESCALATE and item.ladder_level >= Rung.ESCALATE:
            new = evolve(item, now, escalation_tier=tier)
            data["from_tier"] = from_tier or item.escalation_tier
            return Transition(
                item=new, events=(event_of(item, new, "sla.tier_moved", SYSTEM, **data),)
            )
    moved: Transition | None = None
    if rung is Rung.ESCALATE and item.state in ALLOWED_FROM[Action.ESCALATE]:
        moved = escalate(
            item, actor=SYSTEM, now=now, reason=f"SLA: {reason}", ladder_level=rung.value
        )
    elif rung is Rung.DEAD_LETTER and item.state in ALLOWED_FROM[Action.DEAD_LETTER]:
        moved = dead_letter(item, actor=SYSTEM, now=now, reason=f"SLA: {reason}")
    if moved is not None and not moved.noop:
        return Transition(
            item=dataclasses.replace(moved.item, escalation_tier=tier or item.escalation_tier),
            events=tuple(dataclasses.replace(e, data={**e.data, **data}) for e in moved.events),
        )
    new = evolve(item, now, ladder_level=rung.value, escalation_tier=tier or item.escalation_tier)
    name = "sla.reminded" if rung is Rung.REMIND else f"sla.{rung.name.lower()}"
    return Transition(item=new, events=(event_of(item, new, name, SYSTEM, **data),))


def auto_accept_withheld(item: Item) -> str | None:
    """Why a re-imported ``item`` may not be accepted by policy, or None when it may.

    A dispute is a person's open question that only a person closes, and a dead-lettered
    item has automatic posting halted until compliance resolves it.
    """
    if holds_dispute(item) or is_dead_lettered(item):
        return f"auto-accept withheld: the item is {item.state.label}"
    return None


def holds_dispute(item: Item) -> bool:
    """Whether the item is under an open dispute."""
    return item.state is S.DISPUTED and item.dispute is not None


def is_dead_lettered(item: Item) -> bool:
    """Whether the item reached the compliance queue (even if a person holds it now)."""
    return item.state is S.DEAD_LETTER or item.ladder_level >= Rung.DEAD_LETTER


def amend(item: Item, *, routed: Item, routing: dict[str, Any], now: datetime) -> Transition:
    """Changed source data applied to ``item``: sign-offs on the old data are void.

    ``routed`` is the new data as routed now (facts, hash, route, team, approvals
    needed); ``routing`` is its routing record for the audit. The item returns to
    review with a fresh SLA clock and no ledger reference (a posted item's entries are
    reversed by the caller, see :mod:`domain.usecases.amendments`), except that an item
    under dispute stays disputed (its write-off approvals are voided with its other
    approvals, its owner and SLA clock are kept), and a dead-lettered item stays with
    compliance, on its clock.
    """
    check_allowed(item, Action.AMEND)
    disputed = holds_dispute(item)
    new = evolve(
        item,
        now,
        facts=routed.facts,
        content_hash=routed.content_hash,
        state=S.PENDING,
        route=routed.route,
        priority=routed.priority,
        reasons=routed.reasons,
        policy_version=routed.policy_version,
        team=routed.team,
        required_approvals=routed.required_approvals,
        fx=routed.fx,
        approvals=(),
        assignee=None,
        claim_expires_at=None,
        decided_by=None,
        decided_at=None,
        decision_note=None,
        ledger_ref=None,
        ladder_level=0,
        escalation_tier=None,
        sla_started_at=now,
        sla_credit_seconds=0,
        # Still unseen and still for a digest: the clock keeps waiting for the digest's
        # post. Anything else (shown already, or now for immediate review) runs from now.
        sla_waits=item.sla_waits and routed.route is Route.DIGEST,
    )
    if is_dead_lettered(item) and not disputed:
        # Auto-posting stays halted; the item goes back to the compliance queue.
        new = dataclasses.replace(_on_clock_of(item, new), state=S.DEAD_LETTER)
    data: dict[str, Any] = {
        **routing,
        "changed_fields": sorted(
            f.name
            for f in dataclasses.fields(ItemFacts)
            if getattr(item.facts, f.name) != getattr(routed.facts, f.name)
        ),
        "previous_content_hash": item.content_hash,
        "voided_approvals": [a.user for a in item.approvals],
        "reason": "source data changed: sign-offs on the old data are void",
    }
    if item.ledger_ref is not None:
        data["previous_ledger_ref"] = item.ledger_ref
    if disputed:
        assert item.dispute is not None
        new = dataclasses.replace(
            _on_clock_of(item, new),
            state=S.DISPUTED,
            dispute=dataclasses.replace(item.dispute, write_off_approvals=()),
            assignee=item.assignee,
        )
        data["dispute_state"] = item.dispute.state.value
        data["voided_write_off_approvals"] = [a.user for a in item.dispute.write_off_approvals]
    return Transition(item=new, events=(event_of(item, new, "item.amended", SYSTEM, **data),))


def _on_clock_of(item: Item, new: Item) -> Item:
    """``new`` keeping ``item``'s place on the SLA ladder and the time it already used."""
    return dataclasses.replace(
        new,
        ladder_level=item.ladder_level,
        escalation_tier=item.escalation_tier,
        sla_started_at=item.sla_started_at,
        sla_credit_seconds=item.sla_credit_seconds,
    )
