"""SWIFT MT940 customer statements.

A file holds one or more statement messages (often a month of daily statements, for
several accounts and currencies), each either wrapped in SWIFT blocks
(``{1:...}{2:...}{4:`` ... ``-}``) or bare, ended by a ``-`` line or simply by the next
``:20:``. Lines end in CRLF or LF. The fields read:

- ``:20:`` transaction reference (the statement id), ``:25:`` account as stated (with
  or without a bank-code prefix such as ``BANKDEFFXXX/DE89...``: the import matches it
  as it is), ``:28C:`` statement number/sequence (the sequence);
- ``:60F:``/``:60M:`` opening and ``:62F:``/``:62M:`` closing booked balance
  (``1!a6!n3!a15d``: D/C mark, YYMMDD, currency, amount with a decimal comma);
- ``:61:`` statement lines (``6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]`` and 34x
  supplementary details on the next line): value date, entry date (MMDD, its year taken
  from the value date across New Year), D/C/RC/RD mark (RC, a reversal of a credit, is a
  debit; RD a credit), funds code, amount, type, customer and bank reference;
- ``:86:`` information to the account owner after a line: free text, or the German
  structured form (``GVC?00..?63``: ``?20-?29``/``?60-?63`` remittance with the SEPA
  keys ``EREF+``/``SVWZ+``..., ``?31`` counterparty IBAN, ``?32``/``?33`` name);
- ``:64:``/``:65:`` available balances and other fields are ignored.

The period runs from the opening to the closing balance date. A statement that cannot be
read whole is one :class:`ParseProblem` naming the statement, line and field; the other
statements of the file still parse.

Why not the ``mt-940`` package (BSD-3-Clause, maintained): it folds every statement of a
file into one object whose balances the last statement overwrites, keeps no line
positions (``where`` needs them), raises one error for the whole file with the raw field
value in it, and put the ``?31`` IBAN into the counterparty name in our tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from domain.statements.parsed import (
    ParsedStatement,
    ParseItem,
    ParseProblem,
    ParseResult,
    StatementFormat,
    collect,
)
from statements.mt940_fields import (
    _Bad,
    _Balance,
    _balance,
)
from statements.mt940_lines import (
    _Core,
    _core,
    _entry,
)
from statements.mt940_messages import (
    _decode,
    _Field,
    _Message,
    _messages,
)

FORMAT = StatementFormat.MT940

#: Does the start of a file look like MT940: a ``:20:`` soon followed by ``:25:``.
_SNIFF = re.compile(r"(?m)^:20:[^\r\n]*\r?\n(?:[^\r\n]*\r?\n){0,3}?:25:")

_OPENING = frozenset({"60F", "60M"})
_CLOSING = frozenset({"62F", "62M"})
_MT942 = frozenset({"34F", "13D", "90D", "90C"})  # fields of an interim report only


def sniff(head: bytes) -> bool:
    """Does the start of a file look like MT940 (bare or in SWIFT blocks)?"""
    text = head[:8192].decode("latin-1")
    if text.startswith("\xef\xbb\xbf"):  # a UTF-8 byte order mark, read as Latin-1
        text = text[3:]
    stripped = text.lstrip()
    if stripped.startswith("{1:") and ("{2:O940" in text or "{2:I940" in text):
        return True
    return _SNIFF.search(text) is not None


def parse(data: bytes) -> ParseResult:
    """Reads every statement of an MT940 file; each bad one becomes a problem.

    Text is UTF-8 when it decodes as such, else Latin-1 (German banks send ISO 8859-1);
    no byte is refused for its encoding.
    """
    return collect(FORMAT, stream(data))


def stream(data: bytes) -> Iterator[ParseItem]:
    """The statements of an MT940 file in file order (each bad one a problem), each read
    when it is asked for: a message's fields are cut from the text only then."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        yield ParseProblem(where="file", error="the file is UTF-16 text: MT940 is 8-bit")
        return
    found = False
    for message in _messages(_decode(data)):
        found = True
        try:
            yield _statement(message)
        except _Bad as bad:
            where = f"statement {message.number}, line {bad.line}"
            if bad.tag is not None:
                where += f", field :{bad.tag}:"
            yield ParseProblem(where=where, error=bad.reason, statement=message.first("20"))
    if not found:
        yield ParseProblem(
            where="file",
            error="no MT940 statement found: the file has no :20: field to start one",
        )


