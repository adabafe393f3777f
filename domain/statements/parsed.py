"""What a bank file says, format by format, before recon-bot checks anything.

Every parser (camt.053, MT940, BAI2, OFX) turns the bytes of one file into a
:class:`ParseResult`: the statements it could read whole, and one :class:`ParseProblem`
for each statement (or the whole file) it could not. A statement is never half-read:
either all of it is in ``statements`` or it is a problem. The same parsers also give a
:class:`ParseStream`: the statements and problems in file order, each read only when it
is asked for, so that an import holds one statement of a 100 MB file at a time.

Amounts are exact Decimals at the statement currency's scale (``domain.money``), signed
from the account holder's side: a credit (money in) is positive, a debit negative.
Nothing here is checked against the policy (known accounts, tolerances): that is the
import's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum


class StatementFormat(StrEnum):
    """The bank file formats recon-bot reads (``--format``)."""

    CAMT053 = "camt053"
    MT940 = "mt940"
    BAI2 = "bai2"
    OFX = "ofx"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedLine:
    """One booked entry of a statement, numbered from 1 in file order."""

    number: int
    amount: Decimal  # signed: credit > 0, debit < 0
    booking_date: date | None = None
    value_date: date | None = None
    reference: str | None = None  # the bank's or remitter's reference (e.g. an invoice)
    end_to_end_id: str | None = None
    counterparty: str | None = None
    counterparty_account: str | None = None
    description: str | None = None
    bank_reference: str | None = None  # the bank's own id of the entry
    type_code: str | None = None  # the format's transaction code (BAI2 type, MT940 GVC...)
    where: str = ""  # where in the file: "line 42", "Ntry[17]"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedStatement:
    """One statement of one account in one currency, as the file states it.

    ``opening``/``closing`` are the booked balances; None when the format does not carry
    one (OFX has no opening: ``opening_derived`` then says the parser computed it from
    the closing and the entries, so the chain proves nothing by itself).
    ``control_total``/``control_count`` are what the file says its entries sum to and
    number (BAI2 account trailers), to check against the entries read.
    """

    format: StatementFormat
    account: str  # as the file states it (IBAN, MT940 :25:, BAI2 number, OFX ACCTID)
    currency: str
    statement_id: str | None  # the bank's id of the statement, if any
    sequence: str | None  # the bank's sequence / page number, if any
    period_start: date
    period_end: date
    opening: Decimal | None
    closing: Decimal | None
    lines: tuple[ParsedLine, ...]
    opening_derived: bool = False
    bank: str | None = None  # the servicer (BIC, routing number, OFX ORG), if stated
    control_total: Decimal | None = None
    control_count: int | None = None
    where: str = ""  # where it starts: "statement 3 (line 120)", "Stmt[2]"

    @property
    def credits(self) -> Decimal:
        """The sum of the money in."""
        return sum((ln.amount for ln in self.lines if ln.amount > 0), Decimal(0))

    @property
    def debits(self) -> Decimal:
        """The sum of the money out, as a positive amount."""
        return -sum((ln.amount for ln in self.lines if ln.amount < 0), Decimal(0))


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseProblem:
    """One statement (or the whole file) that could not be read, in one sentence.

    ``where``: the statement and the line or XML element (``"statement 2, line 57"``,
    ``"Stmt[1]/Ntry[4]/Amt"``); ``error``: the reason a person can act on ("the amount
    12.345 has more decimals than EUR allows").
    """

    where: str
    error: str
    statement: str | None = None  # the bank's statement id, when it could be read


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseResult:
    """Everything one file gave: whole statements and the problems of the rest."""

    format: StatementFormat | None  # None: no format recognised the file (one problem)
    statements: tuple[ParsedStatement, ...] = ()
    problems: tuple[ParseProblem, ...] = field(default=())


#: What a stream gives, in file order: a statement read whole, or one that could not be.
ParseItem = ParsedStatement | ParseProblem


@dataclass(frozen=True, slots=True, kw_only=True)
class ParseStream:
    """A file's statements and problems in file order, each read when it is taken.

    ``items`` is consumed once: a parser reads the next statement only when the one before
    it has been taken (and, by an importer, stored and let go), so memory holds one
    statement, not the file's all.
    """

    format: StatementFormat | None
    items: Iterator[ParseItem]

    @classmethod
    def of(cls, result: ParseResult) -> ParseStream:
        """A stream over a result already read whole (its problems first)."""
        return cls(format=result.format, items=iter((*result.problems, *result.statements)))

    def collect(self) -> ParseResult:
        """Reads the rest of the stream into one :class:`ParseResult`."""
        return collect(self.format, self.items)


def collect(format: StatementFormat | None, items: Iterable[ParseItem]) -> ParseResult:
    """The :class:`ParseResult` of a stream's items (statements and problems apart)."""
    statements: list[ParsedStatement] = []
    problems: list[ParseProblem] = []
    for item in items:
        if isinstance(item, ParsedStatement):
            statements.append(item)
        else:
            problems.append(item)
    return ParseResult(format=format, statements=tuple(statements), problems=tuple(problems))
