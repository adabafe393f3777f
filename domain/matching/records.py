"""The matcher's records: its inputs, its policy and its output.

Sign convention (one for both sides, so a pair has equal signed amounts):

* ``BankLine.amount`` is signed from the account holder's side, as the parsers give it
  (``domain.statements.parsed``): a credit (money in) is positive, a debit negative.
* ``LedgerLine.amount`` is the entry's debit minus its credit on the GL cash account the
  bank account maps to: a debit to cash (money in) is positive, a credit negative.

So a bank credit of 100.00 matches a ledger debit of 100.00 to cash (both ``+100.00``),
and never a ledger credit of 100.00 (``-100.00``): the matcher compares signed amounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from domain.errors import DomainError
from domain.money import normalize_currency


class MatchingError(DomainError, ValueError):
    """Inputs or a policy the matcher cannot work with (one clear sentence)."""


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class BankLineKey:
    """A bank line's identity: its statement and its line number there (from 1)."""

    statement: str
    line: int

    def __str__(self) -> str:
        return f"{self.statement}#{self.line}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BankLine:
    """One line of a Stage-1-approved statement (``amount``: credit > 0, debit < 0)."""

    statement_id: str
    line_number: int
    account: str
    currency: str
    amount: Decimal
    booking_date: date
    value_date: date | None = None
    reference: str | None = None
    end_to_end_id: str | None = None
    counterparty: str | None = None
    description: str | None = None

    @property
    def key(self) -> BankLineKey:
        return BankLineKey(statement=self.statement_id, line=self.line_number)


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerLine:
    """One open ledger entry on the GL cash account (``amount``: debit > 0, credit < 0).

    ``entry_id`` is the id as imported from the ERP: unique among the inputs.
    """

    entry_id: str
    gl_account: str
    currency: str
    amount: Decimal
    entry_date: date
    reference: str | None = None
    counterparty: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Weights:
    """How many of the 100 points each component can give; they sum to 100."""

    amount: int = 40
    date: int = 10
    reference: int = 30
    counterparty: int = 20

    def __post_init__(self) -> None:
        parts = (self.amount, self.date, self.reference, self.counterparty)
        if any(p < 0 for p in parts) or sum(parts) != 100:
            raise MatchingError(f"the matching weights must be >= 0 and sum to 100, not {parts}")


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchingPolicy:
    """The policy's ``matching:`` section (defaults are the issue's).

    ``amount_tolerance`` is in the reporting currency; the caller converts it at the
    date's rate into each line currency and passes the results as ``tolerances``
    (currency -> Decimal). A currency with no entry uses ``amount_tolerance`` only when
    it is the reporting currency; any other is refused, never guessed.

    ``group_time_budget_ms`` is turned into a step budget (``group_step_budget``): the
    domain reads no clock, and a budget in steps gives the same groups on any machine.
    """

    date_window_days: int = 3
    amount_tolerance: Decimal = Decimal("0.10")
    reporting_currency: str = "USD"
    tolerances: Mapping[str, Decimal] = field(default_factory=dict)
    max_group_size: int = 5
    group_time_budget_ms: int = 200
    weights: Weights = field(default_factory=Weights)
    auto_accept_at: int = 85
    review_at: int = 60

    def __post_init__(self) -> None:
        if self.date_window_days < 0:
            raise MatchingError("date_window_days must be 0 or more")
        if self.amount_tolerance < 0 or any(t < 0 for t in self.tolerances.values()):
            raise MatchingError("an amount tolerance must be 0 or more")
        if self.max_group_size < 1:
            raise MatchingError("max_group_size must be 1 or more")
        if self.group_time_budget_ms < 0:
            raise MatchingError("group_time_budget_ms must be 0 or more")
        if not 0 < self.review_at <= self.auto_accept_at <= 100:
            raise MatchingError("the bands need 0 < review_at <= auto_accept_at <= 100")

    def tolerance_for(self, currency: str) -> Decimal:
        """The amount tolerance in ``currency``.

        Raises:
            MatchingError: no converted tolerance was given for a non-reporting currency.
        """
        code = normalize_currency(currency)
        for given, value in self.tolerances.items():
            if normalize_currency(given) == code:
                return value
        if code == normalize_currency(self.reporting_currency):
            return self.amount_tolerance
        raise MatchingError(
            f"no amount tolerance in {code}: convert {self.amount_tolerance} "
            f"{self.reporting_currency} at the date's rate and pass it in tolerances"
        )

    @property
    def group_step_budget(self) -> int:
        """Search steps per group search: ``STEPS_PER_MS`` per millisecond of budget."""
        return self.group_time_budget_ms * STEPS_PER_MS


