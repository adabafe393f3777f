"""Mapping one camt.053 entry (``Ntry``) to a statement line: its status, amount,
dates, references, counterparty, bank transaction code and description, read in one
walk of the entry's subtree.
"""

from __future__ import annotations

import functools
import sys
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from domain.errors import MoneyError
from domain.money import normalize_currency, parse_amount
from domain.statements.parsed import ParsedLine
from statements.camt053_values import (
    _amount,
    _Bad,
    _Names,
    _RawLine,
    _Statement,
    _where,
)


class _Fields:
    """One entry's leaf values by path (``"NtryDtls/TxDtls/Refs/EndToEndId"``), read in one walk.

    One pass over the entry's subtree in C-level child iteration is an order of magnitude
    faster than an ElementPath ``find`` per field (see tests/benchmarks/bench_camt.py).
    The first occurrence of a path wins; ``RmtInf/Ustrd`` lines are all kept.
    """

    __slots__ = ("amount_currency", "transactions", "unstructured", "values")

    def __init__(self, entry: etree._Element, strip: int) -> None:
        self.values: dict[str, str] = {}
        self.unstructured: list[str] = []
        self.transactions = 0
        self.amount_currency: str | None = None
        self._walk(entry, "", strip)

    def _walk(self, element: etree._Element, prefix: str, strip: int) -> None:
        values = self.values
        for child in element:
            tag = child.tag
            if type(tag) is not str:
                continue
            path = prefix + tag[strip:]
            if path in _CONTAINERS:
                if path == "NtryDtls/TxDtls":
                    self.transactions += 1
                    if self.transactions > 1:
                        continue  # a batch: its transactions' details are not read
                elif path == "Sts" and child.text and child.text.strip():
                    values["Sts"] = child.text.strip()  # 001.02-001.06: <Sts>BOOK</Sts>
                self._walk(child, path + "/", strip)
                continue
            # A leaf, or an aggregate never read (an address, charges...): its own text
            # is empty or whitespace, so it adds nothing.
            text = child.text
            if text is not None:
                text = text.strip()
                if text:
                    if path == _USTRD:
                        self.unstructured.append(text)
                    elif path not in values:
                        values[path] = text
            if path == "Amt":
                self.amount_currency = child.get("Ccy")


_USTRD = "NtryDtls/TxDtls/RmtInf/Ustrd"
#: The aggregates of an entry that hold something read; the walk skips all others.
_CONTAINERS = frozenset(
    {
        "Sts",
        "BookgDt",
        "ValDt",
        "BkTxCd",
        "BkTxCd/Domn",
        "BkTxCd/Domn/Fmly",
        "BkTxCd/Prtry",
        "NtryDtls",
        "NtryDtls/TxDtls",
        "NtryDtls/TxDtls/Refs",
        "NtryDtls/TxDtls/RmtInf",
        "NtryDtls/TxDtls/RmtInf/Strd",
        "NtryDtls/TxDtls/RmtInf/Strd/CdtrRefInf",
        "NtryDtls/TxDtls/RltdPties",
        *(
            f"NtryDtls/TxDtls/RltdPties/{role}{tail}"
            for role in ("Dbtr", "Cdtr")
            for tail in ("", "/Pty", "Acct", "Acct/Id", "Acct/Id/Othr")
        ),
    }
)


@functools.lru_cache(maxsize=4096)
def _day(text: str) -> date:
    """``date.fromisoformat``, cached: a statement's entries share a few dates, and one
    object per distinct date keeps 100,000 lines smaller."""
    return date.fromisoformat(text)


def _entry_date(fields: _Fields, name: str, state: _Statement, where: str) -> date | None:
    values = fields.values
    text = values.get(f"{name}/Dt")
    try:
        if text is not None:
            return _day(text[:10])
        text = values.get(f"{name}/DtTm")
        if text is not None:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise _Bad(f"{where}/{name}", f"{text!r} is not a date") from None
    return None


