"""The checks of a statement (pure): balance chain, continuity, control totals, dates.

Computed on import and after every edit, stored with the statement and shown to the
reviewer. The chain is opening + the signed sum of the lines that count - closing (the
*delta*, in the statement's currency), held against the policy's
``statements.balance_tolerance``: a reporting-currency amount converted to the
statement's currency at the rate for the statement's date (:func:`statement_rate`), or,
with no rate, applied in the statement's own currency units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from domain.fx import AppliedRate, RateBook
from domain.policy import LoadedPolicy
from domain.routing import applied_rate
from domain.statements.records import Checks, Continuity, Statement, StatementLine

#: Why an OFX-style statement (opening derived from the closing) has no chain verdict.
DERIVED_NOTE: Final = (
    "the opening balance was derived from the closing and the entries, so the chain can "
    "only be checked against the previous statement"
)
NO_BALANCE_NOTE: Final = "the file states no opening or closing balance"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tolerance:
    """The balance tolerance in the statement's currency, and the rate it was converted at
    (None: no rate, so the policy's figure was taken in the statement's own units)."""

    amount: Decimal
    rate: AppliedRate | None


def statement_rate(
    currency: str, on: date, loaded: LoadedPolicy, *, rates: RateBook | None = None
) -> AppliedRate | None:
    """The rate for ``on``: the latest dated rate on or before it (``rates``), else the
    policy's static rate, else None; with its date and source (the provenance the checks
    keep)."""
    return applied_rate(currency, loaded, rates=rates, on=on)


def tolerance_for(
    currency: str, on: date, loaded: LoadedPolicy, *, rates: RateBook | None = None
) -> Tolerance:
    """The policy's balance tolerance in ``currency`` (exact: never rounded up to a cent)."""
    figure = loaded.policy.statements.balance_tolerance
    rate = statement_rate(currency, on, loaded, rates=rates)
    if rate is None or rate.rate <= 0:
        return Tolerance(amount=figure, rate=None)
    return Tolerance(amount=figure / rate.rate, rate=rate)


def chain_delta(opening: Decimal, lines: Sequence[StatementLine], closing: Decimal) -> Decimal:
    """opening + the signed sum of the lines that count - closing."""
    total = sum((ln.amount for ln in lines if not ln.removed), Decimal(0))
    return opening + total - closing


def within(delta: Decimal, tolerance: Decimal) -> bool:
    """The verdict: ``|delta| <= tolerance``."""
    return abs(delta) <= tolerance


def control_problems(statement: Statement) -> tuple[bool | None, tuple[str, ...]]:
    """Control totals (BAI2 account trailers) against the lines that count.

    The total is compared with the signed sum and, as BAI2 trailers add amounts without
    their sign, with the sum of the absolute amounts; either agreeing is a match.
    """
    if statement.control_total is None and statement.control_count is None:
        return None, ()
    counted = statement.counted
    problems: list[str] = []
    if statement.control_count is not None and statement.control_count != len(counted):
        problems.append(
            f"the file says {statement.control_count} entries but {len(counted)} were read"
        )
    if statement.control_total is not None:
        signed = sum((ln.amount for ln in counted), Decimal(0))
        unsigned = sum((abs(ln.amount) for ln in counted), Decimal(0))
        if statement.control_total not in (signed, unsigned):
            problems.append(
                f"the file's control total is {statement.control_total} but the entries "
                f"sum to {signed}"
            )
    return not problems, tuple(problems)


def out_of_period(statement: Statement) -> tuple[int, ...]:
    """Numbers of the lines that count dated before the period's start or after its end."""
    return tuple(
        ln.number
        for ln in statement.counted
        if ln.day is not None and not statement.period_start <= ln.day <= statement.period_end
    )


def continuity(
    statement: Statement, previous: Statement | None
) -> tuple[Continuity, Decimal | None, bool]:
    """Whether ``statement`` opens where ``previous`` (the same account's statement
    before it) closed: the verdict, the gap (opening - previous closing), and whether
    their periods overlap."""
    if previous is None:
        return Continuity.UNKNOWN, None, False
    overlap = previous.period_end >= statement.period_start
    if statement.opening is None or previous.closing is None:
        return Continuity.UNKNOWN, None, overlap
    gap = statement.opening - previous.closing
    return (Continuity.OK if gap == 0 else Continuity.GAP), (gap if gap else None), overlap


def check(
    statement: Statement,
    *,
    previous: Statement | None,
    loaded: LoadedPolicy,
    rates: RateBook | None = None,
) -> Checks:
    """Every check of ``statement`` (as it stands after its edits).

    Args:
        statement: the statement.
        previous: the same account's (and currency's) statement before it, if any.
        loaded: the policy (tolerance, and its static rates as the fallback).
        rates: the dated rates (the statement's date is its period end).
    """
    tolerance = tolerance_for(statement.currency, statement.period_end, loaded, rates=rates)
    delta: Decimal | None = None
    chain_ok: bool | None = None
    note: str | None = None
    if statement.opening_derived:
        note = DERIVED_NOTE
    elif statement.opening is None or statement.closing is None:
        note = NO_BALANCE_NOTE
    else:
        delta = chain_delta(statement.opening, statement.lines, statement.closing)
        chain_ok = within(delta, tolerance.amount)
    verdict, gap, overlap = continuity(statement, previous)
    control_ok, problems = control_problems(statement)
    return Checks(
        delta=delta,
        chain_ok=chain_ok,
        tolerance=tolerance.amount,
        tolerance_rate=tolerance.rate.rate if tolerance.rate is not None else None,
        tolerance_rate_on=tolerance.rate.on if tolerance.rate is not None else None,
        tolerance_rate_source=tolerance.rate.source if tolerance.rate is not None else None,
        chain_note=note,
        continuity=verdict,
        continuity_gap=gap,
        previous_id=previous.id if previous is not None else None,
        overlap=overlap,
        control_ok=control_ok,
        control_problems=problems,
        out_of_period=out_of_period(statement),
    )


def describe_chain(checks: Checks, currency: str) -> str:
    """The chain's verdict in one sentence (cards, the CLI, refusals)."""
    if checks.delta is None:
        return f"chain not checkable: {checks.chain_note or NO_BALANCE_NOTE}"
    if checks.chain_ok:
        return f"chain holds (delta {checks.delta} {currency}, within {checks.tolerance:f})"
    return (
        f"chain off by {checks.delta} {currency} (opening + entries - closing; "
        f"tolerance {checks.tolerance:f} {currency})"
    )
