"""ISO 20022 camt.053 (BankToCustomerStatement, ``BkToCstmrStmt``), versions 001.02 to 001.08.

What is read, per ``Stmt`` (a file may hold several, for several accounts and currencies):

* the account: ``Acct/Id/IBAN`` or ``Acct/Id/Othr/Id``; the servicer's BIC
  (``Acct/Svcr/FinInstnId/BIC`` or ``BICFI``);
* the currency: ``Acct/Ccy``, or else the balances' ``Amt/@Ccy`` (all must agree);
* the booked balances by type code: opening ``OPBD`` (or ``PRCD``, the previous closing
  booked balance, when there is no OPBD), closing ``CLBD``; ``CdtDbtInd`` gives the sign;
  a statement without both is not a statement recon-bot can check, so it is a problem;
* the period: ``FrToDt`` (dates of ``FrDtTm``/``ToDtTm`` as the bank states them), or
  else the opening balance's date (a PRCD's date plus one day) and the closing's date;
* entries ``Ntry`` with status ``BOOK`` only: pending (``PDNG``) and information-only
  (``INFO``) entries are skipped, as they do not move the booked balance. Per entry:
  ``Amt`` (checked against its currency's minor units: never rounded) and ``CdtDbtInd``
  (credit positive, debit negative; a reversal is booked with the direction it has),
  ``BookgDt``/``ValDt`` (``Dt`` or ``DtTm``), ``AcctSvcrRef``, ``BkTxCd``, and from
  ``NtryDtls/TxDtls`` (when the entry holds one transaction; a batch entry keeps its
  total and says how many it holds): ``Refs/EndToEndId``, ``Refs/InstrId``,
  ``RmtInf/Strd/CdtrRefInf/Ref``, ``RmtInf/Ustrd``, the counterparty (``RltdPties``:
  the debtor of a credit, the creditor of a debit, its name and account), and
  ``AddtlNtryInf``/``AddtlTxInf`` as the description;
* ``TxsSummry/TtlNtries`` (count and net sum), when present, as the control figures.

camt.052 (intraday account report) and camt.054 (debit/credit notification) are refused
with the reason: they carry no booked opening and closing balance, so their lines could
not be checked against anything, and the same entries arrive in the day's camt.053.

A statement with an error (an amount with more decimals than its currency allows, a
balance without a currency, an unknown currency...) becomes one :class:`ParseProblem`
and the others still parse. A file that declares a DTD, or that does not end with its
root's end tag (a truncated file), is refused whole: no statement of it is imported.
XML found broken further in (a stray byte in the wrong encoding, a tag left open) ends
the file there: the statements read whole before that point stand, and the rest is one
problem saying where (as a BAI2 file cut short keeps its whole accounts).

The file is streamed (``safexml.iterparse``): each entry is read at its end tag and
then removed from the tree, and :func:`stream` hands each statement out at its
``</Stmt>`` before reading the next, so memory holds one statement whatever the file's
size.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from lxml import etree

from domain.errors import MoneyError
from domain.money import normalize_currency, parse_amount
from domain.statements.parsed import (
    ParsedLine,
    ParsedStatement,
    ParseItem,
    ParseProblem,
    ParseResult,
    StatementFormat,
    collect,
)
from statements import safexml

FORMAT = StatementFormat.CAMT053

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt."
#: The camt.053 versions this parser reads (each one has a test file).
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(f"001.{n:02d}" for n in range(2, 9))

_MESSAGE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.(\d{3})\.(\d{3}\.\d{2})$")
_TAGS = ("{*}Document", "{*}Stmt", "{*}Ntry")
_REFUSED_MESSAGES = {
    "052": (
        "camt.052 (intraday account report) carries no booked opening and closing "
        "balance, so its entries cannot be checked; import the day's camt.053 statement"
    ),
    "054": (
        "camt.054 (debit/credit notification) carries no booked opening and closing "
        "balance, so its entries cannot be checked; import camt.053 statements"
    ),
}


def sniff(head: bytes) -> bool:
    """True when the start of the file names an ISO 20022 cash-management namespace.

    camt.052 and camt.054 are claimed too, so that :func:`parse` refuses them with the
    reason instead of "not a bank statement".
    """
    return b"urn:iso:std:iso:20022:tech:xsd:camt.05" in head


class _Bad(Exception):
    """One error in a statement: where (element path and line) and the sentence."""

    def __init__(self, where: str, error: str) -> None:
        super().__init__(error)
        self.where = where
        self.error = error


class _FileRefused(Exception):
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


def parse(data: bytes) -> ParseResult:
    """Reads every ``Stmt`` of a camt.053 file; see the module docstring for what and how."""
    return collect(FORMAT, stream(data))


def stream(data: safexml.Source) -> Iterator[ParseItem]:
    """Every ``Stmt`` of a camt.053 file in file order, each read when it is asked for.

    ``data`` is the file's bytes or the file itself (binary, seekable), which is read in
    slices from its start: never whole.

    A file that does not end with its root's end tag is read to its end before anything
    is handed out, so a truncated file is refused whole (one problem); otherwise each
    statement is handed out at its ``</Stmt>``, and XML found broken later ends the
    stream with one problem after the statements read whole before it.
    """
    items = _items(data)
    try:
        if not safexml.ends_closed(data):
            items = iter(list(items))
        yield from items
    except (safexml.XmlRefused, _FileRefused) as refused:
        yield _refusal(refused)


def _refusal(refused: safexml.XmlRefused | _FileRefused) -> ParseProblem:
    if isinstance(refused, _FileRefused):
        return ParseProblem(where=refused.where, error=refused.error)
    where = f"line {refused.line}" if refused.line else "file"
    return ParseProblem(where=where, error=refused.error)


def _items(data: safexml.Source) -> Iterator[ParseItem]:
    """The statements and problems, raising what refuses the file (from where it is)."""
    reader = _Reader()
    for event, element in safexml.iterparse(data, tags=_TAGS, events=("start", "end")):
        item = reader.feed(event, element)
        if item is not None:
            yield item
    yield from reader.end()


class _Reader:
    """Turns the stream of ``Document``/``Stmt``/``Ntry`` events into statements."""

    def __init__(self) -> None:
        self.q: _Names | None = None
        self.current: _Statement | None = None
        self.count = 0

    def feed(self, event: str, element: etree._Element) -> ParseItem | None:
        """Takes one event; returns a statement (or its problem) at its end tag."""
        q = self.q if self.q is not None else self._namespace(element)
        if event == "start":
            if element.tag == q("Stmt"):
                self.count += 1
                self.current = _Statement(index=self.count, line=element.sourceline or 0)
            return None
        if element.tag == q("Ntry"):
            if self.current is not None:
                self.current.entries_seen += 1
                if self.current.bad is None:
                    try:
                        self.current.lines.append(_entry(element, q, self.current))
                    except _Skip:
                        pass  # pending or information only: not booked
                    except _Bad as bad:
                        self.current.fail(bad)
            # Only this entry's subtree is freed; the statement's header stays.
            safexml.release(element)
        elif element.tag == q("Stmt") and self.current is not None:
            item = self._finish(element, q, self.current)
            self.current = None
            safexml.release(element)
            return item
        return None

    def _namespace(self, element: etree._Element) -> _Names:
        ns = safexml.namespace(element.tag)
        match = _MESSAGE.match(ns)
        where = f"{safexml.local_name(element.tag)} (line {element.sourceline})"
        if match is None:
            raise _FileRefused(
                where,
                "not a camt.053 statement: the document's namespace is "
                f"{ns or 'missing'!r}, expected {NAMESPACE_PREFIX}053.001.NN",
            )
        message, version = match.groups()
        if message in _REFUSED_MESSAGES:
            raise _FileRefused(where, _REFUSED_MESSAGES[message])
        if message != "053":
            raise _FileRefused(where, f"camt.{message} is not a bank statement (camt.053)")
        if version not in SUPPORTED_VERSIONS:
            raise _FileRefused(
                where,
                f"camt.053.{version} is not a version recon-bot reads "
                f"({SUPPORTED_VERSIONS[0]} to {SUPPORTED_VERSIONS[-1]})",
            )
        self.q = _Names(ns)
        return self.q

    def _finish(self, element: etree._Element, q: _Names, state: _Statement) -> ParseItem:
        statement_id = _text(element, q("Id"))
        if state.bad is None:
            try:
                return _statement(element, q, state)
            except _Bad as bad:
                state.fail(bad)
        assert state.bad is not None
        error = state.bad.error
        if state.more_errors:
            plural = "s" if state.more_errors > 1 else ""
            error = f"{error} (and {state.more_errors} more problem{plural} in this statement)"
        return ParseProblem(where=state.bad.where, error=error, statement=statement_id)

    def end(self) -> Iterator[ParseProblem]:
        """The file's own problem, once every event is read: no Document, or no Stmt."""
        if self.q is None:
            yield ParseProblem(
                where="file",
                error="not a camt.053 statement: the file has no ISO 20022 Document element",
            )
        elif self.count == 0:
            yield ParseProblem(where="file", error="the camt.053 file holds no statement (Stmt)")


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


