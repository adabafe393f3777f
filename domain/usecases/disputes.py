"""The dispute branch of an item: open it, wait on the counterparty, resolve it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain import sla, states
from domain.accounts import Accounts
from domain.escalation import check_tier_permits
from domain.fx import AppliedRate
from domain.items import (
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    Item,
    JournalEntry,
    ReviewState,
)
from domain.journal import EntryKind, build_adjustment
from domain.permissions import Person
from domain.policy import Policy
from domain.ports import UnitOfWork
from domain.routing import applied_rate, item_rate_day, write_off_approvers
from domain.step_up import StepUp, check_write_off_step_up, write_off_step_up
from domain.usecases.posting import entry_data
from domain.usecases.rates import load_rates
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


def adjustment(item: Item, now: datetime, accounts: Accounts | None) -> JournalEntry | None:
    """The entry of a dispute just resolved as ``adjusted``, or None for any other item.

    The item is as the resolution left it (back in review, its dispute resolved with the
    amount). An adjustment of zero moves nothing, so it makes no entry.
    """
    dispute = item.dispute
    if (
        item.state is not ReviewState.PENDING
        or dispute is None
        or dispute.outcome is not DisputeOutcome.ADJUSTED
        or dispute.resolved_at != now
        or not dispute.resolution_amount
    ):
        return None
    return build_adjustment(item, now=now, accounts=accounts)


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
        expected_version: int | None = None,
    ) -> Outcome:
        """Marks a dispute as waiting on the counterparty (SLA paused) or open again.

        ``expected_version``: the version the person saw (a click on a stale card is refused).
        """
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
            expected_version=expected_version,
            check_first=True,
            claim_check=False,
        )

    async def note_dispute(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        text: str,
        expected_version: int | None = None,
    ) -> Outcome:
        """Adds a note to an item's open dispute (audited as ``dispute.note``)."""
        return await self._tx.decide(
            action=states.Action.NOTE_DISPUTE,
            item_id=item_id,
            actor=actor,
            now=now,
            move=lambda item: states.add_dispute_note(item, actor=actor, now=now, text=text),
            expected_version=expected_version,
            check_first=True,
            claim_check=False,
        )

    async def write_off_step_up(
        self, *, item_id: int, actor: str, amount: Decimal | None
    ) -> Decimal | None:
        """The amount a write-off sign-off by ``actor`` must retype (step-up), or None
        when it needs none; sized at the same dated rate as the sign-off itself. The form
        asks before its ack; :meth:`resolve_dispute` checks again.

        Raises:
            NotVisible, ItemNotFound: ``actor`` may not see the item.
        """
        loaded = self._tx.policy()
        if loaded.policy.step_up is None:
            return None
        async with self._tx.uow(read_only=True) as uow:
            item = await self._tx.load_for(uow, item_id, Person(actor))
            on = item_rate_day(item)
            rates = await load_rates(uow, [(item.facts.currency, on)], loaded)
        rate = applied_rate(item.facts.currency, loaded, rates=rates, on=on)
        return write_off_step_up(item, loaded, amount=amount, rate=rate)

    async def resolve_dispute(
        self,
        *,
        item_id: int,
        actor: str,
        now: datetime,
        outcome: DisputeOutcome,
        note: str | None = None,
        amount: Decimal | None = None,
        expected_version: int | None = None,
        step_up: StepUp | None = None,
    ) -> Outcome:
        """Closes a dispute; a write-off above the dual-control limit needs two approvers.

        ``amount``: what was adjusted or written off (see ``states.resolve_dispute``). An
        adjusted resolution makes its adjustment entry (:func:`adjustment`) in the same
        transaction, through :meth:`Transactions.store_entry` like every entry; the last
        sign-off of a write-off posts the write-off entry.
        ``expected_version``: the version the person saw; a repeat of a resolution or
        sign-off they already gave is still a no-op, whatever version they saw.
        ``step_up``: the written-off amount retyped; each sign-off of a write-off at or
        above the policy's step-up amount is refused without it (every path: the form,
        and anything calling this), and its records keep ``step_up: true``.

        Raises:
            StepUpRequired: the write-off needs a step-up and ``step_up`` is None.
            StepUpMismatch: the amount typed is not the amount written off.
        """
        loaded = self._tx.policy()
        accounts = loaded.policy.accounts
        # The dual-control rule of a write-off converts at the dated rate of the item's
        # day (its booked_on, else the day it was ingested), read in the transaction.
        found: list[AppliedRate | None] = [None]

        async def find_rate(uow: UnitOfWork, item: Item) -> None:
            on = item_rate_day(item)
            rates = await load_rates(uow, [(item.facts.currency, on)], loaded)
            found[0] = applied_rate(item.facts.currency, loaded, rates=rates, on=on)

        def move(item: Item) -> states.Transition:
            rate = found[0]
            if outcome is DisputeOutcome.WRITTEN_OFF:
                check_tier_permits(loaded.policy, item, actor, "write_off")
            transition = states.resolve_dispute(
                item,
                actor=actor,
                now=now,
                outcome=outcome,
                note=note,
                write_off_approvals_required=write_off_approvers(
                    item,
                    loaded,
                    amount=amount if outcome is DisputeOutcome.WRITTEN_OFF else None,
                    rate=rate,
                ),
                amount=amount,
            )
            extra: dict[str, Any] = {}
            if outcome is DisputeOutcome.WRITTEN_OFF and not transition.noop:
                extra = check_write_off_step_up(item, loaded, step_up, amount=amount, rate=rate)
            if (
                outcome is DisputeOutcome.WRITTEN_OFF
                and rate is not None
                and item.facts.currency != loaded.policy.reporting_currency
            ):
                # Every record of the write-off decision says which rate sized it.
                extra["fx"] = rate.audit_data()
            if extra:
                transition = dataclasses.replace(
                    transition,
                    events=tuple(
                        dataclasses.replace(e, data={**e.data, **extra}) for e in transition.events
                    ),
                )
            entry = None if transition.noop else adjustment(transition.item, now, accounts)
            if entry is None:
                return transition
            # The resolution's record names the entry it made (key, lines, dispute).
            return dataclasses.replace(
                transition,
                events=tuple(
                    dataclasses.replace(
                        e,
                        data={
                            **e.data,
                            "entry": {"ledger_ref": entry.ledger_ref, **entry_data(entry)},
                        },
                    )
                    if e.name == "dispute.resolved"
                    else e
                    for e in transition.events
                ),
            )

        post_write_off = self._tx.post_when_approved(EntryKind.WRITE_OFF, now)

        async def then(uow: UnitOfWork, done: Outcome) -> Outcome:
            entry = adjustment(done.item, now, accounts)
            if entry is None:
                return await post_write_off(uow, done)
            return dataclasses.replace(done, journal_entry=await self._tx.store_entry(uow, entry))

        return await self._tx.decide(
            action=states.Action.RESOLVE_DISPUTE,
            item_id=item_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            check_first=True,
            claim_check=False,
            repeat=lambda item: states.is_resolution_repeat(item, actor, outcome),
            move=move,
            then=then,
            before_move=find_rate,
        )
