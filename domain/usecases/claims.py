"""Who holds an item: claim (the next one, or a given one), assign, release, and the
sweeper that returns claims whose lease ended."""

from __future__ import annotations

from datetime import datetime

from domain import sla, states
from domain.delegation import may_take, resolve
from domain.errors import DomainError, InvalidCommand, NotAuthorized, NothingToClaim, User
from domain.items import Item, ReviewState
from domain.permissions import OVERSEERS, check_not_read_only, roles_of
from domain.policy import AssignmentMode
from domain.usecases.assignment import auto_assign
from domain.usecases.transaction import Outcome, UseCase, refusal_entry

#: How many lost races a claim runs before giving up on a busy queue.
CLAIM_CANDIDATES = 25


class Claims(UseCase):
    """Claims and their leases."""

    async def claim_next(self, *, actor: str, now: datetime) -> Outcome:
        """Claims the highest-priority unclaimed item in the actor's teams, exclusively.

        Two concurrent claims never get the same item: the candidate is read with
        ``skip_locked`` (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so a concurrent claimer
        takes the next best item instead of waiting for this one), the claim is a
        version-checked update, and a lost race moves on to the next candidate. One
        candidate at a time: locking several would hand a concurrent claimer items
        further down the queue while better ones sit locked and unused.
        """
        policy = self._tx.policy().policy
        try:
            check_not_read_only(policy, actor)
        except DomainError as refusal:
            entry = refusal_entry(
                action=states.Action.CLAIM.value, actor=actor, reason=refusal, now=now, item=None
            )
            await self._tx.refused(refusal, entry)
            raise
        teams = [t.name for t in policy.teams_of(actor)]
        if not teams:
            raise NotAuthorized("you are not a reviewer or lead of any team")
        async with self._tx.uow() as uow:
            # The actor's own items are left out by the query (they could never approve
            # them), so they cannot crowd the others out of the candidates.
            for _attempt in range(CLAIM_CANDIDATES):
                # Asked afresh after a lost race: the winner's item is no longer pending.
                candidates = await uow.items.claimable(
                    teams=teams, limit=1, exclude_prepared_by=actor, skip_locked=True
                )
                if not candidates:
                    break
                (item,) = candidates
                transition = states.claim(item, actor=actor, now=now, ttl=policy.sla.claim_ttl)
                claimed = sla.start_if_pulled(item, transition.item, now)
                written = await self._tx.update(uow, claimed, expected_version=item.version)
                if written is not None:
                    await self._tx.record(uow, [(item, written, transition.events)], now)
                    await uow.commit()
                    return Outcome(item=written, events=transition.events)
        raise NothingToClaim("nothing is waiting in your teams' queues right now")

    async def claim(
        self, *, item_id: int, actor: str, now: datetime, expected_version: int | None = None
    ) -> Outcome:
        """Claims one specific item (a repeat by its holder is a no-op)."""
        ttl = self._tx.policy().policy.sla.claim_ttl
        return await self._tx.decide(
            action=states.Action.CLAIM,
            item_id=item_id,
            actor=actor,
            now=now,
            expected_version=expected_version,
            move=lambda item: states.claim(item, actor=actor, now=now, ttl=ttl),
            repeat=lambda item: item.state is ReviewState.ASSIGNED and item.assignee == actor,
            check_first=True,
            claim_check=False,
        )

    async def assign(self, *, item_id: int, actor: str, assignee: str, now: datetime) -> Outcome:
        """Hands the item to a reviewer: leads and officers assign anyone, reviewers themselves.

        Someone away gets nothing: the item goes to their delegate instead, unless the
        delegate prepared it or already approved it (then the assignment is refused).
        """
        policy = self._tx.policy().policy
        async with self._tx.uow(read_only=True) as uow:
            delegations = await uow.people.active_delegations(now=now)
        chosen = assignee
        assignee = resolve(chosen, delegations, now)

        def move(item: Item) -> states.Transition:
            if assignee != chosen and not may_take(item, assignee):
                raise InvalidCommand(
                    User(chosen),
                    " is away and their delegate ",
                    User(assignee),
                    f" may not take {item.human_id} (prepared or approved it)",
                )
            if assignee != actor and not roles_of(policy, actor, item.team) & OVERSEERS:
                raise NotAuthorized(
                    "only team leads and compliance officers assign items to others"
                )
            if not roles_of(policy, assignee, item.team):
                raise InvalidCommand(
                    User(assignee), f" is not a reviewer of {item.team or 'any team'}"
                )
            return states.assign(
                item, actor=actor, assignee=assignee, now=now, ttl=policy.sla.claim_ttl
            )

        return await self._tx.decide(
            action=states.Action.ASSIGN,
            item_id=item_id,
            actor=actor,
            now=now,
            move=move,
            check_first=True,
            claim_check=False,
        )

    async def release(self, *, item_id: int, actor: str, now: datetime) -> Outcome:
        """The assignee (or a lead) lets go of a claimed item."""
        policy = self._tx.policy().policy

        def move(item: Item) -> states.Transition:
            states.check_allowed(item, states.Action.RELEASE)  # unclaimed: nothing to release
            if item.assignee != actor and not roles_of(policy, actor, item.team) & OVERSEERS:
                raise NotAuthorized(
                    f"{item.human_id} is claimed by ", User(item.assignee or "nobody")
                )
            return states.release(item, actor=actor, now=now, reason="released by assignee")

        return await self._tx.decide(
            action=states.Action.RELEASE,
            item_id=item_id,
            actor=actor,
            now=now,
            move=move,
            check_first=True,
            claim_check=False,
        )

    async def release_expired_claims(self, *, now: datetime, limit: int = 500) -> list[Item]:
        """Returns claims whose lease ended to the queue (the claim sweeper)."""
        released: list[Item] = []
        holders: dict[int, str] = {}
        async with self._tx.uow() as uow:
            for item in await uow.items.expired_claims(now=now, limit=limit):
                transition = states.release(
                    item, actor=states.SYSTEM, now=now, reason="claim lease expired"
                )
                written = await self._tx.update(uow, transition.item, expected_version=item.version)
                if written is not None:
                    await self._tx.record(uow, [(item, written, transition.events)], now)
                    released.append(written)
                    if written.id is not None and item.assignee is not None:
                        holders[written.id] = item.assignee
            # Auto teams: straight to the next eligible reviewer, not back to the holder.
            await auto_assign(self._tx, uow, released, now, let_go=holders)
            await uow.commit()
        return released

    async def assign_waiting(self, *, now: datetime, limit: int = 200) -> list[Item]:
        """Assigns the waiting immediate items of ``auto`` teams to whoever is eligible
        now (capacity freed, someone back, a claim released): the sweeper's second half.
        Items nobody can take keep waiting; their leads were told once already."""
        loaded = self._tx.policy()
        auto = [t.name for t in loaded.policy.teams if t.assignment is AssignmentMode.AUTO]
        if not auto:
            return []
        async with self._tx.uow() as uow:
            # Skip what another replica's sweep holds: it is assigning those right now.
            waiting = await uow.items.claimable(teams=auto, limit=limit, skip_locked=True)
            written = await auto_assign(self._tx, uow, waiting, now)
            await uow.commit()
        return [i for i in written if i.assignee is not None]