@dataclass(frozen=True, slots=True)
class _Balance:
    code: str
    amount: Decimal
    currency: str
    on: date | None


def _balances(statement: etree._Element, q: _Names, state: _Statement) -> list[_Balance]:
    found: list[_Balance] = []
    for i, bal in enumerate(statement.iterfind(q("Bal")), start=1):
        code = _text(bal, q("Tp/CdOrPrtry/Cd")) or _text(bal, q("Tp/CdOrPrtry/Prtry")) or "?"
        path = f"Bal[{i}]"
        amt = bal.find(q("Amt"))
        if amt is not None and not amt.get("Ccy"):
            raise _Bad(
                _where(state, f"{path}/Amt", amt),
                f"the {code} balance has no currency (Amt/@Ccy)",
            )
        amount, currency = _amount(amt, _text(bal, q("CdtDbtInd")), state, f"{path}/Amt")
        on = _date(bal.find(q("Dt")), q, state, f"{path}/Dt")
        found.append(_Balance(code=code, amount=amount, currency=currency, on=on))
    return found


def _one(balances: list[_Balance], code: str, state: _Statement) -> _Balance | None:
    matching = [b for b in balances if b.code == code]
    if len(matching) > 1:
        raise _Bad(state.where, f"the statement has {len(matching)} {code} balances")
    return matching[0] if matching else None


