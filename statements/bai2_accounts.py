"""Building one BAI2 account's statement from its records: the ``03`` summaries (ledger
balances), the ``16`` details as statement lines, the ``49`` trailer's controls, and the
amounts, currencies and dates they are written in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.errors import MoneyError
from domain.money import MAX_MINOR, minor_units, normalize_currency
from domain.statements.parsed import (
    ParsedLine,
    ParsedStatement,
    StatementFormat,
)
from statements.bai2_records import _Bad, _Record

FORMAT = StatementFormat.BAI2

_OPENING_LEDGER = "010"
_CLOSING_LEDGER = "015"
_DEFAULT_CURRENCY = "USD"


@dataclass(slots=True)
class _Account:
    header: _Record
    details: list[_Record] = field(default_factory=list)
    trailer: _Record | None = None


@dataclass(frozen=True, slots=True)
class _Group:
    number: int
    line: int
    originator: str | None
    as_of: date
    currency: str | None


def _statement(
    account: _Account, group: _Group, number: int, file_id: str | None
) -> ParsedStatement:
    header = account.header
    fields = header.fields()
    account_number = fields[0].strip()
    if not account_number:
        raise _Bad(header.line, "the account number is empty", "account number")
    currency_text = fields[1].strip() if len(fields) > 1 else ""
    currency = (
        _currency(currency_text, header.line)
        if currency_text
        else group.currency or _DEFAULT_CURRENCY
    )
    summaries = _summaries(fields[2:], currency, header.line)
    balances = {code: amount for code, amount in summaries if code is not None}
    lines = tuple(
        _detail(index, record, currency, group.as_of)
        for index, record in enumerate(account.details, 1)
    )
    trailer = account.trailer
    assert trailer is not None
    total, records = _trailer(trailer, currency)
    continuations = header.lines - 1 + trailer.lines - 1 + sum(r.lines - 1 for r in account.details)
    stated_lines = records - 2 - continuations
    summary_total = sum((amount for _, amount in summaries), Decimal(0))
    return ParsedStatement(
        format=FORMAT,
        account=account_number,
        currency=currency,
        statement_id=file_id,
        sequence=None,
        period_start=group.as_of,
        period_end=group.as_of,
        opening=balances.get(_OPENING_LEDGER),
        closing=balances.get(_CLOSING_LEDGER),
        lines=lines,
        bank=group.originator,
        control_total=total - summary_total,
        control_count=stated_lines,
        where=f"group {group.number}, account {number} (line {header.line})",
    )


def _summaries(fields: list[str], currency: str, line: int) -> list[tuple[str | None, Decimal]]:
    """The 03 record's type code / amount / item count / funds type groups."""
    out: list[tuple[str | None, Decimal]] = []
    index = 0
    while index < len(fields) and any(f.strip() for f in fields[index:]):
        code = fields[index].strip()
        amount_text = fields[index + 1].strip() if index + 1 < len(fields) else ""
        if code and not (len(code) == 3 and code.isdigit()):
            raise _Bad(line, f"the type code {code!r} is not three digits", "type code")
        if amount_text:
            out.append((code or None, _amount(amount_text, currency, line, signed=True)))
        index += 3  # type code, amount, item count
        index = _skip_funds(fields, index, currency, line)
    return out


def _skip_funds(fields: list[str], index: int, currency: str, line: int) -> int:
    """Steps over a funds type and the fields it brings; checks their amounts."""
    funds = fields[index].strip().upper() if index < len(fields) else ""
    index += 1
    if funds in ("", "Z", "0", "1", "2"):
        return index
    if funds == "V":  # value date, value time
        return index + 2
    if funds == "S":  # immediate, one-day, two-or-more-day amounts
        for offset in range(3):
            text = fields[index + offset].strip() if index + offset < len(fields) else ""
            if text:
                _amount(text, currency, line, signed=True)
        return index + 3
    if funds == "D":  # a count, then (days, amount) pairs
        count_text = fields[index].strip() if index < len(fields) else ""
        if not count_text.isdigit():
            raise _Bad(
                line,
                f"the number of distributions {count_text!r} is not a number",
                "funds type",
            )
        return index + 1 + 2 * int(count_text)
    raise _Bad(line, f"the funds type {funds!r} is not Z, 0, 1, 2, V, S or D", "funds type")


