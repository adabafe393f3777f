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

import functools
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from domain.errors import MoneyError
from domain.money import MAX_MINOR_DIGITS, minor_units, normalize_currency
from domain.statements.parsed import (
    ParsedLine,
    ParsedStatement,
    ParseItem,
    ParseProblem,
    ParseResult,
    StatementFormat,
    collect,
)

FORMAT = StatementFormat.MT940

#: A field tag at the start of a line: ``:20:``, ``:28C:``, ``:60F:``...
_TAG = re.compile(r":(\d{2}[A-Z]?):")

#: Control characters some banks put around messages (SOH, ETX, SUB, NUL).
_CONTROL = str.maketrans("", "", "\x00\x01\x03\x1a")

#: Does the start of a file look like MT940: a ``:20:`` soon followed by ``:25:``.
_SNIFF = re.compile(r"(?m)^:20:[^\r\n]*\r?\n(?:[^\r\n]*\r?\n){0,3}?:25:")

#: A balance field: D/C mark, YYMMDD, currency, amount.
_BALANCE = re.compile(r"([DC])(\d{6})([A-Z]{3})(\d[\d,]*)")

#: The first line of a ``:61:`` statement line.
_LINE = re.compile(
    r"(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>R?[DC])(?P<funds>[A-Z])?"
    r"(?P<amount>\d[\d,]*)(?P<type>[A-Z][A-Z0-9]{3})(?P<rest>.*)"
)

#: Subfields of a structured ``:86:`` (``?20``...): the code and its text follow.
_SUBFIELD = re.compile(r"\?(\d{2})")

#: The SEPA keys German banks put in the remittance subfields.
_SEPA_KEY = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|COAM|OAMT|PURP)\+")

#: The keywords of the SWIFT-structured ``:86:`` (``/EREF/.../REMI/...``).
_KEYWORDS = frozenset(
    {
        "ACCW", "ADDR", "BENM", "BIC", "BUSP", "CHGS", "CNTP", "CSID", "EREF", "EXCH",
        "IBAN", "IREF", "ISDT", "MARF", "NAME", "ORDP", "ORIG", "PREF", "PURP", "REMI",
        "RTRN", "SVCL", "TRCD", "TRTP", "ULTB", "ULTC", "ULTD",
    }
)  # fmt: skip

_OPENING = frozenset({"60F", "60M"})
_CLOSING = frozenset({"62F", "62M"})
_MT942 = frozenset({"34F", "13D", "90D", "90C"})  # fields of an interim report only


