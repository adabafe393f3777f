"""The statement recon-bot stores and a reviewer checks (Stage 1), and its identity.

A :class:`Statement` is one :class:`~domain.statements.parsed.ParsedStatement` the policy
knows the account of, with its checks, the reviewer's edits, approvals and a Stage 1
status of its own (:class:`Stage1Status`, never merged with an item's review state or a
line's :class:`MatchStatus`). Edits are a layer on top of the parsed lines: each line
says whether it was edited, added or removed, and :attr:`Statement.edits` keeps every
edit's old and new value, so :meth:`Statement.parsed_lines` gives back the lines exactly
as parsed.

A kept bank file (:class:`Original`) lives in :mod:`domain.statements.originals`, a
statement's identity and content hash in :mod:`domain.statements.identity`; both are
re-exported here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from domain.statements.identity import StatementKey as StatementKey
from domain.statements.identity import content_hash as content_hash
from domain.statements.originals import Original as Original
from domain.statements.parsed import ParsedLine, StatementFormat

#: How a statement is named to people (``S-12``).
STATEMENT_PREFIX: Final = "S-"


class Stage1Status(StrEnum):
    """Where a statement stands in Stage 1 review."""

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class MatchStatus(StrEnum):
    """Where a bank line or a general-ledger entry stands in Stage 2 (matching): one
    status for both sides; a matched one is never rewritten by an import."""

    UNMATCHED = "unmatched"
    MATCHED = "matched"


class Continuity(StrEnum):
    """Whether this statement's opening is the previous statement's closing."""

    OK = "ok"
    GAP = "gap"
    UNKNOWN = "unknown"


#: The fields of a line a reviewer may correct.
EDITABLE_FIELDS: Final = ("amount", "booking_date", "value_date", "reference", "counterparty")


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementLine:
    """One line of a stored statement, as it stands after the reviewer's edits.

    ``removed`` lines stay (a removed duplicate is still shown, struck out) but count
    for nothing; ``added`` lines were not in the file.
    """

    number: int
    amount: Decimal
    booking_date: date | None = None
    value_date: date | None = None
    reference: str | None = None
    end_to_end_id: str | None = None
    counterparty: str | None = None
    counterparty_account: str | None = None
    description: str | None = None
    bank_reference: str | None = None
    type_code: str | None = None
    where: str = ""
    match_status: MatchStatus = MatchStatus.UNMATCHED
    edited: bool = False
    added: bool = False
    removed: bool = False

    @classmethod
    def of(cls, line: ParsedLine) -> StatementLine:
        """The stored form of a parsed line."""
        return cls(
            number=line.number,
            amount=line.amount,
            booking_date=line.booking_date,
            value_date=line.value_date,
            reference=line.reference,
            end_to_end_id=line.end_to_end_id,
            counterparty=line.counterparty,
            counterparty_account=line.counterparty_account,
            description=line.description,
            bank_reference=line.bank_reference,
            type_code=line.type_code,
            where=line.where,
        )

    @property
    def day(self) -> date | None:
        """The date the line counts on: its booking date, else its value date."""
        return self.booking_date if self.booking_date is not None else self.value_date


class EditKind(StrEnum):
    """What one edit did."""

    CORRECT = "correct"  # one field of one line
    ADD = "add"  # a line missing from the file
    REMOVE = "remove"  # a duplicated line


@dataclass(frozen=True, slots=True, kw_only=True)
class LineEdit:
    """One edit, as recorded: line, field, old and new value (as text), who and when."""

    kind: EditKind
    line: int
    field: str | None
    old: str | None
    new: str | None
    actor: str
    at: datetime

    def to_data(self) -> dict[str, Any]:
        """JSON-safe form (stored and audited)."""
        return {
            "kind": self.kind.value,
            "line": self.line,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "actor": self.actor,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> LineEdit:
        """The edit of :meth:`to_data`."""
        return cls(
            kind=EditKind(data["kind"]),
            line=int(data["line"]),
            field=data.get("field"),
            old=data.get("old"),
            new=data.get("new"),
            actor=str(data["actor"]),
            at=datetime.fromisoformat(data["at"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """Who approved, when, and whether the policy did it (``by_policy``)."""

    actor: str
    at: datetime
    by_policy: bool = False

    def to_data(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {"actor": self.actor, "at": self.at.isoformat(), "by_policy": self.by_policy}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Approval:
        """The approval of :meth:`to_data`."""
        return cls(
            actor=str(data["actor"]),
            at=datetime.fromisoformat(data["at"]),
            by_policy=bool(data.get("by_policy", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Checks:
    """What recon-bot checked, stored with the statement and shown to the reviewer.

    ``delta`` is opening + signed sum of the entries - closing, in the statement's
    currency; None (and ``chain_ok`` None) when the format cannot show the chain.
    ``tolerance`` is the policy's tolerance in the statement's currency.
    """

    delta: Decimal | None
    chain_ok: bool | None
    tolerance: Decimal
    tolerance_rate: Decimal | None  # reporting units per statement unit; None: no rate
    #: The rate's own date (None: the policy's static rate) and its source (provenance).
    tolerance_rate_on: date | None = None
    tolerance_rate_source: str | None = None
    chain_note: str | None = None
    continuity: Continuity = Continuity.UNKNOWN
    continuity_gap: Decimal | None = None  # this opening - the previous closing
    previous_id: int | None = None
    overlap: bool = False
    control_ok: bool | None = None
    control_problems: tuple[str, ...] = ()
    out_of_period: tuple[int, ...] = ()  # line numbers dated outside the period

    def to_data(self) -> dict[str, Any]:
        """JSON-safe form (stored and audited; decimals as strings)."""
        return {
            "delta": _text(self.delta),
            "chain_ok": self.chain_ok,
            "tolerance": _text(self.tolerance),
            "tolerance_rate": _text(self.tolerance_rate),
            "tolerance_rate_on": (
                self.tolerance_rate_on.isoformat() if self.tolerance_rate_on else None
            ),
            "tolerance_rate_source": self.tolerance_rate_source,
            "chain_note": self.chain_note,
            "continuity": self.continuity.value,
            "continuity_gap": _text(self.continuity_gap),
            "previous_id": self.previous_id,
            "overlap": self.overlap,
            "control_ok": self.control_ok,
            "control_problems": list(self.control_problems),
            "out_of_period": list(self.out_of_period),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Checks:
        """The checks of :meth:`to_data`."""
        return cls(
            delta=_dec(data.get("delta")),
            chain_ok=data.get("chain_ok"),
            tolerance=_dec(data.get("tolerance")) or Decimal(0),
            tolerance_rate=_dec(data.get("tolerance_rate")),
            tolerance_rate_on=(
                date.fromisoformat(data["tolerance_rate_on"])
                if data.get("tolerance_rate_on")
                else None
            ),
            tolerance_rate_source=data.get("tolerance_rate_source"),
            chain_note=data.get("chain_note"),
            continuity=Continuity(data.get("continuity", Continuity.UNKNOWN.value)),
            continuity_gap=_dec(data.get("continuity_gap")),
            previous_id=data.get("previous_id"),
            overlap=bool(data.get("overlap", False)),
            control_ok=data.get("control_ok"),
            control_problems=tuple(data.get("control_problems") or ()),
            out_of_period=tuple(int(n) for n in data.get("out_of_period") or ()),
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: object) -> Decimal | None:
    return Decimal(str(value)) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineTotals:
    """What a statement's card shows of its lines: how many count, how many were
    removed, and the money in and out over those that count (the store sums them, so a
    card of 100,000 lines is drawn without reading them)."""

    counted: int
    removed: int
    credits: Decimal
    debits: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class EntriesPage:
    """One page of a statement's lines as a reviewer reads them (the statement itself
    without its lines): ``page`` counts from 0 of ``pages``, ``totals`` cover them all."""

    statement: Statement
    lines: tuple[StatementLine, ...]
    page: int
    pages: int
    page_size: int
    totals: LineTotals

    @property
    def first(self) -> int:
        """The index (from 0) of the page's first line among all the lines."""
        return self.page * self.page_size

    @classmethod
    def of(cls, statement: Statement, *, page: int, page_size: int) -> EntriesPage:
        """The page of a statement that holds its lines (``page`` clamped to the pages
        there are)."""
        totals = statement.totals()
        pages = page_count(totals.counted + totals.removed, page_size)
        page = min(max(page, 0), pages - 1)
        start = page * page_size
        return cls(
            statement=dataclasses.replace(statement, lines=()),
            lines=statement.lines[start : start + page_size],
            page=page,
            pages=pages,
            page_size=page_size,
            totals=totals,
        )


