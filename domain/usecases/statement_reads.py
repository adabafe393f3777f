"""Stage 1 reads: a statement, its card and pages of its lines, listings and the
review queue, for whoever may see the team's work; and the approved lines Stage 2
matches."""

from __future__ import annotations

from domain.errors import NotVisible
from domain.permissions import Viewer, can_see, sees_everything, visible_teams
from domain.statements.records import (
    EntriesPage,
    LineTotals,
    MatchStatus,
    Stage1Status,
    Statement,
    StatementLine,
    format_statement_id,
    page_count,
)
from domain.usecases.statement_steps import StatementNotFound, StatementSteps


class StatementReads(StatementSteps):
    """Reading statements: one (with or without its lines), its card, a page of its
    lines, one line, listings, and the approved lines Stage 2 matches."""

    async def get(self, statement_id: int, *, viewer: Viewer, with_lines: bool = True) -> Statement:
        """One statement (with its lines unless ``with_lines`` is False), if ``viewer``
        may see its team's work.

        Raises:
            StatementNotFound: no such statement (told only to who sees every team).
            NotVisible: ``you cannot see S-5``, whether S-5 exists or not, as for items.
        """
        async with self._uow(read_only=True) as uow:
            found = await uow.statements.get(statement_id, with_lines=with_lines)
        policy = self._policy().policy
        if found is None and sees_everything(policy, viewer):
            raise StatementNotFound(f"there is no statement {format_statement_id(statement_id)}")
        if found is None or not can_see(policy, viewer, found.team):
            raise NotVisible(f"you cannot see {format_statement_id(statement_id)}")
        return found

    async def card(self, statement_id: int, *, viewer: Viewer) -> tuple[Statement, LineTotals]:
        """What a statement's card shows: the statement without its lines, and their
        totals summed in the store (a card of 100,000 lines reads none of them).

        Raises:
            StatementNotFound, NotVisible: as :meth:`get`.
        """
        statement = await self.get(statement_id, viewer=viewer, with_lines=False)
        async with self._uow(read_only=True) as uow:
            totals = await uow.statements.line_totals(statement_id, statement.currency)
        return statement, totals

    async def entries(
        self, statement_id: int, *, viewer: Viewer, page: int, page_size: int
    ) -> EntriesPage:
        """One page of a statement's lines (``page`` from 0, clamped to the pages there
        are), read from the store page by page, if ``viewer`` may see it.

        Raises:
            StatementNotFound, NotVisible: as :meth:`get`.
        """
        statement, totals = await self.card(statement_id, viewer=viewer)
        pages = page_count(totals.counted + totals.removed, page_size)
        page = min(max(page, 0), pages - 1)
        async with self._uow(read_only=True) as uow:
            lines = await uow.statements.lines_page(
                statement_id, statement.currency, offset=page * page_size, limit=page_size
            )
        return EntriesPage(
            statement=statement,
            lines=lines,
            page=page,
            pages=pages,
            page_size=page_size,
            totals=totals,
        )

    async def line(
        self, statement_id: int, number: int, *, viewer: Viewer
    ) -> tuple[Statement, StatementLine | None]:
        """The statement (without its lines) and its line ``number`` (None when it has
        none), if ``viewer`` may see it: what an edit form is checked against.

        Raises:
            StatementNotFound, NotVisible: as :meth:`get`.
        """
        statement = await self.get(statement_id, viewer=viewer, with_lines=False)
        async with self._uow(read_only=True) as uow:
            return statement, await uow.statements.line(statement_id, statement.currency, number)

    async def listing(
        self,
        *,
        viewer: Viewer,
        status: Stage1Status | None = None,
        account: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[Statement, int]]:
        """Statements (without lines) of the teams ``viewer`` sees, and how many lines
        count in each (paged in the store, so a page is full whatever the teams)."""
        policy = self._policy().policy
        teams = visible_teams(policy, viewer)
        async with self._uow(read_only=True) as uow:
            found = await uow.statements.query(
                status=status, account=account, teams=teams, limit=limit, offset=offset
            )
            counts = await uow.statements.line_counts([s.id for s in found if s.id is not None])
        return [(s, counts.get(s.id or 0, 0)) for s in found]

    async def waiting(
        self, *, viewer: Viewer, limit: int, offset: int = 0
    ) -> tuple[list[tuple[Statement, int]], int]:
        """One page of the statements waiting for review that ``viewer`` sees (with their
        counted lines), and how many there are in all."""
        rows = await self.listing(
            viewer=viewer, status=Stage1Status.PENDING_REVIEW, limit=limit, offset=offset
        )
        teams = visible_teams(self._policy().policy, viewer)
        async with self._uow(read_only=True) as uow:
            total = await uow.statements.count(status=Stage1Status.PENDING_REVIEW, teams=teams)
        return rows, total

    async def approved_lines(
        self, *, after: tuple[int, int] | None = None, limit: int = 1000
    ) -> list[tuple[Statement, StatementLine]]:
        """Unmatched lines of approved statements: the input of Stage 2."""
        async with self._uow(read_only=True) as uow:
            return await uow.statements.approved_lines(
                match_status=MatchStatus.UNMATCHED, after=after, limit=limit
            )
