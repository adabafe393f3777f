"""BAI2 cash management balance reporting files.

A file (``01`` header, ``99`` trailer) holds groups (``02`` header with the originating
bank and the as-of date, ``98`` trailer), each holding accounts: an ``03`` record (account
number, currency, then type code / amount / item count / funds type summaries: ``010``
opening ledger, ``015`` closing ledger, ``040`` opening available...), ``16`` transaction
details (type code, amount, funds type, bank reference, customer reference, text) and an
``49`` account trailer (control total, number of records). ``88`` records continue the
record before them. Fields are separated by commas; a record ends with ``/``, except a
``16`` whose text runs to the end of the line (and on into its ``88`` records).

Amounts are integers with the decimal point implied by the currency (``150000`` USD is
1500.00, JPY has none), signed with an optional ``+``/``-``. A detail's amount carries no
sign: codes 100-399 (and the customised 920-959) are credits, 400-699 (960-999) debits.
The currency is the account's, else the group's, else USD (as BAI2 says).

One :class:`ParsedStatement` per ``03`` account per group: the period is the group's
as-of date, opening and closing the ``010``/``015`` ledger balances (None when the bank
reports none). The ``49`` trailer's controls are translated to the statement's entries so
the import can check them against the lines: ``control_total`` is the trailer's total
less the ``03`` amounts (BAI2 adds every amount of the ``03`` and ``16`` records as
written, so it is what the file says ``credits + debits`` of the lines is) and
``control_count`` the trailer's record count less the ``03``, ``49`` and ``88`` records
(the number of ``16`` records, so the number of lines the file says it has).

An account that cannot be read whole is one :class:`ParseProblem` (group, account, line
and field); the others still parse. The ``98`` and ``99`` trailers are checked here (their
totals, account or group counts and record counts against what was read): a whole
account or group gone missing shows only there, as a problem of the file. A file
without its ``99`` trailer is truncated: the accounts read whole before the cut still
parse, the cut one and the file are problems.

Why not the ``bai2`` package (0.15.0, MIT): it parses the whole file or raises one
exception with no line, reads amounts as bare integers without the currency's scale,
joins continuation text by guesswork on trailing slashes, and ships no type hints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from domain.statements.parsed import (
    ParsedStatement,
    ParseItem,
    ParseProblem,
    ParseResult,
)
from statements.bai2_accounts import FORMAT as FORMAT
from statements.bai2_accounts import (
    _Account,
    _currency,
    _date,
    _Group,
    _statement,
)
from statements.bai2_records import _Bad, _Record, _records


@dataclass(slots=True)
class _Tally:
    """What a trailer (98, 99) should say: its records, accounts or groups, total."""

    records: int = 0  # physical records, the header's, the 88s' and the trailer's own
    children: int = 0
    total: int = 0  # BAI2 adds the raw numbers, whatever their currencies
    total_known: bool = True

    def add_total(self, text: str) -> None:
        raw = text.strip()
        digits = raw[1:] if raw[:1] in ("+", "-") else raw
        if digits.isascii() and digits.isdigit():
            self.total += -int(digits) if raw[0] == "-" else int(digits)
        else:
            self.total_known = False


def sniff(head: bytes) -> bool:
    """Does the start of a file look like BAI2: a ``01,`` header then ``02,``/``03,``?"""
    text = head[:4096].decode("latin-1")
    if text.startswith("\xef\xbb\xbf"):  # a UTF-8 byte order mark, read as Latin-1
        text = text[3:]
    text = text.lstrip()
    if not text.startswith("01,"):
        return False
    lines = text.splitlines()
    # The header has at least sender, receiver, date, time and file id.
    if lines[0].count(",") < 5:
        return False
    return len(lines) == 1 or any(ln.startswith(("02,", "88,")) for ln in lines[1:3])


def parse(data: bytes) -> ParseResult:
    """Reads every account of every group of a BAI2 file; each bad one is a problem.

    Text is UTF-8 when it decodes as such, else Latin-1: BAI2 is ASCII, but a payee's
    accent in a detail's text should not cost the whole file.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _file_problem("file", "the file is UTF-16 text: BAI2 files are ASCII")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if not text.lstrip().startswith("01,"):
        return _file_problem("line 1", "not a BAI2 file: it does not start with a file header (01)")
    reader = _Reader(text)
    reader.run()
    if not reader.statements and not reader.problems:
        return _file_problem("file", "no BAI2 account found: the file has no 03 record")
    return ParseResult(
        format=FORMAT, statements=tuple(reader.statements), problems=tuple(reader.problems)
    )


