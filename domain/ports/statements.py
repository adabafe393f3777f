"""Ports of Stage 1: reading bank files and keeping the statements they hold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import IO, Protocol

from domain.statements.parsed import ParseResult, ParseStream, StatementFormat
from domain.statements.records import (
    LineTotals,
    MatchStatus,
    Original,
    Stage1Status,
    Statement,
    StatementKey,
    StatementLine,
)


class StatementParser(Protocol):
    """Reads a bank file: the format adapters' registry (``statements.parse``)."""

    def __call__(self, data: bytes, *, format: StatementFormat | None = None) -> ParseResult:
        """Every statement of the file, and a problem for each one it could not read;
        ``format`` None detects it from the content."""
        ...

    def stream(
        self, data: bytes | IO[bytes], *, format: StatementFormat | None = None
    ) -> ParseStream:
        """The same statements and problems in file order, each read when it is taken
        (what an import uses: one statement of a big file in memory at a time).
        ``data`` may be the file itself (binary, seekable), read from its start and,
        for the big formats, never whole."""
        ...


class StatementRepository(Protocol):
    """Bank statements (Stage 1), their lines and the original files, version-checked."""

    async def add(self, statement: Statement) -> Statement:
        """Inserts the statement and all its lines; returns it with its id.

        Raises:
            StaleItem: a statement with the same identity is stored (another import got
                there first); the unit of work must be rolled back.
        """
        ...

    async def get(self, statement_id: int, *, with_lines: bool = True) -> Statement | None:
        """The statement (lines in number order, unless ``with_lines`` is False), or None."""
        ...

    async def get_by_key(self, key: StatementKey) -> Statement | None:
        """The statement with that identity, with its lines, or None."""
        ...

    async def update(
        self, statement: Statement, *, expected_version: int, lines: Sequence[int] | None = None
    ) -> bool:
        """Writes ``statement`` if the stored version is still ``expected_version``.

        ``lines`` None rewrites every line (a new revision); else only the lines with
        those numbers changed (an edit). Returns False (writing nothing) when someone
        changed it first.
        """
        ...

    async def previous(
        self, *, account: str, currency: str, before: date, exclude_id: int | None
    ) -> Statement | None:
        """The same account's statement in that currency that started before ``before``
        and ended last (without lines), skipping ``exclude_id``; None when there is none."""
        ...

    async def following(
        self, *, account: str, currency: str, after: date, exclude_id: int | None
    ) -> Statement | None:
        """The same account's statement in that currency that starts first after
        ``after`` (without lines), skipping ``exclude_id``; None when there is none."""
        ...

    async def query(
        self,
        *,
        status: Stage1Status | None = None,
        account: str | None = None,
        teams: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Statement]:
        """Statements (without lines) by account, period start, id; filtered (``teams``:
        only those of these teams)."""
        ...

    async def count(
        self, *, status: Stage1Status | None = None, teams: Sequence[str] | None = None
    ) -> int:
        """How many statements are in ``status`` (any) of ``teams`` (any)."""
        ...

    async def line_totals(self, statement_id: int, currency: str) -> LineTotals:
        """The statement's :class:`LineTotals`, summed in the store (``currency`` is the
        statement's, for its minor units)."""
        ...

    async def lines_page(
        self, statement_id: int, currency: str, *, offset: int, limit: int
    ) -> tuple[StatementLine, ...]:
        """``limit`` lines of the statement from ``offset`` (0-based), in number order."""
        ...

    async def line(self, statement_id: int, currency: str, number: int) -> StatementLine | None:
        """The statement's line of that number, or None."""
        ...

    async def line_counts(self, statement_ids: Sequence[int]) -> dict[int, int]:
        """How many lines count (are not removed) in each statement."""
        ...

    async def approved_lines(
        self,
        *,
        match_status: MatchStatus | None = MatchStatus.UNMATCHED,
        after: tuple[int, int] | None = None,
        limit: int = 1000,
    ) -> list[tuple[Statement, StatementLine]]:
        """Lines (not removed) of approved statements with that match status (any when
        None), in (statement id, line number) order after ``after``, each with its
        statement (without lines): the input of Stage 2."""
        ...

    async def set_line_match_statuses(
        self, keys: Sequence[tuple[int, int]], status: MatchStatus
    ) -> int:
        """Sets Stage 2's status of many (statement id, line number) lines at once;
        returns how many exist among them."""
        ...

    async def set_line_match_status(
        self, statement_id: int, number: int, status: MatchStatus
    ) -> bool:
        """Sets Stage 2's status of a line; False when there is no such line."""
        ...

    async def keep_original(self, *, file_name: str, original: Original, now: datetime) -> None:
        """Keeps a bank file once per SHA-256 (as :class:`Original` packs it)."""
        ...

    async def original(self, sha256: str) -> tuple[str, bytes] | None:
        """The file name and bytes kept under ``sha256``, or None."""
        ...