def _join(parts: list[str | None]) -> str | None:
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return " / ".join(seen) or None


_TX = "NtryDtls/TxDtls/"


def _entry(entry: etree._Element, q: _Names, state: _Statement) -> _RawLine:
    number = state.entries_seen
    path = f"Ntry[{number}]"
    where = f"Stmt[{state.index}]/{path}"
    fields = _Fields(entry, q.strip)
    values = fields.values
    status = values.get("Sts") or values.get("Sts/Cd") or values.get("Sts/Prtry")
    if status in ("PDNG", "INFO"):
        raise _Skip()
    if status != "BOOK":
        raise _Bad(
            _where(state, f"{path}/Sts", entry),
            f"the entry's status is {status!r}, expected BOOK, PDNG or INFO",
        )
    amount, currency = _entry_amount(entry, q, fields, state, path)
    end_to_end = reference = counterparty = counterparty_account = None
    notes: list[str | None] = [values.get("AddtlNtryInf")]
    if fields.transactions == 1:
        end_to_end = values.get(_TX + "Refs/EndToEndId")
        if end_to_end == "NOTPROVIDED":
            end_to_end = None
        reference = values.get(_TX + "RmtInf/Strd/CdtrRefInf/Ref") or values.get(
            _TX + "Refs/InstrId"
        )
        role = _TX + ("RltdPties/Dbtr" if amount >= 0 else "RltdPties/Cdtr")
        counterparty = values.get(role + "/Nm") or values.get(role + "/Pty/Nm")
        if counterparty is not None:
            counterparty = sys.intern(counterparty)  # the same payers recur
        counterparty_account = values.get(role + "Acct/Id/IBAN") or values.get(
            role + "Acct/Id/Othr/Id"
        )
        notes.extend(fields.unstructured)
        notes.append(values.get(_TX + "AddtlTxInf"))
    elif fields.transactions > 1:
        notes.append(f"batch of {fields.transactions} transactions")
    domain = values.get("BkTxCd/Domn/Cd")
    if domain is not None:
        type_code: str | None = "/".join(
            part
            for part in (
                domain,
                values.get("BkTxCd/Domn/Fmly/Cd"),
                values.get("BkTxCd/Domn/Fmly/SubFmlyCd"),
            )
            if part
        )
    else:
        type_code = values.get("BkTxCd/Prtry/Cd")
    if type_code is not None:
        type_code = sys.intern(type_code)  # a handful of codes per file
    line = ParsedLine(
        number=len(state.lines) + 1,
        amount=amount,
        booking_date=_entry_date(fields, "BookgDt", state, where),
        value_date=_entry_date(fields, "ValDt", state, where),
        reference=reference,
        end_to_end_id=end_to_end,
        counterparty=counterparty,
        counterparty_account=counterparty_account,
        description=_join(notes),
        bank_reference=values.get("AcctSvcrRef"),
        type_code=type_code,
        where=f"{where} (line {entry.sourceline})",
    )
    return _RawLine(line=line, currency=currency)


def _entry_amount(
    entry: etree._Element, q: _Names, fields: _Fields, state: _Statement, path: str
) -> tuple[Decimal, str]:
    """The fast path of :func:`_amount`; any doubt goes to the careful one (for the where)."""
    text = fields.values.get("Amt")
    currency = fields.amount_currency
    indicator = fields.values.get("CdtDbtInd")
    if text is not None and currency and text[0] not in "+-":
        try:
            value = parse_amount(text, currency)
        except MoneyError:
            pass
        else:
            if indicator == "CRDT":
                return value, normalize_currency(currency)
            if indicator == "DBIT":
                return -value, normalize_currency(currency)
    return _amount(entry.find(q("Amt")), indicator, state, f"{path}/Amt")


class _Skip(_Bad):
    """Not an error: a pending or information-only entry, left out of the statement."""

    def __init__(self) -> None:
        super().__init__("", "")