def page_count(rows: int, page_size: int) -> int:
    """Pages of ``page_size`` that ``rows`` fill (at least one, also for none)."""
    return max(1, -(-rows // max(1, page_size)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    """A stored statement (see the module docstring). ``id`` is None until stored."""

    id: int | None
    account: str  # as the policy knows it
    file_account: str  # as the file states it
    entity: str
    team: str
    gl_account: str
    currency: str
    format: StatementFormat
    bank: str | None
    statement_id: str | None
    sequence: str | None
    period_start: date
    period_end: date
    opening: Decimal | None
    closing: Decimal | None
    opening_derived: bool
    control_total: Decimal | None
    control_count: int | None
    lines: tuple[StatementLine, ...]
    file_name: str
    sha256: str
    content_hash: str
    revision: int
    stage1_status: Stage1Status
    checks: Checks
    edits: tuple[LineEdit, ...] = ()
    approvals: tuple[Approval, ...] = ()
    rejection: str | None = None
    policy_version: str = ""
    version: int = 1
    created_at: datetime
    updated_at: datetime

    @property
    def human_id(self) -> str:
        """``S-12`` (``S-new`` before it is stored)."""
        return format_statement_id(self.id)

    @property
    def key(self) -> StatementKey:
        """The identity (see :class:`StatementKey`)."""
        return StatementKey(
            account=self.account,
            currency=self.currency,
            statement_id=self.statement_id,
            sequence=self.sequence,
            period_start=self.period_start,
            period_end=self.period_end,
        )

    @property
    def counted(self) -> tuple[StatementLine, ...]:
        """The lines that count (not removed)."""
        return tuple(ln for ln in self.lines if not ln.removed)

    @property
    def credits(self) -> Decimal:
        """Money in, over the lines that count."""
        return sum((ln.amount for ln in self.counted if ln.amount > 0), Decimal(0))

    @property
    def debits(self) -> Decimal:
        """Money out (a positive amount), over the lines that count."""
        return -sum((ln.amount for ln in self.counted if ln.amount < 0), Decimal(0))

    def totals(self) -> LineTotals:
        """The :class:`LineTotals` of the lines this value holds."""
        counted = self.counted
        return LineTotals(
            counted=len(counted),
            removed=len(self.lines) - len(counted),
            credits=self.credits,
            debits=self.debits,
        )

    @property
    def editors(self) -> frozenset[str]:
        """Everyone who edited this revision."""
        return frozenset(e.actor for e in self.edits)

    def parsed_lines(self) -> tuple[StatementLine, ...]:
        """The lines exactly as parsed: every edit undone, newest first."""
        lines = {ln.number: ln for ln in self.lines}
        for edit in reversed(self.edits):
            if edit.kind is EditKind.ADD:
                lines.pop(edit.line, None)
            elif edit.kind is EditKind.REMOVE:
                lines[edit.line] = dataclasses.replace(lines[edit.line], removed=False)
            else:
                assert edit.field is not None
                line = lines[edit.line]
                lines[edit.line] = dataclasses.replace(
                    line, **{edit.field: parse_field(edit.field, edit.old)}
                )
        return tuple(
            dataclasses.replace(ln, edited=False, added=False, removed=False)
            for ln in sorted(lines.values(), key=lambda ln: ln.number)
        )


def mask_account(account: str) -> str:
    """An account number as messages and logs show it: its first and last four characters
    (``NL81…9999``), or only the last four of a short one (``…6789``)."""
    compact = "".join(account.split())
    if len(compact) > 8:
        return f"{compact[:4]}…{compact[-4:]}"
    if len(compact) > 4:
        return f"…{compact[-4:]}"
    return compact


def format_statement_id(statement_id: int | None) -> str:
    """``S-12`` (``S-new`` for None)."""
    return f"{STATEMENT_PREFIX}{statement_id if statement_id is not None else 'new'}"


def parse_statement_id(text: str) -> int | None:
    """The id of ``S-12``, ``s-12`` or ``12``; None when it is neither."""
    raw = text.strip()
    if raw[:2].upper() == STATEMENT_PREFIX:
        raw = raw[2:]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        return None
    value = int(raw)
    return value if value > 0 else None


def field_text(name: str, value: object) -> str | None:
    """A line field's value as an edit records it."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def parse_field(name: str, text: str | None) -> Any:
    """The value of :func:`field_text` back (the inverse, per field)."""
    if text is None:
        return None
    if name == "amount":
        return Decimal(text)
    if name in ("booking_date", "value_date"):
        return date.fromisoformat(text)
    return text