def stream(data: bytes) -> Iterator[ParseItem]:
    """The file's statements, then its problems; not read lazily: a BAI2 file is a
    day's accounts, read whole in one pass of its records."""
    result = parse(data)
    yield from result.statements
    yield from result.problems


def _file_problem(where: str, error: str) -> ParseResult:
    return ParseResult(format=FORMAT, problems=(ParseProblem(where=where, error=error),))


class _Reader:
    """Walks the records once, collecting statements and problems."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.statements: list[ParsedStatement] = []
        self.problems: list[ParseProblem] = []
        self.file_id: str | None = None
        self.group: _Group | None = None
        self.group_count = 0
        self.account_count = 0
        self.account: _Account | None = None
        self.account_fault: _Bad | None = None  # a bad record inside the open account
        self.skipping = False  # inside a group or account already told to be bad
        self.header_seen = False
        self.trailer_seen = False
        self.last_line = 0
        self.file_tally = _Tally()
        self.group_tally: _Tally | None = None

    def run(self) -> None:
        for item in _records(self.text):
            self._tally(item)
            if isinstance(item, _Bad):
                self._fault(item)
                continue
            self.last_line = item.line + item.lines - 1
            try:
                self._record(item)
            except _Bad as bad:
                self._fault(bad)
        if self.account is not None:
            self._fault(
                _Bad(
                    self.last_line,
                    "the account has no trailer (49): the file is truncated",
                )
            )
            self._close_account()
        if not self.trailer_seen and self.header_seen:
            self.problems.append(
                ParseProblem(
                    where=f"line {self.last_line}",
                    error="the file ends without its trailer (99): it is truncated",
                )
            )

    def _tally(self, item: _Record | _Bad) -> None:
        """Counts for the trailers, every record read, even one skipped as bad.

        A file total is the sum of its groups' and so of all its accounts' totals: both
        are added up from the 49s, so a lost 98 does not also break the file total.
        """
        physical = 1 if isinstance(item, _Bad) else item.lines
        self.file_tally.records += physical
        group = self.group_tally
        if group is not None:
            group.records += physical
        if isinstance(item, _Bad):
            return
        if item.code == "03" and group is not None:
            group.children += 1
        elif item.code == "49":
            total = item.fields()[0]
            self.file_tally.add_total(total)
            if group is not None:
                group.add_total(total)

    def _fault(self, bad: _Bad) -> None:
        if self.account is not None:
            if self.account_fault is None:
                self.account_fault = bad
            return
        where = f"line {bad.line}"
        if bad.field is not None:
            where += f", {bad.field}"
        if self.group is not None:
            where = f"group {self.group.number}, {where}"
        self.problems.append(ParseProblem(where=where, error=bad.reason))

    def _record(self, record: _Record) -> None:
        code = record.code
        if self.skipping and code in ("03", "16", "49"):
            return  # its group header or account header was the problem, told once
        self.skipping = False
        if code == "16":
            if self.account is None:
                raise _Bad(record.line, "a transaction detail (16) is outside any account")
            self.account.details.append(record)
        elif code == "03":
            if self.group is None:
                self.skipping = True
                raise _Bad(record.line, "an account (03) is outside any group (02)")
            if self.account is not None:
                self._fault(_Bad(record.line, "the account has no trailer (49) before the next 03"))
                self._close_account()
            self.account_count += 1
            self.account = _Account(header=record)
        elif code == "49":
            if self.account is None:
                raise _Bad(record.line, "an account trailer (49) closes no account")
            self.account.trailer = record
            self._close_account()
        elif code == "02":
            self._open_group(record)
        elif code == "98":
            if self.account is not None:
                self._fault(
                    _Bad(record.line, "the account has no trailer (49) before the group's 98")
                )
                self._close_account()
            tally, number = self.group_tally, self.group_count
            self.group, self.group_tally = None, None
            if tally is None:
                raise _Bad(record.line, "a group trailer (98) closes no group")
            fields = record.fields()
            self._check_trailer(
                record,
                fields,
                tally,
                kind="group trailer (98)",
                scope="group",
                children="accounts",
                where=f"group {number}, line {record.line}",
            )
        elif code == "01":
            if self.header_seen:
                raise _Bad(record.line, "a second file header (01)")
            self.header_seen = True
            fields = record.fields()
            self.file_id = (fields[4].strip() or None) if len(fields) > 4 else None
        elif code == "99":
            self.trailer_seen = True
            if self.group_tally is not None:
                self.group_tally = None
                self.problems.append(
                    ParseProblem(
                        where=f"group {self.group_count}, line {record.line}",
                        error="the group has no trailer (98) before the file trailer (99)",
                    )
                )
            self._check_trailer(
                record,
                record.fields(),
                self.file_tally,
                kind="file trailer (99)",
                scope="file",
                children="groups",
                where=f"line {record.line}",
            )

    def _check_trailer(
        self,
        record: _Record,
        fields: list[str],
        tally: _Tally,
        *,
        kind: str,
        scope: str,
        children: str,
        where: str,
    ) -> None:
        """Compares a 98 or 99 with what was read: missing or added records, accounts or
        groups show here even when every 49 agrees with its own account."""
        stated = [field.strip() for field in fields] + ["", "", ""]
        checks = (
            ("control total", stated[0], tally.total if tally.total_known else None),
            (f"number of {children}", stated[1], tally.children),
            ("number of records", stated[2], tally.records),
        )
        for name, text, counted in checks:
            if counted is None:
                continue
            number = text[1:] if name == "control total" and text[:1] in ("+", "-") else text
            if not (number.isascii() and number.isdigit()):
                error = f"the {kind} {name} {text!r} is not a number"
            elif int(text) == counted:
                continue
            elif name == "control total":
                error = (
                    f"the {kind} control total {text} is not the sum of its {children}' ({counted})"
                )
            else:
                error = f"the {kind} counts {int(text)} {name[10:]} but the {scope} has {counted}"
            self.problems.append(ParseProblem(where=f"{where}, {name}", error=error))

    def _open_group(self, record: _Record) -> None:
        if self.account is not None:
            self._fault(_Bad(record.line, "the account has no trailer (49) before the next group"))
            self._close_account()
        if self.group_tally is not None:
            self.problems.append(
                ParseProblem(
                    where=f"group {self.group_count}, line {record.line}",
                    error="the group has no trailer (98) before the next group header (02)",
                )
            )
        self.group_count += 1
        self.account_count = 0
        self.group_tally = _Tally(records=record.lines)
        self.file_tally.children += 1
        self.group = None
        self.skipping = True  # until this header reads: its accounts go with it
        fields = record.fields()
        as_of_text = fields[3].strip() if len(fields) > 3 else ""
        as_of = _date(as_of_text, record.line, "as-of date")
        currency_text = fields[5].strip() if len(fields) > 5 else ""
        currency = _currency(currency_text, record.line) if currency_text else None
        originator = fields[1].strip() if len(fields) > 1 else ""
        self.group = _Group(
            number=self.group_count,
            line=record.line,
            originator=originator or None,
            as_of=as_of,
            currency=currency,
        )
        self.skipping = False

    def _close_account(self) -> None:
        account, fault, group = self.account, self.account_fault, self.group
        self.account, self.account_fault = None, None
        assert account is not None and group is not None
        number = self.account_count
        where = f"group {group.number}, account {number}"
        if fault is None:
            try:
                self.statements.append(_statement(account, group, number, self.file_id))
                return
            except _Bad as bad:
                fault = bad
        detail = f"line {fault.line}" + (f", {fault.field}" if fault.field else "")
        self.problems.append(
            ParseProblem(
                where=f"{where}, {detail}",
                error=fault.reason,
                # the file id, as ParsedStatement.statement_id; ``where`` names the account
                statement=self.file_id,
            )
        )
