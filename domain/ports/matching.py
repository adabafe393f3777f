"""Ports of Stage 2: the general-ledger entries and FX rates it matches bank lines
against, and the matches and checks it makes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Protocol

from domain.fx import FxRate
from domain.gl import LedgerEntry, StoredLedgerEntry
from domain.items import RiskTier
from domain.matching.history import MatchTally
from domain.matching.records import Band
from domain.matching.stored import CheckRecord, CheckState, MatchRecord, MatchState
from domain.statements.records import (
    MatchStatus,
)


class LedgerRepository(Protocol):
    """General-ledger entries by (entry id, account), at their latest version."""

    async def get_many(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredLedgerEntry]:
        """The stored entries among ``keys`` (one round trip per few hundred keys)."""
        ...

    async def add_many(
        self, entries: Sequence[LedgerEntry], *, run_id: int | None, now: datetime
    ) -> None:
        """Inserts new entries at version 1, ``unmatched``.

        Raises:
            an integrity error of the backend: one of the keys is stored already.
        """
        ...

    async def revise(
        self, entry: LedgerEntry, *, expected_version: int, run_id: int | None, now: datetime
    ) -> bool:
        """Replaces an unmatched entry's content as its next version; False when the
        stored entry is not at ``expected_version`` or is matched (nothing written)."""
        ...

    async def set_match_status(
        self, key: tuple[str, str], status: MatchStatus, *, now: datetime
    ) -> bool:
        """Sets Stage 2's status of an entry; False when there is no such entry."""
        ...

    async def set_match_statuses(
        self, keys: Sequence[tuple[str, str]], status: MatchStatus, *, now: datetime
    ) -> int:
        """:meth:`set_match_status` for many (entry id, account) keys at once; returns how
        many entries exist among them."""
        ...

    async def open_entries(self, *, account: str, currency: str) -> list[StoredLedgerEntry]:
        """The unmatched entries of a GL account in a currency, by entry id."""
        ...


class MatchRepository(Protocol):
    """Stage 2's matches, their sides, and the consistency checks of matching runs."""

    async def add(self, record: MatchRecord) -> MatchRecord:
        """Inserts a match and its sides; returns it with its id."""
        ...

    async def update(self, record: MatchRecord, *, expected_version: int) -> bool:
        """Writes the match (state, score, components, sides) at ``expected_version`` + 1;
        False (nothing written) when the stored one is no longer at ``expected_version``."""
        ...

    async def get(self, match_id: int) -> MatchRecord | None:
        """The match, or None."""
        ...

    async def live(self) -> list[MatchRecord]:
        """Every match not rejected (pending or accepted), by id."""
        ...

    async def query(
        self,
        *,
        band: Band | None = None,
        state: MatchState | None = None,
        statement_id: int | None = None,
        limit: int = 100,
    ) -> list[MatchRecord]:
        """Matches by id, filtered."""
        ...

    async def changed_since(self, *, statement_id: int, since: datetime) -> list[MatchRecord]:
        """The matches of a statement written at or after ``since`` (what a run just
        did), by id."""
        ...

    async def count_pending(self, *, teams: Sequence[str] | None = None) -> int:
        """How many matches wait in ``pending_review`` whose statement is of ``teams``
        (None: of any team), for App Home."""
        ...

    async def counterparty_risk(self, names: Sequence[str]) -> dict[str, RiskTier]:
        """The highest risk tier any item of each named counterparty carries (exact
        name), for the routing guard; names with no tiered item are left out."""
        ...

    async def start_run(self, *, statement_id: int | None, now: datetime) -> int:
        """Numbers a new matching run (of one statement, or of all): its id."""
        ...

    async def match_history(
        self, names: Sequence[str], *, since: date, until: date, min_score: int
    ) -> dict[str, MatchTally]:
        """Per named counterparty (exact name): its bank lines (not removed, of approved
        statements) booked from ``since`` to ``until`` (the booking date, else the value
        date, else the statement's end), and how many of them a match not rejected
        scoring ``min_score`` or more covers. One query; names without lines are left out.
        """
        ...

    async def add_checks(self, checks: Sequence[CheckRecord]) -> int:
        """Inserts the checks whose key is not stored yet (a re-run finds the same ones
        again); returns how many were new."""
        ...

    async def get_check(self, check_id: int) -> CheckRecord | None:
        """The check, or None."""
        ...

    async def resolve_check(self, record: CheckRecord) -> bool:
        """Stores the resolution of a check that is still open; False when it is not."""
        ...

    async def checks(
        self, *, state: CheckState | None = None, statement_id: int | None = None
    ) -> list[CheckRecord]:
        """Checks by id, filtered."""
        ...


class FxRateRepository(Protocol):
    """Dated FX rates, one per (date, base, currency, source)."""

    async def get_many(
        self, keys: Sequence[tuple[date, str, str, str]]
    ) -> dict[tuple[date, str, str, str], FxRate]:
        """The stored rates among ``keys``."""
        ...

    async def add_many(self, rates: Sequence[FxRate], *, now: datetime) -> None:
        """Inserts rates whose keys are not stored yet.

        Raises:
            an integrity error of the backend: one of the keys is stored already.
        """
        ...

    async def replace(self, rate: FxRate, *, now: datetime) -> bool:
        """Replaces the stored rate of ``rate``'s key; False when there is none."""
        ...

    async def for_book(
        self, *, currencies: Collection[str], since: date, until: date
    ) -> list[FxRate]:
        """The rates a :class:`~domain.fx.RateBook` needs for the days ``since..until``.

        The rates between two of ``currencies`` dated in that range, and for each (base,
        currency, source) the latest one before ``since``: the book picks the latest on
        or before each day it is asked about.
        """
        ...
