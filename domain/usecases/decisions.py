"""A reviewer's decisions on one item: approve, reject, escalate; and whether they may."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from domain import states
from domain.errors import DomainError, IllegalTransition, NotAuthorized
from domain.items import Item
from domain.journal import EntryKind
from domain.permissions import (
    Person,
    check_can_act,
    check_not_read_only,
    check_not_someone_elses_claim,
)
from domain.sla import SETTLED
from domain.step_up import StepUp, check_step_up, needs_step_up
from domain.usecases.transaction import Outcome, UseCase, check_version, refusal_entry

#: The audit event of one approval (the step-up proof is kept on it).
APPROVAL_RECORDED = "item.approval_recorded"


class Decisions(UseCase):
    """Approve, reject and escalate, each one transaction through :class:`Transactions`."""

    async def approve(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        note: str | None = None,
        expected_version: int | None = None,
        step_up: StepUp | None = None,
    ) -> Outcome:
        """Records an approval; the last required one posts the journal entry.

        Idempotent: the same approver repeating (a double click, a redelivery) is a no-op.
        An item at or above the policy's step-up amount is approved only with ``step_up``
        (the amount retyped, matching): every path, each approver of a dual-control item;
        its ``item.approval_recorded`` record keeps ``step_up: true`` and what was typed.

        Raises:
            StepUpRequired: the item needs a step-up and ``step_up`` is None.
            StepUpMismatch: the amount typed is not the item's.
        """
        loaded = self._tx.policy

        def move(item: Item) -> states.Transition:
            transition = states.approve(item, actor=actor, now=now, note=note)
            if transition.noop:
                return transition
            proof = check_step_up(item, loaded(), step_up)
            if not proof:
                return transition
            events = tuple(
                dataclasses.replace(e, data={**e.data, **proof})
                if e.name == APPROVAL_RECORDED
                else e
                for e in transition.events
            )
            return dataclasses.replace(transition, events=events)

        return await self._tx.decide(
            action=states.Action.APPROVE,
            item_id=item_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            move=move,
            then=self._tx.post_when_approved(EntryKind.APPROVAL, now),
        )

    async def step_up_needed(
        self, *, item_id: int, actor: str, now: datetime, expected_version: int | None = None
    ) -> Item | None:
        """The item, when ``actor`` may approve it now and it needs a step-up (so the
        shell opens the form); None when a plain approval will do (or is a repeat).

        Without a step-up in the policy nothing is read: the approval itself decides,
        and audits any refusal. With one, a refusal here is audited as that approval's
        would be (``decision.refused``, action ``approve``), then raised.

        Raises:
            NotVisible, ItemNotFound, NotAuthorized, IllegalTransition, StaleItem: with
                the reason to show (nothing is opened).
        """
        loaded = self._tx.policy()
        if loaded.policy.step_up is None:
            return None
        seen: Item | None = None
        try:
            async with self._tx.uow(read_only=True) as uow:
                seen = await self._tx.load_for(uow, item_id, Person(actor))
            if not needs_step_up(seen, loaded) or actor in {a.user for a in seen.approvals}:
                # Someone who already approved gets the plain path: a repeat is a no-op,
                # a second approval of their own is refused there with its reason.
                return None
            item = await self.check_may_act(
                item_id=item_id, actor=actor, action=states.Action.APPROVE
            )
            check_version(item, expected_version)
            # The approval's own rules (maker-checker, dual control) on a dry run, so a
            # form that could only be refused on submit is not opened.
            states.approve(item, actor=actor, now=now)
            return item
        except DomainError as refusal:
            entry = refusal_entry(
                action=states.Action.APPROVE.value,
                actor=actor,
                reason=refusal,
                now=now,
                item=seen,
            )
            await self._tx.refused(refusal, entry)
            raise

    async def reject(
        self,
        *,
        item_id: int,
        actor: str,
        reason: str,
        now: datetime,
        expected_version: int | None = None,
    ) -> Outcome:
        """Rejects with a reason of a few words."""
        return await self._tx.decide(
            action=states.Action.REJECT,
            item_id=item_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            move=lambda item: states.reject(item, actor=actor, now=now, reason=reason),
        )

    async def escalate(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Outcome:
        """Sends the item up to its team's leads (a lead may escalate a claimed item)."""
        # A repeat is harmless; decide() lets only someone who sees the item learn it was one.
        return await self._tx.decide(
            action=states.Action.ESCALATE,
            item_id=item_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            move=lambda item: states.escalate(item, actor=actor, now=now, reason=reason),
            claim_check=False,
        )

    async def check_may_act(
        self,
        *,
        item_id: int,
        actor: str,
        action: states.Action | None = None,
        now: datetime | None = None,
    ) -> Item:
        """The item, if ``actor`` may decide on it now (before showing them a form).

        With ``action``, also whether the item's state allows it, so a form that could
        only fail on submit (what the user typed lost) is not opened at all.

        Someone who may not see the item learns nothing about it, not even whether it
        exists: "you cannot see R-5" (:class:`~domain.errors.NotVisible`), before any
        word on its state.

        Raises:
            NotVisible, ItemNotFound, NotAuthorized, IllegalTransition: with the reason
                to show.
        """
        policy = self._tx.policy().policy
        async with self._tx.uow(read_only=True) as uow:
            item = await self._tx.load_for(uow, item_id, Person(actor))
        try:
            check_not_read_only(policy, actor)
        except NotAuthorized as refusal:
            # Audited like a refused decision (at ``now``, which every shell passes): an
            # auditor reaching for a decision's form is attempting that decision.
            if now is not None:
                what = action.value if action is not None else "decide"
                entry = refusal_entry(action=what, actor=actor, reason=refusal, now=now, item=item)
                await self._tx.refused(refusal, entry)
            raise
        if item.state in SETTLED:
            raise IllegalTransition(
                f"{item.human_id} is already {item.state.value}; there is nothing to decide"
            )
        roles = check_can_act(policy, item, actor, action.value if action is not None else None)
        check_not_someone_elses_claim(item, actor, roles)
        if action is not None:
            states.check_allowed(item, action)
        return item
