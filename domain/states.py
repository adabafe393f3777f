"""The review state machine: a table of legal moves plus one pure function per action.

Each function takes the current item and returns a ``Transition``: the new item (version
bumped) and the events to audit. ``Transition.noop`` marks an idempotent repeat (a double
click): nothing changes and nothing is audited. Permission checks live in
``domain.permissions``; this module only knows which states allow which action.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.errors import IllegalTransition, InvalidCommand, NotAuthorized
from domain.items import (
    Approval,
    Dispute,
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    ReviewState,
)

S = ReviewState
MIN_REASON_WORDS = 3


class Action(StrEnum):
    """Everything that can happen to an item."""

    CLAIM = "claim"
    ASSIGN = "assign"
    RELEASE = "release"
    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"
    DISPUTE = "dispute"
    UPDATE_DISPUTE = "update_dispute"
    RESOLVE_DISPUTE = "resolve_dispute"
    DEAD_LETTER = "dead_letter"
    POST = "post"
    AMEND = "amend"


_OPEN = frozenset({S.PENDING, S.ASSIGNED, S.ESCALATED, S.AWAITING_SECOND_APPROVAL, S.DEAD_LETTER})

#: Which states each action may start from. Anything else is an IllegalTransition.
ALLOWED_FROM: dict[Action, frozenset[ReviewState]] = {
    Action.CLAIM: frozenset({S.PENDING, S.ESCALATED, S.DEAD_LETTER}),
    Action.ASSIGN: frozenset({S.PENDING, S.ASSIGNED, S.ESCALATED, S.DEAD_LETTER}),
    Action.RELEASE: frozenset({S.ASSIGNED}),
    Action.APPROVE: _OPEN,
    Action.REJECT: _OPEN,
    Action.ESCALATE: frozenset({S.PENDING, S.ASSIGNED, S.AWAITING_SECOND_APPROVAL}),
    Action.DISPUTE: frozenset({S.PENDING, S.ASSIGNED, S.ESCALATED, S.AWAITING_SECOND_APPROVAL}),
    Action.UPDATE_DISPUTE: frozenset({S.DISPUTED}),
    Action.RESOLVE_DISPUTE: frozenset({S.DISPUTED}),
    Action.DEAD_LETTER: frozenset({S.PENDING, S.ASSIGNED, S.ESCALATED, S.AWAITING_SECOND_APPROVAL}),
    Action.POST: frozenset({S.APPROVED}),
    Action.AMEND: frozenset(set(S) - {S.POSTED}),
}

#: Every state an action can lead to (checked by the property tests).
LEADS_TO: dict[Action, frozenset[ReviewState]] = {
    Action.CLAIM: frozenset({S.ASSIGNED}),
    Action.ASSIGN: frozenset({S.ASSIGNED}),
    Action.RELEASE: frozenset({S.PENDING, S.ESCALATED, S.DEAD_LETTER}),
    Action.APPROVE: frozenset({S.APPROVED, S.AWAITING_SECOND_APPROVAL}),
    Action.REJECT: frozenset({S.REJECTED}),
    Action.ESCALATE: frozenset({S.ESCALATED}),
    Action.DISPUTE: frozenset({S.DISPUTED}),
    Action.UPDATE_DISPUTE: frozenset({S.DISPUTED}),
    Action.RESOLVE_DISPUTE: frozenset({S.PENDING, S.APPROVED, S.DISPUTED}),
    Action.DEAD_LETTER: frozenset({S.DEAD_LETTER}),
    Action.POST: frozenset({S.POSTED}),
    # An amended item returns to review (or is auto-accepted); a disputed one stays disputed.
    Action.AMEND: frozenset({S.PENDING, S.APPROVED, S.DISPUTED}),
}

TERMINAL = frozenset({S.POSTED, S.REJECTED})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something to audit: name, actor, states and small JSON-safe details (no floats)."""

    name: str
    actor: str
    from_state: str | None
    to_state: str | None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """The result of an action: the new item and what to audit."""

    item: Item
    events: tuple[Event, ...]
    noop: bool = False


def check_allowed(item: Item, action: Action) -> None:
    """Raises IllegalTransition with a sentence a reviewer understands."""
    if item.state not in ALLOWED_FROM[action]:
        raise IllegalTransition(
            f"{item.human_id} is {item.state.value.replace('_', ' ')}; "
            f"it cannot be {_PAST[action]} now"
        )


_PAST = {
    Action.CLAIM: "claimed",
    Action.ASSIGN: "assigned",
    Action.RELEASE: "released",
    Action.APPROVE: "approved",
    Action.REJECT: "rejected",
    Action.ESCALATE: "escalated",
    Action.DISPUTE: "disputed",
    Action.UPDATE_DISPUTE: "updated as a dispute",
    Action.RESOLVE_DISPUTE: "resolved as a dispute",
    Action.DEAD_LETTER: "dead-lettered",
    Action.POST: "posted",
    Action.AMEND: "amended",
}