def _detail(number: int, record: _Record, currency: str, as_of: date) -> ParsedLine:
    """A 16 record: type code, amount, funds type (and its fields), refs, text."""
    fields = record.fields()
    line = record.line
    code = fields[0].strip()
    if not (len(code) == 3 and code.isdigit()):
        raise _Bad(line, f"the type code {code!r} is not three digits", "type code")
    kind = int(code)
    if 100 <= kind <= 399 or 920 <= kind <= 959:
        sign = 1
    elif 400 <= kind <= 699 or 960 <= kind <= 999:
        sign = -1
    else:
        raise _Bad(
            line,
            f"the type code {code} is neither a credit (100-399) nor a debit (400-699)",
            "type code",
        )
    amount_text = fields[1].strip() if len(fields) > 1 else ""
    if not amount_text:
        raise _Bad(line, "the transaction detail has no amount", "amount")
    if amount_text[0] in "+-":
        raise _Bad(line, f"the amount {amount_text} of a detail takes no sign", "amount")
    amount = _amount(amount_text, currency, line, signed=False)
    index = _skip_funds(fields, 2, currency, line)
    value_date = as_of
    if len(fields) > 2 and fields[2].strip().upper() == "V":
        text = fields[3].strip() if len(fields) > 3 else ""
        value_date = _date(text, line, "value date")
    rest = fields[index:]
    bank_reference = rest[0].strip() if rest else ""
    customer_reference = rest[1].strip() if len(rest) > 1 else ""
    text = ",".join(rest[2:]).strip()
    return ParsedLine(
        number=number,
        amount=amount * sign,
        booking_date=as_of,
        value_date=value_date,
        reference=customer_reference or None,
        bank_reference=bank_reference or None,
        description=text or None,
        type_code=code,
        where=f"line {line}",
    )


def _trailer(record: _Record, currency: str) -> tuple[Decimal, int]:
    fields = record.fields()
    total_text = fields[0].strip()
    count_text = fields[1].strip() if len(fields) > 1 else ""
    if not total_text:
        raise _Bad(record.line, "the account trailer has no control total", "control total")
    total = _amount(total_text, currency, record.line, signed=True, what="control total")
    if not count_text.isdigit():
        raise _Bad(
            record.line,
            f"the number of records {count_text!r} is not a number",
            "number of records",
        )
    return total, int(count_text)


def _amount(text: str, currency: str, line: int, *, signed: bool, what: str = "amount") -> Decimal:
    """An amount in the currency's minor units, its decimal point implied."""
    digits = text[1:] if signed and text[0] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):
        raise _Bad(line, f"the {what} {text!r} is not a whole number of minor units", what)
    minor = int(digits)
    if minor >= MAX_MINOR:
        raise _Bad(line, f"the {what} {text} is too large", what)
    value = Decimal(-minor if text[0] == "-" else minor).scaleb(-minor_units(currency))
    return value


def _currency(text: str, line: int) -> str:
    try:
        return normalize_currency(text)
    except MoneyError:
        raise _Bad(line, f"unknown currency {text!r}", "currency") from None


def _date(text: str, line: int, what: str) -> date:
    if not (len(text) == 6 and text.isascii() and text.isdigit()):
        raise _Bad(line, f"the {what} {text!r} is not a YYMMDD date", what)
    year = int(text[0:2])
    try:
        return date(year + (2000 if year < 80 else 1900), int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise _Bad(line, f"the {what} {text} is not a valid date", what) from None