def _statement(element: etree._Element, q: _Names, state: _Statement) -> ParsedStatement:
    account = _text(element, q("Acct/Id/IBAN")) or _text(element, q("Acct/Id/Othr/Id"))
    if account is None:
        raise _Bad(state.where, "the statement names no account (Acct/Id/IBAN or Acct/Id/Othr/Id)")
    balances = _balances(element, q, state)
    declared = _text(element, q("Acct/Ccy"))
    try:
        currency = normalize_currency(declared) if declared else None
    except MoneyError as err:
        raise _Bad(_where(state, "Acct/Ccy", element.find(q("Acct/Ccy"))), str(err)) from None
    balance_currencies = sorted({b.currency for b in balances})
    if currency is None:
        if len(balance_currencies) > 1:
            raise _Bad(
                state.where,
                f"the balances are in several currencies ({', '.join(balance_currencies)}) "
                "and the account names none (Acct/Ccy)",
            )
        currency = balance_currencies[0] if balance_currencies else None
    if currency is None:
        raise _Bad(state.where, "the statement states no currency (Acct/Ccy or a balance's Ccy)")
    for bal in balances:
        if bal.currency != currency:
            raise _Bad(
                state.where,
                f"the {bal.code} balance is in {bal.currency} but the account is in {currency}",
            )
    opening = _one(balances, "OPBD", state) or _one(balances, "PRCD", state)
    closing = _one(balances, "CLBD", state)
    if opening is None or closing is None:
        missing = " and ".join(
            name
            for name, bal in (("opening (OPBD or PRCD)", opening), ("closing (CLBD)", closing))
            if bal is None
        )
        raise _Bad(state.where, f"the statement has no booked {missing} balance")
    for raw in state.lines:
        if raw.currency != currency:
            raise _Bad(
                raw.line.where, f"the entry is in {raw.currency} but the statement is in {currency}"
            )
    start, end = _period(element, q, state, opening, closing)
    control_count, control_total = _summary(element, q, state, currency)
    return ParsedStatement(
        format=FORMAT,
        account=account,
        currency=currency,
        statement_id=_text(element, q("Id")),
        sequence=_text(element, q("ElctrncSeqNb")) or _text(element, q("LglSeqNb")),
        period_start=start,
        period_end=end,
        opening=opening.amount,
        closing=closing.amount,
        lines=tuple(raw.line for raw in state.lines),
        bank=_text(element, q("Acct/Svcr/FinInstnId/BICFI"))
        or _text(element, q("Acct/Svcr/FinInstnId/BIC")),
        control_total=control_total,
        control_count=control_count,
        where=state.where,
    )


def _period(
    element: etree._Element, q: _Names, state: _Statement, opening: _Balance, closing: _Balance
) -> tuple[date, date]:
    span = element.find(q("FrToDt"))
    if span is not None:
        start = _datetime_date(span, q("FrDtTm"), state)
        end = _datetime_date(span, q("ToDtTm"), state)
        if start is not None and end is not None:
            if end < start:
                raise _Bad(
                    _where(state, "FrToDt", span),
                    f"the period ends ({end}) before it starts ({start})",
                )
            return start, end
    start_from_balance = opening.on
    if start_from_balance is not None and opening.code == "PRCD":
        start_from_balance += timedelta(days=1)
    end_from_balance = closing.on
    if start_from_balance is None or end_from_balance is None:
        raise _Bad(
            state.where,
            "the statement states no period: neither FrToDt nor dated opening and closing balances",
        )
    return min(start_from_balance, end_from_balance), end_from_balance


def _datetime_date(span: etree._Element, path: str, state: _Statement) -> date | None:
    text = _text(span, path)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise _Bad(_where(state, "FrToDt", span), f"{text!r} is not a date and time") from None


def _summary(
    element: etree._Element, q: _Names, state: _Statement, currency: str
) -> tuple[int | None, Decimal | None]:
    """``TxsSummry/TtlNtries``: the number of entries and their net sum, when stated."""
    totals = element.find(q("TxsSummry/TtlNtries"))
    if totals is None:
        return None, None
    where = _where(state, "TxsSummry/TtlNtries", totals)
    count_text = _text(totals, q("NbOfNtries"))
    count = int(count_text) if count_text is not None and count_text.isdigit() else None
    net = _text(totals, q("TtlNetNtry/Amt")) or _text(totals, q("TtlNetNtryAmt"))
    if net is None:
        return count, None
    indicator = _text(totals, q("TtlNetNtry/CdtDbtInd")) or _text(totals, q("CdtDbtInd"))
    try:
        value = parse_amount(net, currency)
    except MoneyError as err:
        raise _Bad(where, f"the net total {err}") from None
    return count, -value if indicator == "DBIT" else value