def _evolve(item: Item, now: datetime, **changes: Any) -> Item:
    return dataclasses.replace(item, version=item.version + 1, updated_at=now, **changes)


def _event(item: Item, new: Item, name: str, actor: str, **data: Any) -> Event:
    return Event(
        name=name, actor=actor, from_state=item.state.value, to_state=new.state.value, data=data
    )


def require_reason(reason: str | None, *, what: str = "a reason") -> str:
    """A reason of at least a few words, stripped.

    Raises:
        InvalidCommand: missing or too short.
    """
    text = (reason or "").strip()
    if len(text.split()) < MIN_REASON_WORDS:
        raise InvalidCommand(f"give {what} of at least {MIN_REASON_WORDS} words")
    return text


def claim(item: Item, *, actor: str, now: datetime, ttl: timedelta) -> Transition:
    """Takes an unclaimed item exclusively until ``now + ttl``."""
    check_allowed(item, Action.CLAIM)
    new = _evolve(item, now, state=S.ASSIGNED, assignee=actor, claim_expires_at=now + ttl)
    return Transition(
        item=new,
        events=(
            _event(
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
        return Transition(item=item, events=(), noop=True)
    resume = item.state.value if item.state is not S.ASSIGNED else _resume_state(item).value
    new = _evolve(item, now, state=S.ASSIGNED, assignee=assignee, claim_expires_at=now + ttl)
    return Transition(
        item=new,
        events=(
            _event(
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
    new = _evolve(item, now, state=_resume_state(item), assignee=None, claim_expires_at=None)
    return Transition(
        item=new,
        events=(
            _event(
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
        return Transition(item=item, events=(), noop=True)
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
    new = _evolve(
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
        _event(
            item,
            new,
            "item.approval_recorded",
            actor,
            approval=len(approvals),
            required=item.required_approvals,
            note=note,
        )
    ]
    if done:
        events.append(_event(item, new, "item.approved", actor, approvers=approvers))
    return Transition(item=new, events=tuple(events))


def reject(item: Item, *, actor: str, now: datetime, reason: str) -> Transition:
    """Rejects the item; a reason of a few words is required."""
    if item.state is S.REJECTED and item.decided_by == actor:
        return Transition(item=item, events=(), noop=True)
    check_allowed(item, Action.REJECT)
    text = require_reason(reason)
    new = _evolve(
        item,
        now,
        state=S.REJECTED,
        decided_by=actor,
        decided_at=now,
        decision_note=text,
        assignee=None,
        claim_expires_at=None,
        approvals=(),
    )
    voided = [a.user for a in item.approvals]
    return Transition(
        item=new,
        events=(_event(item, new, "item.rejected", actor, reason=text, voided_approvals=voided),),
    )


def escalate(
    item: Item, *, actor: str, now: datetime, reason: str | None, ladder_level: int | None = None
) -> Transition:
    """Moves the item up to the team's leads."""
    if item.state is S.ESCALATED:
        return Transition(item=item, events=(), noop=True)
    check_allowed(item, Action.ESCALATE)
    level = max(item.ladder_level, 2) if ladder_level is None else ladder_level
    new = _evolve(
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
            _event(
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
        return Transition(item=item, events=(), noop=True)
    check_allowed(item, Action.DEAD_LETTER)
    new = _evolve(
        item, now, state=S.DEAD_LETTER, assignee=None, claim_expires_at=None, ladder_level=3
    )
    return Transition(
        item=new,
        events=(_event(item, new, "item.dead_lettered", actor, reason=reason, severity="high"),),
    )


def open_dispute(
    item: Item,
    *,
    actor: str,
    now: datetime,
    category: DisputeCategory,
    description: str,
    counterparty_contact: str | None = None,
    expected_resolution: date | None = None,
    evidence_links: tuple[str, ...] = (),
    proposed_adjustment: Decimal | None = None,
) -> Transition:
    """Opens a dispute; approvals already given are voided (the item is in doubt)."""
    check_allowed(item, Action.DISPUTE)
    text = require_reason(description, what="a description")
    dispute = Dispute(
        state=DisputeState.OPEN,
        category=category,
        description=text,
        opened_by=actor,
        opened_at=now,
        counterparty_contact=counterparty_contact,
        expected_resolution=expected_resolution,
        evidence_links=evidence_links,
        proposed_adjustment=proposed_adjustment,
    )
    new = _evolve(
        item,
        now,
        state=S.DISPUTED,
        dispute=dispute,
        approvals=(),
        assignee=actor,
        claim_expires_at=None,
    )
    return Transition(
        item=new,
        events=(
            _event(
                item,
                new,
                "dispute.opened",
                actor,
                category=category.value,
                description=text,
                counterparty_contact=counterparty_contact,
                expected_resolution=expected_resolution.isoformat()
                if expected_resolution
                else None,
                evidence_links=list(evidence_links),
                proposed_adjustment=str(proposed_adjustment)
                if proposed_adjustment is not None
                else None,
                voided_approvals=[a.user for a in item.approvals],
            ),
        ),
    )


def update_dispute(
    item: Item, *, actor: str, now: datetime, state: DisputeState, note: str | None = None
) -> Transition:
    """Moves a dispute between ``open`` and ``awaiting_counterparty`` (which pauses the SLA)."""
    check_allowed(item, Action.UPDATE_DISPUTE)
    assert item.dispute is not None
    if state is DisputeState.RESOLVED:
        raise InvalidCommand("use resolve to close a dispute")
    if item.dispute.state is state:
        return Transition(item=item, events=(), noop=True)
    dispute = dataclasses.replace(item.dispute, state=state)
    new = _evolve(item, now, dispute=dispute)
    return Transition(
        item=new,
        events=(
            _event(
                item,
                new,
                "dispute.updated",
                actor,
                dispute_from=item.dispute.state.value,
                dispute_to=state.value,
                note=note,
            ),
        ),
    )


def _already_resolved_by(item: Item, actor: str, outcome: DisputeOutcome) -> bool:
    """Whether ``actor`` already gave this resolution to the item's (closed) dispute."""
    dispute = item.dispute
    if item.state is S.DISPUTED or dispute is None or dispute.state is not DisputeState.RESOLVED:
        return False
    if dispute.outcome is not outcome:
        return False
    if outcome is DisputeOutcome.WRITTEN_OFF:
        return actor in {a.user for a in dispute.write_off_approvals}
    return dispute.resolved_by == actor


def resolve_dispute(
    item: Item,
    *,
    actor: str,
    now: datetime,
    outcome: DisputeOutcome,
    note: str | None,
    write_off_approvals_required: int,
) -> Transition:
    """Closes a dispute.

    ``matched``, ``adjusted`` and ``withdrawn`` send the item back to ordinary review: it
    still needs its normal approval, starts the ladder again (``ladder_level`` 0, so a
    later claim and release returns it to ``pending``) and gets a fresh SLA clock.
    ``written_off`` is itself a decision: it needs ``write_off_approvals_required``
    distinct approvers (never the preparer), and the last one approves the item for
    posting to the write-off account.

    A repeat of the resolution by someone who already gave it (a double click after the
    dispute closed) is a no-op, as for ``approve``.
    """
    if _already_resolved_by(item, actor, outcome):
        return Transition(item=item, events=(), noop=True)
    check_allowed(item, Action.RESOLVE_DISPUTE)
    dispute = item.dispute
    assert dispute is not None
    if outcome is not DisputeOutcome.WRITTEN_OFF:
        resolved = dataclasses.replace(
            dispute,
            state=DisputeState.RESOLVED,
            outcome=outcome,
            resolved_by=actor,
            resolved_at=now,
        )
        new = _evolve(
            item,
            now,
            state=S.PENDING,
            dispute=resolved,
            assignee=None,
            claim_expires_at=None,
            ladder_level=0,
            sla_started_at=now,
            sla_credit_seconds=0,  # a fresh clock: time used before a pause is gone too
        )
        return Transition(
            item=new,
            events=(
                _event(item, new, "dispute.resolved", actor, outcome=outcome.value, note=note),
            ),
        )
    if item.facts.prepared_by and actor == item.facts.prepared_by:
        raise NotAuthorized(
            f"you prepared {item.human_id}, so you cannot approve its write-off (maker-checker)"
        )
    if actor in {a.user for a in dispute.write_off_approvals}:
        return Transition(item=item, events=(), noop=True)
    approvals = (*dispute.write_off_approvals, Approval(user=actor, at=now, note=note))
    done = len(approvals) >= write_off_approvals_required
    updated = dataclasses.replace(
        dispute,
        write_off_approvals=approvals,
        state=DisputeState.RESOLVED if done else dispute.state,
        outcome=DisputeOutcome.WRITTEN_OFF if done else None,
        resolved_by=actor if done else None,
        resolved_at=now if done else None,
    )
    new = _evolve(
        item,
        now,
        dispute=updated,
        state=S.APPROVED if done else S.DISPUTED,
        approvals=approvals if done else item.approvals,
        decided_by=actor if done else None,
        decided_at=now if done else None,
        decision_note=note if done else item.decision_note,
    )
    events = [
        _event(
            item,
            new,
            "dispute.write_off_approval",
            actor,
            approval=len(approvals),
            required=write_off_approvals_required,
            note=note,
        )
    ]
    if done:
        events.append(
            _event(
                item,
                new,
                "dispute.resolved",
                actor,
                outcome=DisputeOutcome.WRITTEN_OFF.value,
                approvers=[a.user for a in approvals],
            )
        )
    return Transition(item=new, events=tuple(events))


def post(item: Item, *, actor: str, now: datetime, ledger_ref: str) -> Transition:
    """Marks an approved item posted once its journal entry exists."""
    check_allowed(item, Action.POST)
    new = _evolve(item, now, state=S.POSTED, ledger_ref=ledger_ref)
    return Transition(
        item=new, events=(_event(item, new, "item.posted", actor, ledger_ref=ledger_ref),)
    )
