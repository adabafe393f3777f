"""Stage 2: matching approved statements against the ledger, stored, reviewed, posted.

This module is where :class:`Matching` comes together, with its reads (matches, checks
and the references of bank lines): the run is in :mod:`domain.usecases.match_run`, the
decisions people take on matches and checks in :mod:`domain.usecases.match_decisions`,
and the steps both share (writing a match, posting an accepted one, closing the
``unmatched`` items it covers, its audit record) in :mod:`domain.usecases.match_steps`.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.matching.records import Band
from domain.matching.stored import CheckRecord, CheckState, MatchRecord, MatchState
from domain.statements.records import Statement
from domain.usecases.match_decisions import MatchDecisions, MatchRefused
from domain.usecases.match_run import MatchRun, RunSummary
from domain.usecases.match_steps import MATCHING_SOURCE

__all__ = [
    "MATCHING_SOURCE",
    "MatchRefused",
    "Matching",
    "RunSummary",
]


class Matching(MatchRun, MatchDecisions):
    """Matching runs, and the decisions people take on matches and checks."""

    async def matches(
        self,
        *,
        band: Band | None = None,
        state: MatchState | None = None,
        statement: int | None = None,
        limit: int = 100,
    ) -> list[MatchRecord]:
        async with self._tx.uow(read_only=True) as uow:
            return await uow.matches.query(
                band=band, state=state, statement_id=statement, limit=limit
            )

    async def checks(
        self, *, state: CheckState | None = None, statement: int | None = None
    ) -> list[CheckRecord]:
        async with self._tx.uow(read_only=True) as uow:
            return await uow.matches.checks(state=state, statement_id=statement)

    async def line_references(
        self, keys: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], str | None]:
        """The reference of each bank line (for the ``matches --json`` contract)."""
        out: dict[tuple[int, int], str | None] = {}
        async with self._tx.uow(read_only=True) as uow:
            heads: dict[int, Statement | None] = {}
            for sid, number in keys:
                if sid not in heads:
                    heads[sid] = await uow.statements.get(sid, with_lines=False)
                head = heads[sid]
                line = (
                    None if head is None else await uow.statements.line(sid, head.currency, number)
                )
                out[(sid, number)] = None if line is None else line.reference
        return out