#: One step is one node of the group search (one subset tried). The bare search costs
#: about 0.2 microseconds of CPU a step on the 2-core reference machine (CPython 3.11);
#: 500 steps a millisecond leaves room for scoring the subsets found and for a loaded
#: machine, so a search stays inside its time budget there (200 ms is 100,000 steps,
#: some 20-50 ms of CPU). On a faster or slower machine it takes less or more time and
#: gives the same groups.
STEPS_PER_MS = 500


class Band(StrEnum):
    """Where a score puts a match (or a line)."""

    AUTO_ACCEPTED = "auto_accepted"
    PENDING_REVIEW = "pending_review"
    UNMATCHED = "unmatched"


def band_for(score: int, policy: MatchingPolicy, *, held: str | None = None) -> Band:
    """>= ``auto_accept_at``: auto-accepted (pending review when ``held``); >= ``review_at``:
    pending review; else unmatched."""
    if score >= policy.auto_accept_at and held is None:
        return Band.AUTO_ACCEPTED
    if score >= policy.review_at:
        return Band.PENDING_REVIEW
    return Band.UNMATCHED


class AmountFit(StrEnum):
    """How the amounts of a match agree."""

    EXACT = "exact"
    WITHIN_TOLERANCE = "within_tolerance"
    OFF = "off"


@dataclass(frozen=True, slots=True, kw_only=True)
class Components:
    """Everything a score is made of: the score is ``sum`` of the four ``*_points``.

    ``amount_difference`` is bank minus ledger (signed, in the line currency);
    ``date_distance_days`` the largest distance of any ledger entry to the nearer of the
    bank line's booking and value date (for a group: the largest over its lines);
    ``reference_similarity`` and ``counterparty_similarity`` are 0-100 (for a group: the
    lowest over its pairs), ``reference_basis`` says what matched what
    (``"reference"``, ``"found in description"``...).
    """

    amount_fit: AmountFit
    amount_difference: Decimal
    date_distance_days: int
    reference_similarity: int
    reference_basis: str
    counterparty_similarity: int
    amount_points: int
    date_points: int
    reference_points: int
    counterparty_points: int

    @property
    def score(self) -> int:
        return (
            self.amount_points
            + self.date_points
            + self.reference_points
            + (self.counterparty_points)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """One match: one bank line and one ledger entry, or a group (1:n or n:1).

    ``id`` is stable: built from the sorted keys of both sides, so a re-run that finds the
    same pairing finds the same id. ``sides_digest`` fingerprints every field of every
    line of both sides as scored, so a re-run can tell that a side changed. ``band``
    follows the score (``band_for``) except that a match that would be auto-accepted is
    ``pending_review`` when ``held`` says why (a line of it has a twin: ``twins``).
    """

    bank_lines: tuple[BankLineKey, ...]
    ledger_entries: tuple[str, ...]
    score: int
    components: Components
    band: Band
    sides_digest: str
    held: str | None = None  # why a score of auto_accept_at or more still waits for review

    @property
    def id(self) -> str:
        bank = ",".join(str(k) for k in self.bank_lines)
        ledger = ",".join(self.ledger_entries)
        return f"m:{bank}|{ledger}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmatchedBank:
    """A bank line no match took, and why, in one sentence."""

    line: BankLineKey
    reason: str
    best_score: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmatchedLedger:
    """A ledger entry no match took, and why, in one sentence."""

    entry_id: str
    reason: str
    best_score: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchResult:
    """One run: matches sorted by id, then the sides left alone, sorted by key."""

    matches: tuple[Match, ...]
    unmatched_bank: tuple[UnmatchedBank, ...]
    unmatched_ledger: tuple[UnmatchedLedger, ...]
    comparisons: int  # candidate pairs scored (blocking keeps this far below n * m)
    group_steps: int  # group-search steps spent, over all searches

    def in_band(self, band: Band) -> tuple[Match, ...]:
        return tuple(m for m in self.matches if m.band is band)