def _statement(message: _Message) -> ParsedStatement:
    reference: str | None = None
    account: str | None = None
    sequence: str | None = None
    opening: _Balance | None = None
    closing: _Balance | None = None
    entries: list[tuple[_Core, _Field | None]] = []
    tags = {f.tag for f in message.fields}
    if tags & _MT942 and not tags & _OPENING:
        raise _Bad(
            message.line,
            None,
            "this is an MT942 interim report, not a statement: it has no booked balances",
        )
    for f in message.fields:
        tag = f.tag
        if tag == "61":
            if opening is None:
                raise _Bad(f.line, tag, "a statement line comes before the opening balance")
            if closing is not None:
                raise _Bad(f.line, tag, "a statement line comes after the closing balance")
            entries.append((_core(f, currency=opening.currency), None))
        elif tag == "86":
            # After a :61: it tells about that line; elsewhere about the whole statement.
            if entries and entries[-1][1] is None and closing is None:
                entries[-1] = (entries[-1][0], f)
        elif tag == "20":
            reference = f.lines[0].strip() or None
            if reference is None:
                raise _Bad(f.line, tag, "the transaction reference is empty")
        elif tag == "25":
            account = f.lines[0].strip() or None
            if account is None:
                raise _Bad(f.line, tag, "the account identification is empty")
        elif tag in ("28C", "28"):
            sequence = f.lines[0].strip() or None
        elif tag in _OPENING:
            if opening is not None:
                raise _Bad(f.line, tag, "the statement has a second opening balance")
            opening = _balance(f)
        elif tag in _CLOSING:
            if closing is not None:
                raise _Bad(f.line, tag, "the statement has a second closing balance")
            closing = _balance(f)
        # :21:, :64:, :65:, :13D: and bank-specific fields carry nothing we keep.
    end = message.fields[-1].line
    if reference is None:
        raise _Bad(message.line, None, "the statement has no transaction reference (:20:)")
    if account is None:
        raise _Bad(message.line, None, "the statement has no account identification (:25:)")
    if opening is None:
        raise _Bad(message.line, None, "the statement has no opening balance (:60F: or :60M:)")
    if closing is None:
        raise _Bad(
            end,
            None,
            "the statement has no closing balance (:62F: or :62M:); the file may be truncated",
        )
    if closing.currency != opening.currency:
        raise _Bad(
            end,
            None,
            f"the closing balance is in {closing.currency} but the opening balance "
            f"in {opening.currency}",
        )
    if closing.date < opening.date:
        raise _Bad(
            end,
            None,
            f"the closing balance date {closing.date} is before the opening balance "
            f"date {opening.date}",
        )
    currency = opening.currency
    lines = tuple(_entry(number, core, info) for number, (core, info) in enumerate(entries, 1))
    return ParsedStatement(
        format=FORMAT,
        account=account,
        currency=currency,
        statement_id=reference,
        sequence=sequence,
        period_start=opening.date,
        period_end=closing.date,
        opening=opening.amount,
        closing=closing.amount,
        lines=lines,
        bank=_bank(account) or message.bank,
        where=f"statement {message.number} (line {message.line})",
    )


def _bank(account: str) -> str | None:
    """The bank code an account is prefixed with (``BANKDEFFXXX/DE89...``), if any."""
    prefix, slash, rest = account.partition("/")
    return prefix if slash and prefix and rest else None
