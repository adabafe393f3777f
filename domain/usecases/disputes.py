"""The dispute branch of an item: open it, wait on the counterparty, resolve it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from domain import sla, states
from domain.items import DisputeCategory, DisputeOutcome, DisputeState, Item
from domain.journal import EntryKind
from domain.policy import LoadedPolicy, Policy
from domain.routing import dual_control_required, to_reporting
from domain.usecases.transaction import Outcome, UseCase


def reclock_dispute(before: Item, after: Item, policy: Policy, now: datetime) -> Item:
    """Stops the SLA clock while a dispute waits on the counterparty; restarts it after.

    The time already used is kept as credit, so a paused item resumes where it stopped
    (in working time when the policy has a business calendar).
    """
    if sla.is_paused(after) and not sla.is_paused(before):
        credit = sla.pause(before.sla_started_at, before.sla_credit_seconds, now, policy.calendar)
        return dataclasses.replace(after, sla_credit_seconds=credit, sla_started_at=now)
    if sla.is_paused(before) and not sla.is_paused(after):
        return dataclasses.replace(after, sla_started_at=now)
    return after


def write_off_approvers(item: Item, loaded: LoadedPolicy) -> int:
    """Approvers a write-off needs: routing's dual-control rule on the written-off amount.

    The amount is converted and rounded exactly as routing does, so at the limit the
    write-off and the ordinary approval agree.
    """
    amount = item.facts.amount
    if item.dispute and item.dispute.resolution_amount is not None:
        amount = item.dispute.resolution_amount
    elif item.dispute and item.dispute.proposed_adjustment is not None:
        amount = item.dispute.proposed_adjustment
    reporting = to_reporting(amount, item.facts.currency, loaded)
    return 2 if dual_control_required(reporting, loaded) else 1


def _with_amount(item: Item, outcome: DisputeOutcome, amount: Decimal | None) -> Item:
    """The item as the write-off approvers rule sees it once ``amount`` is proposed."""
    if item.dispute is None or outcome is not DisputeOutcome.WRITTEN_OFF or amount is None:
        return item
    if item.dispute.resolution_amount is not None:  # fixed by the first sign-off
        return item
    return dataclasses.replace(
        item, dispute=dataclasses.replace(item.dispute, resolution_amount=amount)
    )


class Disputes(UseCase):
    """Open, update and resolve disputes, each one transaction."""

    async def open_dispute(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        category: DisputeCategory,
        description: str,
        counterparty_contact: str | None = None,
        expected_resolution: date | None = None,
        evidence_links: Sequence[str] = (),
        proposed_adjustment: Decimal | None = None,
        expected_version: int | None = None,
    ) -> Outcome:
        """Opens a dispute on an item under review."""
        return await self._tx.decide(
            action=states.Action.DISPUTE,
            item_id=item_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            check_first=True,
            move=lambda item: states.open_dispute(
                item,
                actor=actor,
                now=now,
                category=category,
                description=description,
                counterparty_contact=counterparty_contact,
                expected_resolution=expected_resolution,
                evidence_links=tuple(evidence_links),
                proposed_adjustment=proposed_adjustment,
            ),
        )

    async def update_dispute(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        state: DisputeState,
        note: str | None = None,
    ) -> Outcome:
        """Marks a dispute as waiting on the counterparty (SLA paused) or open again."""
        policy = self._tx.policy().policy

        def move(item: Item) -> states.Transition:
            transition = states.update_dispute(item, actor=actor, now=now, state=state, note=note)
            if transition.noop:
                return transition
            return dataclasses.replace(
                transition, item=reclock_dispute(item, transition.item, policy, now)
            )

        return await self._tx.decide(
            action=states.Action.UPDATE_DISPUTE,
            item_id=item_id,
            actor=actor,
            now=now,
            move=move,
            check_first=True,
            claim_check=False,
        )

    async def resolve_dispute(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        outcome: DisputeOutcome,
        note: str | None = None,
        amount: Decimal | None = None,
    ) -> Outcome:
        """Closes a dispute; a write-off above the dual-control limit needs two approvers.

        ``amount``: what was adjusted or written off (see ``states.resolve_dispute``).
        """
        loaded = self._tx.policy()
        return await self._tx.decide(
            action=states.Action.RESOLVE_DISPUTE,
            item_id=item_id,
            actor=actor,
            now=now,
            check_first=True,
            claim_check=False,
            move=lambda item: states.resolve_dispute(
                item,
                actor=actor,
                now=now,
                outcome=outcome,
                note=note,
                write_off_approvals_required=write_off_approvers(
                    _with_amount(item, outcome, amount), loaded
                ),
                amount=amount,
            ),
            then=self._tx.post_when_approved(EntryKind.WRITE_OFF, now),
        )
