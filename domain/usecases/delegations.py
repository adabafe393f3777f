"""Away and back: ``/recon away until DATE delegate @user [note]`` and ``/recon back``.

Going away hands the person's claimed items to the delegate (an item the delegate may
not take, :func:`domain.delegation.may_take`, goes back to the queue instead), offers
them the items awaiting a second approval that the person holds (under the same guard;
one the delegate may not take stays where it is), and
from then on new assignments and reminders go to the delegate too. Every step is
audited: ``person.away``, ``person.back``, and each item's ``item.assigned`` or
``item.released`` with the delegation as its reason. A refusal is audited like any
refused decision.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from domain import states
from domain.audit.records import AuditEntry
from domain.delegation import Delegation, check_delegation, last_day, may_take, resolve
from domain.errors import DomainError
from domain.items import Item, ReviewState
from domain.permissions import check_not_read_only
from domain.usecases.transaction import UseCase, refusal_entry

#: Audit events of a person's absence.
AWAY = "person.away"
BACK = "person.back"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Handover:
    """What going away did: the delegation, items handed over, items returned to the queue."""

    delegation: Delegation
    handed: tuple[Item, ...]
    returned: tuple[Item, ...]


class Delegations(UseCase):
    """Who is away, and to whom their work goes."""

    async def away(
        self, *, actor: str, delegate: str, until: datetime, note: str | None, now: datetime
    ) -> Handover:
        """Starts (or replaces) ``actor``'s delegation to ``delegate`` until ``until``.

        Raises:
            NotAuthorized: an auditor (who holds no work).
            InvalidCommand: to oneself, outside the team, to an auditor, in the past.
        """
        policy = self._tx.policy().policy
        try:
            check_not_read_only(policy, actor)
            check_delegation(policy, user=actor, delegate=delegate, until=until, now=now)
        except DomainError as refusal:
            entry = refusal_entry(
                action="away",
                actor=actor,
                reason=refusal,
                now=now,
                item=None,
                data={"delegate": delegate},
            )
            await self._tx.refused(refusal, entry)
            raise
        delegation = Delegation(
            user=actor, delegate=delegate, until=until, note=note, started_at=now
        )
        handed: list[Item] = []
        returned: list[Item] = []
        async with self._tx.uow() as uow:
            await uow.people.start_delegation(delegation)
            running = await uow.people.active_delegations(now=now)
            await uow.audit.append([_person_entry(AWAY, delegation, now)])
            held = await uow.items.query(
                states=[ReviewState.ASSIGNED, ReviewState.AWAITING_SECOND_APPROVAL],
                assignee=actor,
                limit=500,
            )
            target = resolve(actor, running, now)
            delegated = f"{actor} is away until {last_day(until, policy).isoformat()}: delegated"
            for item in held:
                if item.state is ReviewState.AWAITING_SECOND_APPROVAL:
                    # Its second approval is offered to the delegate under the same
                    # guards; one they may not give stays where it is (it has no
                    # queue to go back to, and anyone else in the team may give it).
                    if target == actor or not may_take(item, target):
                        continue
                    why = delegated
                    moved = states.hand_over_second_approval(
                        item, actor=actor, assignee=target, now=now, reason=why
                    )
                elif target != actor and may_take(item, target):
                    moved = states.assign(
                        item, actor=actor, assignee=target, now=now, ttl=policy.sla.claim_ttl
                    )
                    why = delegated
                else:
                    why = f"{actor} is away and {target} may not take it (prepared or approved it)"
                    moved = states.release(item, actor=actor, now=now, reason=why)
                events = tuple(
                    dataclasses.replace(e, data={**e.data, "delegation": why}) for e in moved.events
                )
                written = await self._tx.update(uow, moved.item, expected_version=item.version)
                if written is None:
                    continue  # changed meanwhile; its new holder keeps it
                await self._tx.record(uow, [(item, written, events)], now)
                (handed if written.assignee == target else returned).append(written)
            await uow.commit()
        return Handover(delegation=delegation, handed=tuple(handed), returned=tuple(returned))

    async def back(self, *, actor: str, now: datetime) -> Delegation | None:
        """Ends ``actor``'s delegation (None when none was running). Items already handed
        over stay with the delegate; new work reaches ``actor`` again."""
        async with self._tx.uow() as uow:
            ended = await uow.people.end_delegation(user=actor, now=now)
            if ended is None:
                return None
            await uow.audit.append([_person_entry(BACK, ended, now)])
            await uow.commit()
        return ended

    async def away_now(self, *, now: datetime) -> list[Delegation]:
        """Everyone away at ``now`` (for App Home)."""
        async with self._tx.uow(read_only=True) as uow:
            return await uow.people.active_delegations(now=now)


def _person_entry(event: str, delegation: Delegation, now: datetime) -> AuditEntry:
    return AuditEntry(
        time=now,
        event=event,
        actor=delegation.user,
        data={
            "delegate": delegation.delegate,
            "until": delegation.until.isoformat(),
            "note": delegation.note,
        },
    )
