"""Scores 0-100 from four weighted components, each kept so the score explains itself.

Each component gives ``weight x fraction`` points, rounded half up to a whole point, and
the score is the sum of the four points (``Components.score``):

* amount: exact 1; within the tolerance ``1 - difference / (2 x tolerance)`` (so 0.5 at
  the edge); beyond it 0;
* date: ``1 - days / (window + 1)`` for the nearer of booking and value date (0 beyond
  the window);
* reference: ``(similarity - 50) / 50`` of the reference similarity
  (``similarity.reference_similarity``), 0 below 50: two different invoice numbers of one
  series share their prefix and most digits and reach a ratio of 50-65 without being
  related, so the first half of the scale is noise and must not lift a score;
* counterparty: the name similarity / 100.

A group (one bank line and several ledger entries, or the reverse) is scored the same way
with its summed amount, its largest date distance and the lowest reference and
counterparty similarity of its pairs: a group is as good as its weakest member (a mean
let one unrelated line ride on its neighbours' references).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.matching.records import (
    AmountFit,
    BankLine,
    BankLineKey,
    Components,
    LedgerLine,
    MatchingPolicy,
)
from domain.matching.similarity import (
    ReferenceTexts,
    name_similarity,
    normalize_name,
    normalize_reference,
    reference_similarity,
)
from domain.money import canonical_decimal, minor_units, normalize_currency, to_minor

#: Reference similarity below this is noise (see the module docstring).
REFERENCE_FLOOR = 50


@dataclass(frozen=True, slots=True)
class PreparedBank:
    """A bank line with what scoring needs computed once: minor units, normalised texts."""

    line: BankLine
    pos: int  # position in the run's inputs sorted by key
    key: BankLineKey
    currency: str
    minor: int
    day_lo: int  # the earlier of booking and value date, as an ordinal
    day_hi: int  # the later
    texts: ReferenceTexts
    name: str

    def distance(self, day: int) -> int:
        """Days from ``day`` to the nearer of the booking and value date."""
        return min(abs(day - self.day_lo), abs(day - self.day_hi))


@dataclass(frozen=True, slots=True)
class PreparedLedger:
    """A ledger entry with what scoring needs computed once."""

    line: LedgerLine
    pos: int  # position in the run's inputs sorted by entry id
    entry_id: str
    currency: str
    minor: int
    day: int
    texts: ReferenceTexts
    name: str


def prepare_bank(line: BankLine, pos: int = 0) -> PreparedBank:
    code = normalize_currency(line.currency)
    days = [line.booking_date.toordinal()]
    if line.value_date is not None:
        days.append(line.value_date.toordinal())
    return PreparedBank(
        line=line,
        pos=pos,
        key=line.key,
        currency=code,
        minor=to_minor(line.amount, code),
        day_lo=min(days),
        day_hi=max(days),
        texts=ReferenceTexts(
            normalize_reference(line.reference),
            normalize_reference(line.end_to_end_id),
            normalize_reference(line.description),
        ),
        name=normalize_name(line.counterparty),
    )


def prepare_ledger(line: LedgerLine, pos: int = 0) -> PreparedLedger:
    code = normalize_currency(line.currency)
    return PreparedLedger(
        line=line,
        pos=pos,
        entry_id=line.entry_id,
        currency=code,
        minor=to_minor(line.amount, code),
        day=line.entry_date.toordinal(),
        texts=ReferenceTexts(
            normalize_reference(line.reference), "", normalize_reference(line.description)
        ),
        name=normalize_name(line.counterparty),
    )


def sides_digest(banks: Sequence[BankLine], ledgers: Sequence[LedgerLine]) -> str:
    """A fingerprint of every field of both sides, in key order (for re-runs)."""
    parts: list[str] = []
    for b in sorted(banks, key=lambda ln: (ln.statement_id, ln.line_number)):
        parts.extend(
            (
                "B",
                b.statement_id,
                str(b.line_number),
                b.account,
                b.currency.upper(),
                canonical_decimal(b.amount),
                b.booking_date.isoformat(),
                b.value_date.isoformat() if b.value_date else "",
                b.reference or "",
                b.end_to_end_id or "",
                b.counterparty or "",
                b.description or "",
            )
        )
    for e in sorted(ledgers, key=lambda ln: ln.entry_id):
        parts.extend(
            (
                "L",
                e.entry_id,
                e.gl_account,
                e.currency.upper(),
                canonical_decimal(e.amount),
                e.entry_date.isoformat(),
                e.reference or "",
                e.counterparty or "",
                e.description or "",
            )
        )
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def tolerance_minor(policy: MatchingPolicy, currency: str) -> int:
    """The policy's tolerance in ``currency``, in whole minor units (rounded down)."""
    tolerance = policy.tolerance_for(currency)
    return int(tolerance.scaleb(minor_units(currency)))


def _points(weight: int, numerator: int, denominator: int) -> int:
    """``weight x numerator / denominator`` rounded half up, in integers (no float)."""
    return (2 * weight * numerator + denominator) // (2 * denominator)


def score_group(
    banks: Sequence[PreparedBank],
    ledgers: Sequence[PreparedLedger],
    policy: MatchingPolicy,
    tolerance: int,
) -> Components:
    """Scores one pairing (one side has one line; the other one or more).

    ``tolerance`` is the amount tolerance in the currency's minor units.
    """
    weights = policy.weights
    window = policy.date_window_days
    currency = banks[0].currency
    difference = sum(b.minor for b in banks) - sum(lg.minor for lg in ledgers)
    off = abs(difference)
    if off == 0:
        fit, amount_points = AmountFit.EXACT, weights.amount
    elif off <= tolerance:
        fit = AmountFit.WITHIN_TOLERANCE
        amount_points = _points(weights.amount, 2 * tolerance - off, 2 * tolerance)
    else:
        fit, amount_points = AmountFit.OFF, 0

    days = 0
    reference = 100
    bases: set[str] = set()
    name = 100
    for b in banks:
        for lg in ledgers:
            days = max(days, b.distance(lg.day))
            ref, basis = reference_similarity(b.texts, lg.texts)
            reference = min(reference, ref)
            bases.add(basis)
            name = min(name, name_similarity(b.name, lg.name))
    date_points = _points(weights.date, max(0, window + 1 - days), window + 1)
    return Components(
        amount_fit=fit,
        amount_difference=_from_minor(difference, currency),
        date_distance_days=days,
        reference_similarity=reference,
        reference_basis=bases.pop() if len(bases) == 1 else "mixed: " + ", ".join(sorted(bases)),
        counterparty_similarity=name,
        amount_points=amount_points,
        date_points=date_points,
        reference_points=_points(
            weights.reference, max(0, reference - REFERENCE_FLOOR), 100 - REFERENCE_FLOOR
        ),
        counterparty_points=_points(weights.counterparty, name, 100),
    )


def _from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_units(currency))


def weakest(components: Components, policy: MatchingPolicy) -> str:
    """The components that cost the most points, in words (for an unmatched reason)."""
    weights = policy.weights
    lost = [
        (weights.reference - components.reference_points, "reference differs"),
        (weights.counterparty - components.counterparty_points, "counterparty differs"),
        (weights.date - components.date_points, f"{components.date_distance_days} days apart"),
        (
            weights.amount - components.amount_points,
            f"amount off by {components.amount_difference}",
        ),
    ]
    named = [text for points, text in sorted(lost, key=lambda p: -p[0]) if points > 0]
    return ", ".join(named[:2]) if named else "no component short"
