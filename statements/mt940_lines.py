"""MT940 statement lines: a ``:61:`` and the ``:86:`` that may follow it (German
structured, SWIFT keyworded or free text) mapped to a statement line.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from domain.statements.parsed import ParsedLine
from statements.mt940_fields import _amount, _Bad, _date, _entry_date
from statements.mt940_messages import _Field

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
