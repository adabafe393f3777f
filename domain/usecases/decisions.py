"""A reviewer's decisions on one item: approve, reject, escalate; and whether they may."""

from __future__ import annotations

from datetime import datetime

from domain import states
from domain.errors import IllegalTransition
from domain.items import Item
from domain.journal import EntryKind
from domain.permissions import Person, check_can_act, check_not_someone_elses_claim
from domain.sla import SETTLED
from domain.usecases.transaction import Outcome, UseCase


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
    ) -> Outcome:
        """Records an approval; the last required one posts the journal entry.

        Idempotent: the same approver repeating (a double click, a redelivery) is a no-op.
        """
        return await self._tx.decide(
            action=states.Action.APPROVE,
            item_id=item_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            move=lambda item: states.approve(item, actor=actor, now=now, note=note),
            then=self._tx.post_when_approved(EntryKind.APPROVAL, now),
        )

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
        self, *, item_id: int, actor: str, action: states.Action | None = None
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
        if item.state in SETTLED:
            raise IllegalTransition(
                f"{item.human_id} is already {item.state.value}; there is nothing to decide"
            )
        roles = check_can_act(policy, item, actor)
        check_not_someone_elses_claim(item, actor, roles)
        if action is not None:
            states.check_allowed(item, action)
        return item
