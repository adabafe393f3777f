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

import re
from collections.abc import Iterator

from lxml import etree

from domain.statements.parsed import (
    ParseItem,
    ParseProblem,
    ParseResult,
    collect,
)
from statements import safexml
from statements.camt053_entries import (
    _entry,
    _Skip,
)
from statements.camt053_statement import FORMAT as FORMAT
from statements.camt053_statement import (
    _statement,
)
from statements.camt053_values import (
    _Bad,
    _Names,
    _Statement,
    _text,
)

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


class _FileRefused(Exception):
    def __init__(self, where: str, error: str) -> None:
        super().__init__(error)
        self.where = where
        self.error = error


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
