"""The reads: one item, queues and their pages, the App Home dashboard and counts (and
the Home page a reader chose, kept for their next refresh)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.dashboard import Dashboard, PriorityBand, page_count
from domain.items import Item, JournalEntry, ReviewState
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
        """One item.

        Raises:
            ItemNotFound: no such item.
        """
        async with self._tx.uow(read_only=True) as uow:
            return await self._tx.load(uow, item_id)

    async def journal_of(self, item_id: int) -> list[JournalEntry]:
        """The journal entries made for one item (none until it is posted)."""
        async with self._tx.uow(read_only=True) as uow:
            return await uow.journal.for_item(item_id)

    async def queue(
        self,
        *,
        states_: Sequence[ReviewState] | None = None,
        team: str | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Item]:
        """Items by filter, highest priority first."""
        async with self._tx.uow(read_only=True) as uow:
            return await uow.items.query(
                states=states_,
                team=team,
                teams=teams,
                assignee=assignee,
                limit=limit,
                offset=offset,
            )

    async def queue_page(
        self,
        *,
        states_: Sequence[ReviewState],
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[Item], int]:
        """One page of a queue and the total count (for pagination)."""
        async with self._tx.uow(read_only=True) as uow:
            page = await uow.items.query(
                states=states_, teams=teams, assignee=assignee, limit=limit, offset=offset
            )
            total = await uow.items.count(states=states_, teams=teams, assignee=assignee)
        return page, total

    def visible_teams(self, user: str) -> list[str] | None:
        """Teams whose items the user works on; None (all) for compliance officers."""
        policy = self._tx.policy().policy
        if user in policy.compliance.officers:
            return None
        return [t.name for t in policy.teams_of(user)]

    async def dashboard(
        self, *, user: str, now: datetime, page: int | None = None, page_size: int = 10
    ) -> Dashboard:
        """What the user's App Home shows (counts over their teams; one page of each list).

        ``page`` None is the page the user last chose (:meth:`remember_home_page`), so a
        refresh after someone else's change keeps their place; a page past the end (the
        lists got shorter) shows the last one.
        """
        policy = self._tx.policy().policy
        teams = self.visible_teams(user)
        team_names = [t.name for t in policy.teams] if teams is None else teams
        async with self._tx.uow(read_only=True) as uow:
            if page is None:
                page = await uow.views.home_page(user)
            counts = await uow.items.summary(
                teams=teams, overdue_before=now - policy.sla.remind_after
            )
            mine_total = await uow.items.count(states=OPEN_STATES, assignee=user)
            unclaimed_total = await uow.items.count(states=[ReviewState.PENDING], teams=team_names)
            pages = page_count(max(mine_total, unclaimed_total), page_size)
            page = min(max(page, 0), pages - 1)
            offset = page * page_size
            mine = await uow.items.query(
                states=OPEN_STATES, assignee=user, limit=page_size, offset=offset
            )
            unclaimed = await uow.items.claimable(teams=team_names, limit=page_size, offset=offset)
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
        )

    async def remember_home_page(self, *, user: str, page: int, now: datetime) -> None:
        """Keeps the App Home page the user chose for their next refresh (not audited:
        it changes what they see, not an item)."""
        async with self._tx.uow() as uow:
            await uow.views.set_home_page(user, max(page, 0), now=now)
            await uow.commit()

    async def stats(self, *, user: str, now: datetime) -> dict[str, int]:
        """Counts per state and the dashboard figures, over the user's teams."""
        policy = self._tx.policy().policy
        async with self._tx.uow(read_only=True) as uow:
            return await uow.items.summary(
                teams=self.visible_teams(user), overdue_before=now - policy.sla.remind_after
            )
