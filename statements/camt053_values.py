"""Reading one value out of a camt.053 statement: the namespace's Clark names, an
element's text, a signed amount with its currency, a date; the statement being read
(its index, line, entries so far) and the error (:class:`_Bad`) they are reported against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from domain.errors import MoneyError
from domain.money import normalize_currency, parse_amount
from domain.statements.parsed import ParsedLine


class _Bad(Exception):
    """One error in a statement: where (element path and line) and the sentence."""

    def __init__(self, where: str, error: str) -> None:
        super().__init__(error)
        self.where = where
        self.error = error


class _Names:
    """Clark names of one namespace: ``q("Refs/EndToEndId")`` -> ``{ns}Refs/{ns}EndToEndId``."""

    def __init__(self, ns: str) -> None:
        self._prefix = "{" + ns + "}"
        self._cache: dict[str, str] = {}
        self.strip = len(self._prefix)  # ``tag[strip:]`` is the local name

    def __call__(self, path: str) -> str:
        found = self._cache.get(path)
        if found is None:
            found = "/".join(self._prefix + part for part in path.split("/"))
            self._cache[path] = found
        return found


@dataclass(slots=True)
class _RawLine:
    line: ParsedLine
    currency: str


@dataclass(slots=True)
class _Statement:
    """A statement being read: its entries so far, or its first error."""

    index: int
    line: int
    entries_seen: int = 0
    lines: list[_RawLine] = field(default_factory=list)
    bad: _Bad | None = None
    more_errors: int = 0

    @property
    def where(self) -> str:
        return f"Stmt[{self.index}] (line {self.line})"

    def fail(self, bad: _Bad) -> None:
        if self.bad is None:
            self.bad = bad
        else:
            self.more_errors += 1


def _text(element: etree._Element, path: str) -> str | None:
    found = element.findtext(path)
    if found is None:
        return None
    found = found.strip()
    return found or None


def _where(state: _Statement, path: str, element: etree._Element | None) -> str:
    line = f" (line {element.sourceline})" if element is not None else ""
    return f"Stmt[{state.index}]/{path}{line}"


def _amount(
    amt: etree._Element | None, indicator: str | None, state: _Statement, path: str
) -> tuple[Decimal, str]:
    """A signed amount and its currency from ``Amt`` (with ``@Ccy``) and ``CdtDbtInd``."""
    if amt is None:
        raise _Bad(_where(state, path, None), "the amount (Amt) is missing")
    where = _where(state, path, amt)
    currency = amt.get("Ccy")
    if not currency:
        raise _Bad(where, "the amount has no currency (Amt/@Ccy)")
    text = (amt.text or "").strip()
    if text.startswith(("-", "+")):
        raise _Bad(where, f"the amount {text} is signed; camt gives the sign in CdtDbtInd")
    try:
        code = normalize_currency(currency)
        value = parse_amount(text, code)
    except MoneyError as err:
        raise _Bad(where, f"the amount {err}") from None
    if indicator == "CRDT":
        return value, code
    if indicator == "DBIT":
        return -value, code
    raise _Bad(
        where.replace("/Amt", "/CdtDbtInd", 1) if path.endswith("Amt") else where,
        f"the credit/debit indicator is {indicator!r}, expected CRDT or DBIT",
    )


def _date(element: etree._Element | None, q: _Names, state: _Statement, path: str) -> date | None:
    """The date of a ``DateAndDateTimeChoice`` (``Dt`` or ``DtTm``), as the bank states it."""
    if element is None:
        return None
    text = _text(element, q("Dt"))
    try:
        if text is not None:
            return date.fromisoformat(text[:10])
        text = _text(element, q("DtTm"))
        if text is not None:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise _Bad(_where(state, path, element), f"{text!r} is not a date") from None
    raise _Bad(_where(state, path, element), "the date has neither Dt nor DtTm")