class _Bad(Exception):
    """One statement that cannot be read: the line, the field and the reason."""

    def __init__(self, line: int, tag: str | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.tag = tag
        self.reason = reason


@dataclass(slots=True)
class _Field:
    tag: str
    line: int  # where the tag stands, 1-based
    lines: list[str]  # the value: the rest of the tag's line, then continuation lines


@dataclass(slots=True)
class _Message:
    number: int  # 1-based, in file order
    line: int
    bank: str | None
    fields: list[_Field] = field(default_factory=list)

    def first(self, tag: str) -> str | None:
        for f in self.fields:
            if f.tag == tag:
                return f.lines[0].strip() or None
        return None


@dataclass(frozen=True, slots=True)
class _Balance:
    date: date
    currency: str
    amount: Decimal


@dataclass(slots=True, kw_only=True)  # not frozen: private, and built once per line
class _Core:
    """A ``:61:`` read, waiting for the ``:86:`` that may follow it."""

    line: int
    amount: Decimal
    value_date: date
    booking_date: date | None
    reference: str | None
    bank_reference: str | None
    type_code: str | None
    supplementary: str | None


@dataclass(slots=True)  # not frozen: private, and built once per line
class _Info:
    """What a ``:86:`` says about one line."""

    type_code: str | None = None
    counterparty: str | None = None
    counterparty_account: str | None = None
    end_to_end_id: str | None = None
    description: str | None = None


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


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if "\x01" in text or "\x03" in text or "\x1a" in text or "\x00" in text:
        text = text.translate(_CONTROL)
    return text


def _messages(text: str) -> Iterator[_Message]:
    """Splits a file into statement messages of fields; knows nothing of their meaning.

    A line starting with a field tag starts a field (and ``:20:`` a message); a ``-`` or
    ``-}`` line, or a ``{1:...}{2:...}{4:`` block header, ends one; any other line goes
    on with the field before it. One pass over the lines, cheapest test first: this loop
    is most of the parse's time.
    """
    current: _Message | None = None
    fields: list[_Field] = []  # the current message's
    last: _Field | None = None
    bank: str | None = None  # from the block header of the message about to start
    count = 0
    tag_at = _TAG.match
    # Lines one at a time (no list of them all), CRLF and CR read as LF; each ends in "\n"
    # until stripped, which every branch below does before it keeps any text.
    for number, line in enumerate(_lines(text), 1):
        first = line[0]
        if first == "{":  # a block header, or a trailer block: it ends any message
            if current is not None:
                yield current
            current = last = None
            start = line.find("{4:")
            bank = _sender(line[:start]) if start >= 0 else None
            line = line[start + 3 :] if start >= 0 else ""  # "{4::20:..." on one line
            if not line.strip():
                continue
            first = line[0]
        if first == ":":
            match = tag_at(line)
            if match is not None:
                tag = match[1]
                if current is None or (tag == "20" and fields):
                    if current is not None:
                        yield current
                    count += 1
                    current = _Message(number=count, line=number, bank=bank)
                    fields = current.fields
                    bank = None
                last = _Field(tag, number, [line[match.end() :].rstrip()])
                fields.append(last)
                continue
        elif first == "-":
            stripped = line.rstrip()
            if stripped == "-" or stripped.startswith("-}"):
                if current is not None:
                    yield current
                current = last = None
                bank = None
                continue
        if last is not None:  # a continuation line; text outside a message is ignored
            stripped = line.rstrip()
            if stripped:
                last.lines.append(stripped)
    if current is not None:
        yield current


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time, each with its line end (LF or CRLF, which
    every reader of a line strips), sliced from ``text`` as they are asked for.

    Not ``io.StringIO``: it keeps its own copy of the text at four bytes a character
    (56 MB for a 14 MB file). Old Mac files that end lines in a bare CR are the one case
    left to it, which reads CR as LF.
    """
    if text.count("\r") != text.count("\r\n"):
        yield from io.StringIO(text, newline=None)
        return
    start, size, find = 0, len(text), text.find
    while start < size:
        end = find("\n", start)
        if end == -1:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


def _sender(headers: str) -> str | None:
    """The sending bank's BIC from an output application header (``{2:O940...}``)."""
    start = headers.find("{2:O")
    if start < 0:
        return None
    # O + message type (3) + input time (4) + input date (6), then the sender's LT address
    # (12: the BIC8, a terminal letter, the branch).
    address = headers[start + 3 + 14 : start + 3 + 26]
    if len(address) != 12 or not address.isalnum():
        return None
    branch = address[9:]
    return address[:8] + ("" if branch == "XXX" else branch)


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


def _balance(f: _Field) -> _Balance:
    value = f.lines[0].strip()
    match = _BALANCE.fullmatch(value)
    if match is None:
        raise _Bad(f.line, f.tag, _balance_fault(value))
    mark, when, currency, amount = match.groups()
    try:
        code = normalize_currency(currency)
    except MoneyError:
        raise _Bad(f.line, f.tag, f"unknown currency {currency!r}") from None
    value_date = _date(when, f)
    signed = _amount(amount, code, f)
    return _Balance(date=value_date, currency=code, amount=-signed if mark == "D" else signed)


def _balance_fault(value: str) -> str:
    """Says what is wrong with a balance that does not match ``1!a6!n3!a15d``."""
    expected = "(expected a D/C mark, a YYMMDD date, a 3-letter currency and an amount)"
    if not value:
        return f"the balance is empty {expected}"
    if value[0] not in "DC":
        return f"the balance's debit/credit mark {value[0]!r} is not D or C"
    if not (len(value) >= 7 and value[1:7].isdigit()):
        return f"the balance has no YYMMDD date {expected}"
    currency = value[7:10]
    if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        return f"the balance has no currency {expected}"
    return f"the balance amount {value[10:]!r} is not a number with a decimal comma"


def _date(text: str, f: _Field) -> date:
    found = _yymmdd(text)
    if found is None:
        raise _Bad(f.line, f.tag, f"{text} is not a valid YYMMDD date")
    return found


@functools.lru_cache(maxsize=4096)  # pure; a file has few distinct dates, read per line
def _yymmdd(text: str) -> date | None:
    year = int(text[0:2])
    try:
        return date(year + (2000 if year < 80 else 1900), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def _entry_date(text: str, value_date: date, f: _Field) -> date:
    """The MMDD entry date in the year that puts it nearest the value date.

    A line valued on 31 December and booked on 2 January (``1231`` ``0102``) is booked
    in the next year; one valued on 2 January and booked on 31 December in the year before.
    """
    month, day = int(text[0:2]), int(text[2:4])
    try:
        same_year = date(value_date.year, month, day)
    except ValueError:
        pass  # 29 February in another year, or no such date: try all three below
    else:
        days = (same_year - value_date).days
        if -183 <= days <= 183:
            return same_year
    best: date | None = None
    for year in (value_date.year - 1, value_date.year, value_date.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs(candidate - value_date) < abs(best - value_date):
            best = candidate
    if best is None:
        raise _Bad(f.line, f.tag, f"the entry date {text} is not a valid MMDD date")
    return best


def _amount(text: str, currency: str, f: _Field) -> Decimal:
    """An unsigned MT940 amount (``1234,56``) at the currency's scale, strictly.

    The scale and the storage limit are ``domain.money``'s; more decimals than the
    currency allows is an error, never rounded ("10,500" EUR is 10.50, "10,505" is not).
    """
    whole, comma, fraction = text.partition(",")
    if "," in fraction:
        raise _Bad(f.line, f.tag, f"the amount {text} has more than one decimal comma")
    scale = minor_units(currency)
    if len(fraction) > scale and fraction[scale:].strip("0"):
        raise _Bad(
            f.line, f.tag, f"the amount {text} has more decimals than {currency} allows ({scale})"
        )
    if len(whole.lstrip("0")) + scale > MAX_MINOR_DIGITS:
        raise _Bad(f.line, f.tag, f"the amount {text} {currency} is too large")
    # Exact: at most MAX_MINOR_DIGITS significant digits, inside Decimal's context.
    return Decimal(f"{whole}.{fraction}" if comma else whole).quantize(_exponent(scale))


@functools.lru_cache(maxsize=8)
def _exponent(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


def _core(f: _Field, *, currency: str) -> _Core:
    """Reads a ``:61:`` as soon as it comes, so problems are told in file order."""
    lines = f.lines
    match = _LINE.match(lines[0])
    if match is None:
        raise _Bad(f.line, f.tag, _line_fault(lines[0]))
    value, entry, mark, _funds, amount_text, type_code, rest = match.groups()
    value_date = _date(value, f)
    amount = _amount(amount_text, currency, f)
    # C and RD (a reversed debit) bring money in; D and RC (a reversed credit) take it out.
    if mark == "D" or mark == "RC":
        amount = -amount
    own, _, bank_reference = rest.partition("//")
    own = own.strip()
    bank_reference = bank_reference.strip()
    return _Core(
        line=f.line,
        amount=amount,
        value_date=value_date,
        booking_date=_entry_date(entry, value_date, f) if entry else None,
        reference=own if own and own.upper() != "NONREF" else None,
        bank_reference=bank_reference or None,
        type_code=sys.intern(type_code),  # a handful of codes, on every line
        supplementary=" ".join(part.strip() for part in lines[1:]) or None
        if len(lines) > 1
        else None,
    )


_NO_INFO = _Info()  # shared, never changed


def _entry(number: int, core: _Core, info_field: _Field | None) -> ParsedLine:
    info = _info(info_field.lines) if info_field is not None else _NO_INFO
    return ParsedLine(
        number=number,
        amount=core.amount,
        booking_date=core.booking_date,
        value_date=core.value_date,
        reference=core.reference,
        end_to_end_id=info.end_to_end_id,
        counterparty=info.counterparty,
        counterparty_account=info.counterparty_account,
        description=info.description or core.supplementary,
        bank_reference=core.bank_reference,
        type_code=info.type_code or core.type_code,
        where=f"line {core.line}",
    )


def _line_fault(value: str) -> str:
    """Says what is wrong with a ``:61:`` that does not match its format."""
    if not (len(value) >= 6 and value[:6].isdigit()):
        return "the statement line does not start with a YYMMDD value date"
    rest = value[6:]
    if len(rest) >= 4 and rest[:4].isdigit():
        rest = rest[4:]
    if not rest.startswith(("C", "D", "RC", "RD")):
        return f"the debit/credit mark {rest[:2]!r} is not C, D, RC or RD"
    rest = rest[2:] if rest[0] == "R" else rest[1:]
    if rest[:1].isalpha():  # a funds code
        rest = rest[1:]
    if not rest[:1].isdigit():
        return "the statement line has no amount after its debit/credit mark"
    return (
        "the statement line has no transaction type (a letter and three characters, "
        "such as NTRF) after its amount"
    )


def _info(lines: list[str]) -> _Info:
    """Reads a ``:86:``: German structured (``166?00...?20...``), SWIFT keyworded
    (``/EREF/.../CNTP/.../REMI/...``, Dutch and other banks) or free text."""
    head = lines[0]
    if len(head) >= 4 and head[:3].isdigit() and head[3] == "?":
        return _structured("".join(lines))
    text = " ".join(part.strip() for part in lines).strip()
    if head.startswith("/"):
        keyworded = _keyworded("".join(lines), fallback=text)
        if keyworded is not None:
            return keyworded
    return _Info(description=text or None)


def _keyworded(text: str, *, fallback: str) -> _Info | None:
    """The ``/KEYWORD/value`` form; None when it is not that (fewer than two keywords).

    Lines are cut at 65 characters wherever they fall, so they are joined without a
    space. ``CNTP`` is account/BIC/name/city; ``REMI`` starts with ``USTD//`` or
    ``STRD/`` before the remittance itself.
    """
    values: dict[str, list[str]] = {}
    current: list[str] | None = None
    for token in text.split("/")[1:]:
        if token in _KEYWORDS:
            current = []
            if token not in values:  # a repeated keyword: the first one counts
                values[token] = current
            continue
        if current is not None:
            current.append(token)
    if len(values) < 2:
        return None

    def joined(key: str) -> str:
        return "/".join(values.get(key, ())).strip("/").strip()

    counterpart = values.get("CNTP", [])
    account = joined("IBAN") or (counterpart[0].strip() if counterpart else "")
    name = joined("NAME") or (counterpart[2].strip() if len(counterpart) > 2 else "")
    remittance = values.get("REMI", [])
    if remittance and remittance[0] in ("USTD", "STRD"):
        remittance = remittance[1:]
    description = "/".join(remittance).strip("/").strip()
    eref = joined("EREF")
    return _Info(
        counterparty=name or None,
        counterparty_account=account or None,
        end_to_end_id=eref if eref and eref.upper() != "NOTPROVIDED" else None,
        description=description or fallback or None,
    )


def _structured(text: str) -> _Info:
    parts = _SUBFIELD.split(text)
    # parts: [GVC, code, text, code, text, ...]; a code may repeat (?20..?29 are one text)
    # codes stay two-digit strings: they order and compare as their numbers do
    subfields: dict[str, str] = {}
    for index in range(1, len(parts) - 1, 2):
        code = parts[index]
        subfields[code] = subfields.get(code, "") + parts[index + 1]
    remittance = "".join(
        subfields[code]
        for code in sorted(subfields)
        if "20" <= code <= "29" or "60" <= code <= "63"
    )
    name = (subfields.get("32", "") + subfields.get("33", "")).strip()
    account = subfields.get("31", "").strip()
    end_to_end: str | None = None
    keyed = _SEPA_KEY.split(remittance) if "+" in remittance else [remittance]
    if len(keyed) > 1:
        # [before, key, value, key, value, ...]
        values = {keyed[i]: keyed[i + 1].strip() for i in range(1, len(keyed) - 1, 2)}
        eref = values.get("EREF", "")
        end_to_end = eref if eref and eref.upper() != "NOTPROVIDED" else None
        remittance = values.get("SVWZ", "") or keyed[0]
    description = remittance.strip() or subfields.get("00", "").strip()
    return _Info(
        type_code=sys.intern(parts[0][:3]),
        counterparty=name or None,
        counterparty_account=account or None,
        end_to_end_id=end_to_end,
        description=description or None,
    )
