"""General-ledger entries from an ERP export: the other side Stage 2 matches against (pure).

Rows arrive as ``dict[str, str]`` read by the shell (CSV or JSON Lines); the policy's
``ledger.columns`` says which column holds each field. Every problem names the line, the
field and why, like item intake. An entry is identified by (entry id, account); its
content hash decides whether a re-import changed it.

Text follows intake's rules: an identifier (entry id, account, currency) holding a control
or bidirectional character rejects the row; in text people read (reference, counterparty,
description) each such character is replaced by a visible placeholder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.errors import MoneyError
from domain.intake import MAX_TEXT, PLACEHOLDER, UNSAFE, RowError
from domain.money import normalize_currency, parse_amount
from domain.statements.records import MatchStatus as MatchStatus

#: Identifier fields: an unsafe character in one rejects the row.
_IDENTIFIERS = ("entry_id", "account", "currency")
#: Fields people read: an unsafe character in one is replaced.
_DISPLAYED = ("reference", "counterparty", "description")
MAX_ID = 200
MAX_DESCRIPTION = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One general-ledger entry as the ERP exported it."""

    entry_id: str
    account: str
    booked_on: date
    amount: Decimal
    currency: str
    reference: str | None = None
    counterparty: str | None = None
    description: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(entry id, account): what identifies the entry across imports."""
        return (self.entry_id, self.account)

    def content(self) -> dict[str, Any]:
        """The entry as JSON-ready data (amounts as exact decimal text), for audit records."""
        return {
            "entry_id": self.entry_id,
            "account": self.account,
            "date": self.booked_on.isoformat(),
            "amount": str(self.amount),
            "currency": self.currency,
            "reference": self.reference,
            "counterparty": self.counterparty,
            "description": self.description,
        }

    def content_hash(self) -> str:
        """SHA-256 of :meth:`content`: equal content, equal hash (amounts at their scale)."""
        text = json.dumps(self.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLedgerEntry:
    """An entry as the store holds it: its version and Stage 2 status."""

    entry: LedgerEntry
    version: int
    match_status: MatchStatus
    content_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    """A validated row and where it came from."""

    line: int
    entry: LedgerEntry
    raw: str = ""


class _Bad(Exception):
    def __init__(self, field: str, error: str) -> None:
        super().__init__(error)
        self.field = field
        self.error = error


def _value(row: dict[str, str], columns: dict[str, str], field: str) -> str | None:
    value = row.get(columns[field])
    value = value.strip() if isinstance(value, str) else None
    return value or None


def _required(row: dict[str, str], columns: dict[str, str], field: str) -> str:
    value = _value(row, columns, field)
    if value is None:
        column = columns[field]
        where = "" if column == field else f" (column {column!r})"
        raise _Bad(field, f"is required{where}")
    return value


def _identifier(row: dict[str, str], columns: dict[str, str], field: str) -> str:
    value = _required(row, columns, field)
    if len(value) > MAX_ID:
        raise _Bad(field, f"is longer than {MAX_ID} characters")
    if found := UNSAFE.search(value):
        raise _Bad(field, f"holds U+{ord(found.group()):04X}, which is not plain text")
    return value


def _displayed(row: dict[str, str], columns: dict[str, str], field: str) -> str | None:
    value = _value(row, columns, field)
    if value is None:
        return None
    limit = MAX_DESCRIPTION if field == "description" else MAX_TEXT
    if len(value) > limit:
        raise _Bad(field, f"is longer than {limit} characters")
    return UNSAFE.sub(PLACEHOLDER, value)


def parse_ledger_row(
    row: dict[str, str], *, line: int, columns: dict[str, str]
) -> LedgerEntry | RowError:
    """Validates one ERP export row.

    Args:
        row: column -> text (JSON Lines values already turned to text, numbers exactly).
        line: the row's line number in its file, for the error report.
        columns: field -> column (:meth:`domain.policy.LedgerColumns.mapping`).
    """
    try:
        return _parse(row, columns)
    except _Bad as bad:
        return RowError(line=line, field=bad.field, error=bad.error)


def _parse(row: dict[str, str], columns: dict[str, str]) -> LedgerEntry:
    entry_id = _identifier(row, columns, "entry_id")
    account = _identifier(row, columns, "account")
    raw_date = _required(row, columns, "date")
    try:
        booked_on = date.fromisoformat(raw_date)
    except ValueError:
        raise _Bad("date", f"{raw_date!r} is not a date (YYYY-MM-DD)") from None
    currency_raw = _identifier(row, columns, "currency")
    try:
        currency = normalize_currency(currency_raw)
    except MoneyError as exc:
        raise _Bad("currency", str(exc)) from None
    raw_amount = _required(row, columns, "amount")
    try:
        amount = parse_amount(raw_amount, currency)
    except MoneyError as exc:
        raise _Bad("amount", str(exc)) from None
    return LedgerEntry(
        entry_id=entry_id,
        account=account,
        booked_on=booked_on,
        amount=amount,
        currency=currency,
        reference=_displayed(row, columns, "reference"),
        counterparty=_displayed(row, columns, "counterparty"),
        description=_displayed(row, columns, "description"),
    )


def missing_columns(header: list[str], columns: dict[str, str]) -> list[str]:
    """Required fields whose column the file's header lacks (``field (column 'x')``)."""
    required = ("entry_id", "account", "date", "amount", "currency")
    present = set(header)
    return [
        field if columns[field] == field else f"{field} (column {columns[field]!r})"
        for field in required
        if columns[field] not in present
    ]
