"""Matches and consistency checks as the store keeps them (records, no I/O).

A :class:`MatchRecord` is one match of a run with its state: ``pending_review`` until a
person accepts or rejects it, ``auto_accepted`` when the score alone accepted it. Its
sides are bank lines (statement id, line number) and ledger entries (entry id as
imported, GL account). ``key`` is the matcher's stable id (``Match.id``): a re-run that
finds the same pairing finds the same key. A :class:`CheckRecord` is one consistency
check, open until a person resolves it; ``key`` is the check's stable id, so a re-run
finds a resolved check again and does not reopen it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.items import RiskTier
from domain.matching.checks import CheckKind
from domain.matching.records import AmountFit, Band, BankLineKey, Components, Match


class MatchState(StrEnum):
    PENDING_REVIEW = "pending_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    AUTO_ACCEPTED = "auto_accepted"

    @property
    def accepted(self) -> bool:
        return self in (MatchState.ACCEPTED, MatchState.AUTO_ACCEPTED)


class CheckState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    """How a person resolved a check."""

    CONFIRMED_DUPLICATE = "confirmed_duplicate"  # and excluded
    NOT_DUPLICATE = "not_duplicate"
    TRANSFER_CONFIRMED = "transfer_confirmed"
    EXPLAINED = "explained"  # with a note


#: Which resolutions fit which kind of check.
RESOLUTIONS: dict[CheckKind, frozenset[Resolution]] = {
    CheckKind.DUPLICATE_BANK: frozenset(
        {Resolution.CONFIRMED_DUPLICATE, Resolution.NOT_DUPLICATE, Resolution.EXPLAINED}
    ),
    CheckKind.DUPLICATE_LEDGER: frozenset(
        {Resolution.CONFIRMED_DUPLICATE, Resolution.NOT_DUPLICATE, Resolution.EXPLAINED}
    ),
    CheckKind.INTERNAL_TRANSFER: frozenset({Resolution.TRANSFER_CONFIRMED, Resolution.EXPLAINED}),
    CheckKind.STATISTICS: frozenset({Resolution.EXPLAINED}),
}


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class LedgerKey:
    """A ledger entry's identity: its id as imported and its GL account."""

    entry_id: str
    account: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchRecord:
    id: int | None
    key: str
    band: Band
    score: int
    state: MatchState
    components: dict[str, Any]
    statement_id: int
    bank_lines: tuple[tuple[int, int], ...]  # (statement id, line number)
    ledger_entries: tuple[LedgerKey, ...]
    sides_digest: str
    held: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    decided_by: str | None = None
    decided_at: datetime | None = None
    #: Under dual control: who gave the first of the two approvals (a second, different
    #: person accepts). A re-scored match starts again without it.
    first_approval: str | None = None

    def as_match(self) -> Match:
        """The matcher's view of this record (for a re-run)."""
        return Match(
            bank_lines=tuple(BankLineKey(statement=str(s), line=n) for s, n in self.bank_lines),
            ledger_entries=tuple(k.entry_id for k in self.ledger_entries),
            score=self.score,
            components=components_from_data(self.components),
            band=self.band,
            sides_digest=self.sides_digest,
            held=self.held,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRecord:
    id: int | None
    key: str
    kind: CheckKind
    state: CheckState
    statement_id: int | None
    detail: str
    created_at: datetime
    resolution: Resolution | None = None
    note: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


def components_data(c: Components) -> dict[str, Any]:
    """A score's components as JSON-ready data (the difference as exact decimal text)."""
    return {
        "amount_fit": c.amount_fit.value,
        "amount_difference": str(c.amount_difference),
        "date_distance_days": c.date_distance_days,
        "reference_similarity": c.reference_similarity,
        "reference_basis": c.reference_basis,
        "counterparty_similarity": c.counterparty_similarity,
        "amount_points": c.amount_points,
        "date_points": c.date_points,
        "reference_points": c.reference_points,
        "counterparty_points": c.counterparty_points,
    }


def components_from_data(data: dict[str, Any]) -> Components:
    return Components(
        amount_fit=AmountFit(data["amount_fit"]),
        amount_difference=Decimal(str(data["amount_difference"])),
        date_distance_days=int(data["date_distance_days"]),
        reference_similarity=int(data["reference_similarity"]),
        reference_basis=str(data["reference_basis"]),
        counterparty_similarity=int(data["counterparty_similarity"]),
        amount_points=int(data["amount_points"]),
        date_points=int(data["date_points"]),
        reference_points=int(data["reference_points"]),
        counterparty_points=int(data["counterparty_points"]),
    )


_RISK_ORDER = (RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH, RiskTier.CRITICAL)


def highest(current: RiskTier | None, tier: RiskTier) -> RiskTier:
    """The higher of two risk tiers (``current`` None: ``tier``)."""
    if current is None:
        return tier
    return max(current, tier, key=_RISK_ORDER.index)
