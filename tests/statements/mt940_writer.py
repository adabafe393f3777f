"""Writes MT940 text from plain values, for round-trip tests and the benchmark.

Independent of the parser on purpose: it spells amounts, dates and marks the way the
SWIFT field formats say, so a parser bug cannot cancel itself out here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.money import minor_units


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    amount: Decimal  # signed: credit > 0
    value_date: date
    booking_date: date | None = None
    reversal: bool = False  # RC / RD instead of D / C
    type_code: str = "NTRF"
    reference: str | None = None
    bank_reference: str | None = None
    info: Sequence[str] = ()  # :86: lines, as written


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    reference: str
    account: str
    sequence: str
    currency: str
    opening_date: date
    opening: Decimal
    closing_date: date
    entries: Sequence[Entry]

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((e.amount for e in self.entries), Decimal(0))


def amount(value: Decimal, currency: str) -> str:
    """An unsigned ``15d`` amount: digits, a decimal comma, the currency's decimals."""
    text = f"{abs(value):.{minor_units(currency)}f}"
    whole, _, fraction = text.partition(".")
    return f"{whole},{fraction}"


def balance(tag: str, value: Decimal, when: date, currency: str) -> str:
    mark = "D" if value < 0 else "C"
    return f":{tag}:{mark}{when:%y%m%d}{currency}{amount(value, currency)}"


def mark(entry: Entry) -> str:
    if entry.reversal:
        # a reversed credit takes money out (RC); a reversed debit brings it in (RD)
        return "RC" if entry.amount < 0 else "RD"
    return "D" if entry.amount < 0 else "C"


def statement_lines(statement: Statement, currency: str | None = None) -> list[str]:
    ccy = currency or statement.currency
    out = [
        f":20:{statement.reference}",
        f":25:{statement.account}",
        f":28C:{statement.sequence}",
        balance("60F", statement.opening, statement.opening_date, ccy),
    ]
    for entry in statement.entries:
        booked = f"{entry.booking_date:%m%d}" if entry.booking_date else ""
        own = entry.reference or "NONREF"
        bank = f"//{entry.bank_reference}" if entry.bank_reference else ""
        out.append(
            f":61:{entry.value_date:%y%m%d}{booked}{mark(entry)}"
            f"{amount(entry.amount, ccy)}{entry.type_code}{own}{bank}"
        )
        if entry.info:
            out.append(f":86:{entry.info[0]}")
            out.extend(entry.info[1:])
    out.append(balance("62F", statement.closing, statement.closing_date, ccy))
    return out


def write(statements: Sequence[Statement], *, blocks: bool = False, newline: str = "\n") -> bytes:
    """A file of statements, bare with ``-`` separators or in SWIFT blocks."""
    lines: list[str] = []
    for statement in statements:
        if blocks:
            lines.append(
                "{1:F01BANKBEBBAXXX0000000000}"
                f"{{2:O9401200{statement.closing_date:%y%m%d}COBADEFFAXXX0000000000"
                f"{statement.closing_date:%y%m%d}1200N}}{{4:"
            )
        lines.extend(statement_lines(statement))
        lines.append("-}" if blocks else "-")
    return (newline.join(lines) + newline).encode("utf-8")
