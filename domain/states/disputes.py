"""The dispute branch: open, wait on the counterparty, resolve (with dual-control
write-offs). Pure functions returning a :class:`Transition`, as in ``review``."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal

from domain.errors import InvalidCommand, NotAuthorized
from domain.items import (
    Approval,
    Dispute,
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    ReviewState,
    dispute_id,
)
from domain.states.table import (
    SYSTEM,
    Action,
    Transition,
    check_allowed,
    event_of,
    evolve,
    require_reason,
)

S = ReviewState


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
        number=item.dispute.number + 1 if item.dispute else 1,
    )
    new = evolve(
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
            event_of(
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
        return Transition.repeat(item)
    dispute = dataclasses.replace(item.dispute, state=state)
    new = evolve(item, now, dispute=dispute)
    return Transition(
        item=new,
        events=(
            event_of(
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


def add_dispute_note(item: Item, *, actor: str, now: datetime, text: str) -> Transition:
    """Adds a note to the open dispute: an event of its own (``dispute.note``), audited with
    its text; the version moves on like every change, so the card is drawn again.

    Raises:
        InvalidCommand: the note is empty.
    """
    check_allowed(item, Action.NOTE_DISPUTE)
    assert item.dispute is not None
    note = (text or "").strip()
    if not note:
        raise InvalidCommand("a dispute note needs some text")
    new = evolve(item, now)
    return Transition(item=new, events=(event_of(item, new, "dispute.note", actor, text=note),))


def is_resolution_repeat(item: Item, actor: str, outcome: DisputeOutcome) -> bool:
    """Whether ``actor`` giving ``outcome`` again would change nothing (a double click):
    they already resolved the dispute so, or already signed off its pending write-off."""
    if _already_resolved_by(item, actor, outcome):
        return True
    dispute = item.dispute
    return (
        item.state is S.DISPUTED
        and dispute is not None
        and outcome is DisputeOutcome.WRITTEN_OFF
        and actor in {a.user for a in dispute.write_off_approvals}
    )


def remind_dispute(item: Item, *, now: datetime) -> Transition:
    """The desk reminds the dispute's owner (its assignee, else who opened it) that the
    expected resolution date has passed: once per dispute, a repeat is a no-op.

    When it is due (the date passed, the clock not paused) is the SLA's to say
    (:func:`domain.sla.resolution_reminder_due`); the item's state does not move.
    """
    check_allowed(item, Action.REMIND_DISPUTE)
    assert item.dispute is not None and item.id is not None
    if item.dispute.reminded_at is not None:
        return Transition.repeat(item)
    expected = item.dispute.expected_resolution
    new = evolve(item, now, dispute=dataclasses.replace(item.dispute, reminded_at=now))
    return Transition(
        item=new,
        events=(
            event_of(
                item,
                new,
                "dispute.reminded",
                SYSTEM,
                dispute=dispute_id(item.id, item.dispute.number),
                expected_resolution=expected.isoformat() if expected else None,
                owner=dispute_owner(item),
            ),
        ),
    )


def dispute_owner(item: Item) -> str | None:
    """Who a dispute's reminders go to: the item's assignee, else who opened it."""
    if item.assignee:
        return item.assignee
    return item.dispute.opened_by if item.dispute else None


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


def _resolution_amount(
    item: Item, dispute: Dispute, outcome: DisputeOutcome, amount: Decimal | None
) -> Decimal | None:
    """The amount a resolution settles, checked against what it may be (see below)."""
    if outcome is DisputeOutcome.ADJUSTED:
        if amount is None:
            raise InvalidCommand("an adjusted resolution needs the adjustment amount")
        return amount
    if outcome is not DisputeOutcome.WRITTEN_OFF:
        if amount is not None:
            raise InvalidCommand(f"a {outcome.label} resolution takes no amount")
        return None
    if dispute.write_off_approvals and dispute.resolution_amount is not None:
        if amount is not None and amount != dispute.resolution_amount:
            raise InvalidCommand(
                f"the write-off awaiting sign-off is for {dispute.resolution_amount}; "
                "sign off that amount or resolve the dispute another way"
            )
        return dispute.resolution_amount
    if amount is not None:
        return amount
    if dispute.proposed_adjustment is not None:
        return dispute.proposed_adjustment
    return item.facts.amount


def resolve_dispute(
    item: Item,
    *,
    actor: str,
    now: datetime,
    outcome: DisputeOutcome,
    note: str | None,
    write_off_approvals_required: int,
    amount: Decimal | None = None,
) -> Transition:
    """Closes a dispute.

    ``matched``, ``adjusted`` and ``withdrawn`` send the item back to ordinary review: it
    still needs its normal approval, starts the ladder again (``ladder_level`` 0, so a
    later claim and release returns it to ``pending``) and gets a fresh SLA clock.
    ``written_off`` is itself a decision: it needs ``write_off_approvals_required``
    distinct approvers (never the preparer), and the last one approves the item for
    posting to the write-off account.

    ``amount`` is what was adjusted or written off (the item's currency): required for
    ``adjusted``; for ``written_off`` the first sign-off fixes it (default: the proposed
    adjustment, else the item's amount) and later sign-offs may only repeat it. Every
    resolution needs a note.

    A repeat of the resolution by someone who already gave it (a double click after the
    dispute closed) is a no-op, as for ``approve``.
    """
    if _already_resolved_by(item, actor, outcome):
        return Transition.repeat(item)
    check_allowed(item, Action.RESOLVE_DISPUTE)
    dispute = item.dispute
    assert dispute is not None
    text = require_reason(note, what="a resolution note")
    amount = _resolution_amount(item, dispute, outcome, amount)
    if outcome is not DisputeOutcome.WRITTEN_OFF:
        resolved = dataclasses.replace(
            dispute,
            state=DisputeState.RESOLVED,
            outcome=outcome,
            resolved_by=actor,
            resolved_at=now,
            resolution_amount=amount,
        )
        new = evolve(
            item,
            now,
            state=S.PENDING,
            dispute=resolved,
            assignee=None,
            claim_expires_at=None,
            ladder_level=0,
            escalation_tier=None,
            sla_started_at=now,
            sla_credit_seconds=0,  # a fresh clock: time used before a pause is gone too
        )
        return Transition(
            item=new,
            events=(
                event_of(
                    item,
                    new,
                    "dispute.resolved",
                    actor,
                    outcome=outcome.value,
                    note=text,
                    amount=str(amount) if amount is not None else None,
                ),
            ),
        )
    if item.facts.prepared_by and actor == item.facts.prepared_by:
        raise NotAuthorized(
            f"you prepared {item.human_id}, so you cannot approve its write-off (maker-checker)"
        )
    if actor in {a.user for a in dispute.write_off_approvals}:
        return Transition.repeat(item)
    approvals = (*dispute.write_off_approvals, Approval(user=actor, at=now, note=text))
    done = len(approvals) >= write_off_approvals_required
    updated = dataclasses.replace(
        dispute,
        resolution_amount=amount,
        write_off_approvals=approvals,
        write_off_required=write_off_approvals_required,
        state=DisputeState.RESOLVED if done else dispute.state,
        outcome=DisputeOutcome.WRITTEN_OFF if done else None,
        resolved_by=actor if done else None,
        resolved_at=now if done else None,
    )
    new = evolve(
        item,
        now,
        dispute=updated,
        state=S.APPROVED if done else S.DISPUTED,
        approvals=approvals if done else item.approvals,
        decided_by=actor if done else None,
        decided_at=now if done else None,
        decision_note=text if done else item.decision_note,
    )
    events = [
        event_of(
            item,
            new,
            "dispute.write_off_approval",
            actor,
            approval=len(approvals),
            required=write_off_approvals_required,
            note=text,
            amount=str(amount),
        )
    ]
    if done:
        events.append(
            event_of(
                item,
                new,
                "dispute.resolved",
                actor,
                outcome=DisputeOutcome.WRITTEN_OFF.value,
                approvers=[a.user for a in approvals],
                amount=str(amount),
            )
        )
    return Transition(item=new, events=tuple(events))
