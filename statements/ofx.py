"""OFX bank and credit-card statements: OFX 1.x (SGML) and OFX 2.x (XML).

Read per statement response (``STMTTRNRS/STMTRS`` and ``CCSTMTTRNRS/CCSTMTRS``; a file
may hold several, for several accounts): ``BANKACCTFROM/ACCTID`` (or ``CCACCTFROM``),
``CURDEF``, ``BANKTRANLIST/DTSTART`` and ``DTEND`` (the dates as the bank states them),
``STMTTRN`` (``TRNAMT`` signed, ``DTPOSTED``, ``DTUSER``, ``FITID``, ``NAME`` or
``PAYEE/NAME``, ``MEMO``, ``CHECKNUM``/``REFNUM``, ``TRNTYPE``), and ``LEDGERBAL`` as the
closing balance. OFX states no opening balance: the opening is derived as closing minus
the entries (``opening_derived=True``), so the chain holds by construction and can only
be checked against the previous statement's closing.

No maintained OFX parser fits: ofxtools is GPL, and ofxparse (MIT) has had no release in
years and reads through BeautifulSoup without the XML hardening below. So this is a small
reader of its own: OFX 1 SGML (leaf elements have no end tag) is tokenised here; OFX 2
goes through the hardened, streaming XML of :mod:`statements.safexml` (no DTD, no
entities, no network).

A transaction in another currency (``CURRENCY``/``ORIGCURRENCY``), an amount with more
decimals than the currency allows, or a failed statement response (``STATUS/CODE`` not 0)
makes that statement a problem; the others still parse.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
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
)
from statements import safexml

FORMAT = StatementFormat.OFX

_SGML_HEADER = re.compile(rb"^\s*OFXHEADER:\s*100", re.IGNORECASE)
_TOKEN = re.compile(r"<(/?)([A-Za-z0-9_.]+)\s*>([^<]*)")
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})")
_RESPONSES = ("STMTTRNRS", "CCSTMTTRNRS")
_CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "8859-1": "latin-1", "NONE": "cp1252"}


def sniff(head: bytes) -> bool:
    """True for an OFX 1 header (``OFXHEADER:100``) or an OFX 2 one (``<?OFX ...?>``)."""
    return bool(_SGML_HEADER.match(head)) or b"<?OFX " in head or b"<OFX>" in head


@dataclass(slots=True)
class _Node:
    """One OFX element: a leaf has ``text``, an aggregate has ``children``."""

    tag: str
    line: int
    text: str | None = None
    children: list[_Node] = field(default_factory=list)

    def find(self, path: str) -> _Node | None:
        node: _Node | None = self
        for part in path.split("/"):
            assert node is not None
            node = next((child for child in node.children if child.tag == part), None)
            if node is None:
                return None
        return node

    def findall(self, tag: str) -> list[_Node]:
        return [child for child in self.children if child.tag == tag]

    def value(self, path: str) -> str | None:
        node = self.find(path)
        if node is None or node.text is None:
            return None
        return node.text.strip() or None


class _Bad(Exception):
    def __init__(self, where: str, error: str) -> None:
        super().__init__(error)
        self.where = where
        self.error = error


def parse(data: bytes) -> ParseResult:
    """Reads every bank and credit-card statement of an OFX 1 or OFX 2 file."""
    try:
        responses, bank = _read_xml(data) if _is_xml(data) else _read_sgml(data)
    except _Bad as bad:
        return ParseResult(
            format=FORMAT, problems=(ParseProblem(where=bad.where, error=bad.error),)
        )
    except safexml.XmlRefused as refused:
        where = f"line {refused.line}" if refused.line else "file"
        return ParseResult(
            format=FORMAT, problems=(ParseProblem(where=where, error=refused.error),)
        )
    statements: list[ParsedStatement] = []
    problems: list[ParseProblem] = []
    for index, response in enumerate(responses, start=1):
        try:
            statements.append(_statement(response, index, bank))
        except _Bad as bad:
            problems.append(ParseProblem(where=bad.where, error=bad.error))
    if not responses:
        problems.append(
            ParseProblem(where="file", error="the OFX file holds no statement (STMTRS or CCSTMTRS)")
        )
    return ParseResult(format=FORMAT, statements=tuple(statements), problems=tuple(problems))


def stream(data: bytes) -> Iterator[ParseItem]:
    """The file's statements, then its problems; not read lazily: an OFX file is one
    download's statements, read whole as a tree."""
    result = parse(data)
    yield from result.statements
    yield from result.problems


