"""Bank statements for the tests: a small JSON test format, its parser fake, and builders.

The real parsers (camt.053, MT940, BAI2, OFX) live in the ``statements`` adapter package;
until they are wired in, tests bring :class:`JsonStatementParser`, a real parser of a
format of our own: a JSON document ``{"format": ..., "statements": [...], "problems":
[...]}`` whose statements carry the fields of :class:`ParsedStatement` (amounts as
decimal strings, lines as objects). Bytes that are not such a document raise
``ValueError``, as a parser does for a file that is not a statement.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal
from typing import IO, Any

from domain.money import parse_amount
from domain.statements.checks import check
from domain.statements.parsed import (
    ParsedLine,
    ParsedStatement,
    ParseProblem,
    ParseResult,
    ParseStream,
    StatementFormat,
)
from domain.statements.records import Statement
from domain.usecases.statements import build_statement, known_account
from tests.builders import make_policy
from tests.fakes import T0

#: The accounts the statement tests' policy knows (see :func:`statement_policy`).
EUR_ACCOUNT = "NL81ASNB9999999999"
USD_ACCOUNT = "123456789"
KWD_ACCOUNT = "KW81CBKU0000000000001234560101"
JPY_ACCOUNT = "JP-ACME-0001"


def _account(account: str, entity: str, currency: str, gl: str, team: str) -> dict[str, str]:
    return {
        "account": account,
        "entity": entity,
        "currency": currency,
        "gl_account": gl,
        "team": team,
    }


ACCOUNTS: list[dict[str, str]] = [
    _account(EUR_ACCOUNT, "ACME-NL", "EUR", "1100", "treasury"),
    _account(USD_ACCOUNT, "ACME-US", "USD", "1000", "treasury"),
    _account(KWD_ACCOUNT, "ACME-KW", "KWD", "1300", "treasury"),
    _account(JPY_ACCOUNT, "ACME-JP", "JPY", "1400", "ap"),
]


def statement_policy_overrides(**statements: Any) -> dict[str, Any]:
    """``make_policy`` overrides with a ``statements`` section (``statements`` merged in)."""
    return {"statements": {"accounts": ACCOUNTS, **statements}}


def line(amount: str, day: str | None = "2025-03-03", **fields: Any) -> dict[str, Any]:
    """One line of the JSON test format."""
    return {"amount": amount, "booking_date": day, **fields}


def statement(
    *,
    account: str = EUR_ACCOUNT,
    currency: str = "EUR",
    statement_id: str | None = "STMT-1",
    sequence: str | None = "1",
    start: str = "2025-03-03",
    end: str = "2025-03-03",
    opening: str | None = "1000.00",
    closing: str | None = "1150.00",
    lines: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One statement of the JSON test format (by default: 1000.00 + 200.00 - 50.00 EUR
    = 1150.00 EUR, a chain that holds)."""
    return {
        "account": account,
        "currency": currency,
        "statement_id": statement_id,
        "sequence": sequence,
        "period_start": start,
        "period_end": end,
        "opening": opening,
        "closing": closing,
        "lines": lines
        if lines is not None
        else [line("200.00", reference="INV-1"), line("-50.00", reference="FEE")],
        **fields,
    }


def statement_file(
    *statements: dict[str, Any],
    format: str = "camt053",
    problems: list[dict[str, Any]] | None = None,
) -> bytes:
    """The bytes of one file of the JSON test format."""
    body = {"format": format, "statements": list(statements), "problems": problems or []}
    return json.dumps(body, indent=1).encode()


def _day(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _dec(value: Any, currency: str) -> Decimal | None:
    return None if value is None else parse_amount(value, currency)


class JsonStatementParser:
    """Parses the JSON test format into a :class:`ParseResult`; records every call."""

    def __init__(self) -> None:
        self.calls: list[StatementFormat | None] = []

    def __call__(self, data: bytes, *, format: StatementFormat | None = None) -> ParseResult:
        """Reads the file (``format`` overrides the one it states).

        Raises:
            ValueError: not a file of the JSON test format.
        """
        self.calls.append(format)
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            raise ValueError("not a bank statement file (no known format matched)") from None
        if not isinstance(doc, dict) or "statements" not in doc:
            raise ValueError("not a bank statement file (no known format matched)")
        fmt = format or StatementFormat(doc.get("format", "camt053"))
        read: list[ParsedStatement] = []
        problems = [
            ParseProblem(where=p["where"], error=p["error"], statement=p.get("statement"))
            for p in doc.get("problems", [])
        ]
        for index, raw in enumerate(doc["statements"], 1):
            where = f"statement {index}"
            currency = raw["currency"]
            try:
                lines = tuple(
                    ParsedLine(
                        number=number,
                        amount=parse_amount(ln["amount"], currency),
                        booking_date=_day(ln.get("booking_date")),
                        value_date=_day(ln.get("value_date")),
                        reference=ln.get("reference"),
                        counterparty=ln.get("counterparty"),
                        description=ln.get("description"),
                        where=f"{where}, line {number}",
                    )
                    for number, ln in enumerate(raw["lines"], 1)
                )
                read.append(
                    ParsedStatement(
                        format=fmt,
                        account=raw["account"],
                        currency=currency,
                        statement_id=raw.get("statement_id"),
                        sequence=raw.get("sequence"),
                        period_start=date.fromisoformat(raw["period_start"]),
                        period_end=date.fromisoformat(raw["period_end"]),
                        opening=_dec(raw.get("opening"), currency),
                        closing=_dec(raw.get("closing"), currency),
                        opening_derived=bool(raw.get("opening_derived", False)),
                        control_total=_dec(raw.get("control_total"), currency),
                        control_count=raw.get("control_count"),
                        lines=lines,
                        where=where,
                    )
                )
            except Exception as exc:  # a statement of the file that cannot be read
                problems.append(
                    ParseProblem(where=where, error=str(exc), statement=raw.get("statement_id"))
                )
        return ParseResult(format=fmt, statements=tuple(read), problems=tuple(problems))

    def stream(
        self, data: bytes | IO[bytes], *, format: StatementFormat | None = None
    ) -> ParseStream:
        """The same file as a stream (read whole first: test files are small)."""
        if not isinstance(data, bytes):
            data.seek(0)
        whole = data if isinstance(data, bytes) else data.read()
        return ParseStream.of(self(whole, format=format))


def make_statement(raw: dict[str, Any] | None = None, **changes: Any) -> Statement:
    """A statement as the import builds it, from one statement of the JSON test format
    (by default :func:`statement`), checked against no previous one; ``changes`` replace
    fields afterwards."""
    loaded = make_policy(**statement_policy_overrides())
    (parsed,) = JsonStatementParser()(statement_file(raw or statement())).statements
    built = build_statement(
        parsed,
        known_account(parsed, loaded),
        file_name="bank.json",
        sha256="ab" * 32,
        policy_version=loaded.version,
        now=T0,
    )
    built = dataclasses.replace(built, checks=check(built, previous=None, loaded=loaded))
    return dataclasses.replace(built, **changes)
