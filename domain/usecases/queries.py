"""The reads: one item, queues and their pages, the App Home dashboard and counts (and
the Home page a reader chose, kept for their next refresh).

Every read a person makes takes the viewer and applies the one visibility rule of
:mod:`domain.permissions` here, so no surface can forget it: a person sees the items of
the teams they review or lead (compliance officers, auditors, and the operator's CLI,
see all).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.dashboard import Dashboard, PriorityBand, page_count
from domain.errors import InvalidCommand, NotVisible
from domain.escalation import in_current_tier, tiers_beyond_teams
from domain.items import Item, JournalEntry, ReviewState
from domain.ledger_status import LEDGER_BREAKER, LedgerHealth
from domain.permissions import (
    Person,
    Role,
    Viewer,
    can_see,
    is_read_only,
    roles_of,
    visible_teams,
)
from domain.policy import Policy
from domain.ports import UnitOfWork
from domain.sla import Rung
from domain.statements.records import Stage1Status
from domain.usecases.transaction import UseCase

#: States in which an item still needs a human.
OPEN_STATES = (
    ReviewState.PENDING,
    ReviewState.ASSIGNED,
    ReviewState.AWAITING_SECOND_APPROVAL,
    ReviewState.ESCALATED,
    ReviewState.DISPUTED,
    ReviewState.DEAD_LETTER,
)


class Queries(UseCase):
    """What reviewers and operators read."""

    async def get(self, item_id: int) -> Item:
        """One item, unfiltered: the desk's own read, for what it posts itself (the
        notifier renders cards for team channels with it). A person's read is :meth:`item`.

        Raises:
            ItemNotFound: no such item.
        """
        async with self._tx.uow(read_only=True) as uow:
            return await self._tx.load(uow, item_id)

    async def item(self, item_id: int, *, viewer: Viewer) -> Item:
        """One item, if ``viewer`` may see it (show, Details, a form's submit check).

        Raises:
            NotVisible: ``viewer`` may not see it, or it does not exist (same sentence).
            ItemNotFound: it does not exist, told to a viewer who sees every item.
        """
        async with self._tx.uow(read_only=True) as uow:
            return await self._tx.load_for(uow, item_id, viewer)

    async def journal_of(self, item_id: int, *, viewer: Viewer) -> list[JournalEntry]:
        """The journal entries made for one item (none until it is posted), if ``viewer``
        may see the item (raises as :meth:`item` does)."""
        async with self._tx.uow(read_only=True) as uow:
            await self._tx.load_for(uow, item_id, viewer)
            return await uow.journal.for_item(item_id)

    def _narrow(self, viewer: Viewer, teams: Sequence[str] | None) -> list[str] | None:
        """``teams`` (None: every team) cut to those ``viewer`` sees; None is every item."""
        visible = visible_teams(self._tx.policy().policy, viewer)
        if visible is None:
            return None if teams is None else list(teams)
        return list(visible) if teams is None else [t for t in teams if t in visible]

    async def queue(
        self,
        *,
        viewer: Viewer,
        states_: Sequence[ReviewState] | None = None,
        team: str | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Item]:
        """Items by filter that ``viewer`` may see, highest priority first."""
        scoped = self._narrow(viewer, teams)
        if team is not None and not can_see(self._tx.policy().policy, viewer, team):
            scoped = []
        async with self._tx.uow(read_only=True) as uow:
            return await uow.items.query(
                states=states_,
                team=team,
                teams=scoped,
                assignee=assignee,
                limit=limit,
                offset=offset,
            )

    async def queue_page(
        self,
        *,
        viewer: Viewer,
        states_: Sequence[ReviewState],
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[Item], int]:
        """One page of a queue and its total count (for pagination), over what ``viewer``
        may see: ``teams`` None is all of it, ``assignee`` narrows it to their claims.

        Raises:
            InvalidCommand: a named team the policy does not have.
            NotVisible: a named team whose items ``viewer`` may not see.
        """
        policy = self._tx.policy().policy
        for name in teams or ():
            if policy.team(name) is None:
                raise InvalidCommand(f"there is no team `{name}`")
            if not can_see(policy, viewer, name):
                raise NotVisible(f"you are not a member of `{name}`")
        scoped = self._narrow(viewer, teams)
        async with self._tx.uow(read_only=True) as uow:
            page = await uow.items.query(
                states=states_, teams=scoped, assignee=assignee, limit=limit, offset=offset
            )
            total = await uow.items.count(states=states_, teams=scoped, assignee=assignee)
        return page, total

    async def dashboard(
        self, *, user: str, now: datetime, page: int | None = None, page_size: int = 10
    ) -> Dashboard:
        """What the user's App Home shows (counts over their teams; one page of each list).

        ``page`` None is the page the user last chose (:meth:`remember_home_page`), so a
        refresh after someone else's change keeps their place; a page past the end (the
        lists got shorter) shows the last one. Compliance officers also get the ledger's
        health (its breaker and the entries not yet posted); nobody else reads it.

        Someone in an escalation tier beyond their teams (a tier of named members, the
        controllers) also gets the open items of other teams sitting in that tier, which
        they may act on (:attr:`~domain.permissions.Role.TIER`).
        """
        policy = self._tx.policy().policy
        teams = self._narrow(Person(user), None)  # None: compliance, every item
        team_names = [t.name for t in policy.teams] if teams is None else teams
        async with self._tx.uow(read_only=True) as uow:
            if page is None:
                page = await uow.views.home_page(user)
            counts = await uow.items.summary(
                teams=teams, overdue_before=now - policy.sla.remind_after
            )
            # Their claims in teams they still see (someone who left a team sees none).
            mine_total = await uow.items.count(states=OPEN_STATES, teams=teams, assignee=user)
            unclaimed_total = await uow.items.count(states=[ReviewState.PENDING], teams=team_names)
            in_my_tiers = await _in_tiers_beyond_teams(uow, policy, user, teams)
            pages = page_count(max(mine_total, unclaimed_total, len(in_my_tiers)), page_size)
            page = min(max(page, 0), pages - 1)
            offset = page * page_size
            mine = await uow.items.query(
                states=OPEN_STATES, teams=teams, assignee=user, limit=page_size, offset=offset
            )
            unclaimed = await uow.items.claimable(teams=team_names, limit=page_size, offset=offset)
            statements_awaiting = await uow.statements.count(
                status=Stage1Status.PENDING_REVIEW, teams=teams
            )
            matches_awaiting = await uow.matches.count_pending(teams=teams)
            members = {
                u for t in policy.teams if t.name in team_names for u in (*t.reviewers, *t.leads)
            }
            away = tuple(
                d for d in await uow.people.active_delegations(now=now) if d.user in members
            )
            ledger = None
            if Role.COMPLIANCE in roles_of(policy, user, None):
                ledger = LedgerHealth(
                    breaker=await uow.ledger_status.breaker(LEDGER_BREAKER),
                    counts=await uow.ledger_status.delivery_counts(),
                )
        return Dashboard(
            user=user,
            teams=tuple(team_names),
            refreshed_at=now,
            pending_by_band={
                PriorityBand.HIGH: counts["pending_high"],
                PriorityBand.MEDIUM: counts["pending_medium"],
                PriorityBand.LOW: counts["pending_low"],
            },
            overdue=counts["overdue"],
            awaiting_second_approval=counts["awaiting_second_approval"],
            open_disputes=counts["open_disputes"],
            dead_lettered=counts["dead_lettered"],
            my_items=tuple(mine),
            my_items_total=mine_total,
            unclaimed=tuple(unclaimed),
            unclaimed_total=unclaimed_total,
            page=page,
            page_size=page_size,
            ledger=ledger,
            read_only=is_read_only(policy, user),
            statements_awaiting=statements_awaiting,
            matches_awaiting=matches_awaiting,
            away=away,
            in_my_tiers=tuple(in_my_tiers[offset : offset + page_size]),
            in_my_tiers_total=len(in_my_tiers),
        )

    async def remember_home_page(self, *, user: str, page: int, now: datetime) -> None:
        """Keeps the App Home page the user chose for their next refresh (not audited:
        it changes what they see, not an item)."""
        async with self._tx.uow() as uow:
            await uow.views.set_home_page(user, max(page, 0), now=now)
            await uow.commit()

    async def stats(self, *, user: str, now: datetime) -> dict[str, int]:
        """Counts per state and the dashboard figures, over the items ``user`` may see."""
        policy = self._tx.policy().policy
        async with self._tx.uow(read_only=True) as uow:
            return await uow.items.summary(
                teams=self._narrow(Person(user), None),
                overdue_before=now - policy.sla.remind_after,
            )


async def _in_tiers_beyond_teams(
    uow: UnitOfWork, policy: Policy, user: str, teams: Sequence[str] | None
) -> list[Item]:
    """The open items outside ``teams`` (the user's) that sit in an escalation tier the
    user is in, highest priority first; none for whoever sees every team anyway, or
    without an escalation graph (the default ladder's tiers are the team's own people and
    compliance). Only escalated items leave the first tier, so unless the user is in that
    one the store is asked for escalated items alone."""
    if teams is None or policy.escalation is None:
        return []
    tiers = tiers_beyond_teams(policy, user)
    if not tiers:
        return []
    first = policy.ladder.tiers[0] in tiers
    candidates = await uow.items.open_outside(
        teams=teams, min_ladder_level=0 if first else int(Rung.ESCALATE)
    )
    return [i for i in candidates if in_current_tier(policy, i, user)]