def _is_xml(data: bytes) -> bool:
    """OFX 2 starts with an XML declaration (after a BOM) or carries ``<?OFX ...?>``."""
    head = data[:4096].lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    return head.startswith(b"<?xml") or (b"<?OFX " in head and not _SGML_HEADER.match(head))


# --- OFX 2 (XML) ---------------------------------------------------------------------


def _from_xml(element: etree._Element) -> _Node:
    node = _Node(tag=safexml.local_name(element.tag), line=element.sourceline or 0)
    children = list(element)
    if children:
        node.children = [_from_xml(child) for child in children]
    else:
        node.text = element.text
    return node


def _read_xml(data: bytes) -> tuple[list[_Node], str | None]:
    responses: list[_Node] = []
    bank: str | None = None
    tags = ("{*}SONRS", *(f"{{*}}{tag}" for tag in _RESPONSES))
    for _event, element in safexml.iterparse(data, tags=tags):
        node = _from_xml(element)
        if node.tag == "SONRS":
            bank = node.value("FI/ORG")
        else:
            responses.append(node)
        safexml.release(element)
    return responses, bank


# --- OFX 1 (SGML) --------------------------------------------------------------------


def _decode_sgml(data: bytes) -> tuple[str, int]:
    """The body after the ``KEY:VALUE`` header, decoded as the header says, and its line."""
    header_end = re.search(rb"\r?\n\s*\r?\n|<", data)
    header_bytes = data[: header_end.start()] if header_end else b""
    header: dict[str, str] = {}
    for raw in header_bytes.decode("ascii", errors="replace").splitlines():
        key, _, val = raw.partition(":")
        header[key.strip().upper()] = val.strip().upper()
    body_start = data.find(b"<")
    if body_start == -1:
        raise _Bad("file", "the OFX file has no <OFX> body")
    encoding = header.get("ENCODING", "USASCII")
    codec = (
        "utf-8" if encoding in ("UTF-8", "UTF8") else _CHARSETS.get(header.get("CHARSET", "1252"))
    )
    if codec is None:
        raise _Bad(
            "header", f"the OFX header names an unknown character set {header.get('CHARSET')!r}"
        )
    body = data[body_start:]
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, body_start + err.start) + 1
        raise _Bad(
            f"line {line}",
            f"wrong encoding: the bytes at line {line} are not valid {codec} "
            "(the encoding the OFX header declares)",
        ) from None
    return text, data.count(b"\n", 0, body_start) + 1


def _read_sgml(data: bytes) -> tuple[list[_Node], str | None]:
    text, first_line = _decode_sgml(data)
    root = _Node(tag="#document", line=first_line)
    stack = [root]
    line = first_line
    position = 0
    for match in _TOKEN.finditer(text):
        gap = text[position : match.start()]
        if gap.strip():
            raise _Bad(f"line {line}", f"unexpected text {gap.strip()[:40]!r} outside a tag")
        line += text.count("\n", position, match.start())
        position = match.end()
        closing, tag, content = match.group(1), match.group(2).upper(), match.group(3)
        if closing:
            _close(stack, tag, line)
        else:
            node = _Node(tag=tag, line=line)
            stack[-1].children.append(node)
            value = content.strip()
            if value:
                node.text = html.unescape(value)
            else:
                stack.append(node)  # an aggregate (or an empty leaf: see _close)
        line += content.count("\n")
    rest = text[position:]
    if rest.strip():
        raise _Bad(f"line {line}", f"unexpected text {rest.strip()[:40]!r} at the end")
    if len(stack) > 1:
        raise _Bad(
            f"line {line}",
            f"the file is truncated: <{stack[-1].tag}> (line {stack[-1].line}) is never closed",
        )
    responses: list[_Node] = []
    bank: str | None = None
    for ofx in root.findall("OFX"):
        for section in ofx.children:
            if section.tag == "SIGNONMSGSRSV1":
                bank = section.value("SONRS/FI/ORG")
            for response in section.children:
                if response.tag in _RESPONSES:
                    responses.append(response)
    return responses, bank


def _close(stack: list[_Node], tag: str, line: int) -> None:
    """Closes ``tag``; open elements above it were empty leaves (no end tag in SGML)."""
    top = stack[-1]
    if top.tag != tag:
        last = top.children[-1] if top.children else None
        if last is not None and last.tag == tag and last.text is not None:
            return  # the (optional in SGML) end tag of a leaf with a value
        if not any(node.tag == tag for node in stack[1:]):
            raise _Bad(f"line {line}", f"</{tag}> closes an element that is not open")
        while stack[-1].tag != tag:
            empty = stack.pop()
            # An empty leaf swallowed its following siblings: give them back to its parent.
            stack[-1].children.extend(empty.children)
            empty.children = []
    stack.pop()


