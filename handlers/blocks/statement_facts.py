"""How a bank statement reads wherever it is shown (its card, the list and the forms):
its period, its balance chain against the tolerance, and its continuity."""

from __future__ import annotations

from decimal import Decimal

from domain.statements.records import Continuity, Statement
from handlers.blocks.mrkdwn import escape, one_line


def tolerance_text(statement: Statement) -> str:
    """The tolerance in the statement's currency, to 6 places at most (a converted
    tolerance has many)."""
    value = statement.checks.tolerance
    shown = (
        value.quantize(Decimal("0.000001")).normalize() if value.as_tuple().exponent != 0 else value
    )
    return f"{shown:f} {statement.currency}"


def chain_text(statement: Statement) -> str:
    """The balance chain's delta and verdict, in one line."""
    checks = statement.checks
    tolerance = tolerance_text(statement)
    if checks.chain_ok is None or checks.delta is None:
        note = checks.chain_note or "the format cannot show the chain"
        return f":grey_question: not checkable: {escape(one_line(note))}"
    delta = f"{checks.delta} {statement.currency}"
    if checks.chain_ok:
        return f":white_check_mark: delta {delta}, within {tolerance}"
    return f":x: off by {delta} (tolerance {tolerance})"


def continuity_text(statement: Statement) -> str:
    """Whether the opening follows the previous statement's closing."""
    checks = statement.checks
    previous = f"S-{checks.previous_id}" if checks.previous_id is not None else "the previous"
    match checks.continuity:
        case Continuity.OK:
            text = f":white_check_mark: follows {previous}"
        case Continuity.GAP:
            gap = "" if checks.continuity_gap is None else f" of {checks.continuity_gap}"
            text = f":warning: gap{gap} against {previous}'s closing"
        case _:
            text = ":grey_question: unknown (no previous statement)"
    if checks.overlap:
        text += " · periods overlap"
    return text


def period_text(statement: Statement) -> str:
    """The statement's period: its one day, or ``start → end``."""
    start, end = statement.period_start.isoformat(), statement.period_end.isoformat()
    return start if start == end else f"{start} → {end}"