# --- statements -----------------------------------------------------------------------


def _date(node: _Node, path: str, where: str) -> date | None:
    text = node.value(path)
    if text is None:
        return None
    match = _DATE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise _Bad(where, f"{path} {text!r} is not an OFX date (YYYYMMDD...)") from None


def _amount(text: str | None, currency: str, where: str, what: str) -> Decimal:
    if text is None:
        raise _Bad(where, f"{what} is missing")
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # OFX allows a comma as the decimal mark
    try:
        return parse_amount(text, currency)
    except MoneyError as err:
        raise _Bad(where, f"{what} {err}") from None


def _statement(response: _Node, index: int, bank: str | None) -> ParsedStatement:
    where = f"{response.tag}[{index}] (line {response.line})"
    code = response.value("STATUS/CODE")
    if code not in (None, "0"):
        message = response.value("STATUS/MESSAGE") or response.value("STATUS/SEVERITY") or ""
        raise _Bad(where, f"the bank reports the statement failed (STATUS {code}: {message})")
    rs = response.find("STMTRS") or response.find("CCSTMTRS")
    if rs is None:
        raise _Bad(where, f"{response.tag} holds no STMTRS or CCSTMTRS")
    account = rs.value("BANKACCTFROM/ACCTID") or rs.value("CCACCTFROM/ACCTID")
    if account is None:
        raise _Bad(where, "the statement names no account (BANKACCTFROM/ACCTID)")
    declared = rs.value("CURDEF")
    if declared is None:
        raise _Bad(where, "the statement states no currency (CURDEF)")
    try:
        currency = normalize_currency(declared)
    except MoneyError as err:
        raise _Bad(where, f"CURDEF: {err}") from None
    closing_where = f"{where}/LEDGERBAL"
    closing = _amount(rs.value("LEDGERBAL/BALAMT"), currency, closing_where, "the closing balance")
    tranlist = rs.find("BANKTRANLIST")
    lines: list[ParsedLine] = []
    if tranlist is not None:
        for number, trn in enumerate(tranlist.findall("STMTTRN"), start=1):
            lines.append(_line(trn, number, currency, f"{response.tag}[{index}]"))
    start = _date(tranlist, "DTSTART", where) if tranlist is not None else None
    end = _date(tranlist, "DTEND", where) if tranlist is not None else None
    if end is None:
        end = _date(rs, "LEDGERBAL/DTASOF", closing_where)
    if start is None or end is None:
        raise _Bad(where, "the statement states no period (BANKTRANLIST/DTSTART and DTEND)")
    if end < start:
        raise _Bad(where, f"the period ends ({end}) before it starts ({start})")
    total = sum((ln.amount for ln in lines), Decimal(0))
    return ParsedStatement(
        format=FORMAT,
        account=account,
        currency=currency,
        statement_id=None,
        sequence=None,
        period_start=start,
        period_end=end,
        opening=closing - total,
        closing=closing,
        lines=tuple(lines),
        opening_derived=True,
        bank=rs.value("BANKACCTFROM/BANKID") or bank,
        where=where,
    )


def _line(trn: _Node, number: int, currency: str, response: str) -> ParsedLine:
    where = f"{response}/STMTTRN[{number}] (line {trn.line})"
    if trn.find("CURRENCY") is not None or trn.find("ORIGCURRENCY") is not None:
        raise _Bad(
            where,
            "the transaction is in another currency (CURRENCY), which recon-bot does not read",
        )
    amount = _amount(trn.value("TRNAMT"), currency, where, "the amount (TRNAMT)")
    return ParsedLine(
        number=number,
        amount=amount,
        booking_date=_date(trn, "DTPOSTED", where),
        value_date=_date(trn, "DTUSER", where),
        reference=trn.value("CHECKNUM") or trn.value("REFNUM"),
        counterparty=trn.value("NAME") or trn.value("PAYEE/NAME"),
        counterparty_account=trn.value("BANKACCTTO/ACCTID") or trn.value("CCACCTTO/ACCTID"),
        description=trn.value("MEMO"),
        bank_reference=trn.value("FITID"),
        type_code=trn.value("TRNTYPE"),
        where=where,
    )
