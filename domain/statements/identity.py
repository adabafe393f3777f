"""A statement's identity and content: :class:`StatementKey` (which statement a file is,
so a re-import is the same one) and :func:`content_hash` (what it says, hashed).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from domain.money import canonical_decimal
from domain.statements.parsed import ParsedLine, ParsedStatement


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementKey:
    """A statement's identity: the account (as the policy knows it), its currency, and
    the bank's statement id, sequence and period. A re-import with the same key is the
    same statement (unchanged, or a new revision of it)."""

    account: str
    currency: str
    statement_id: str | None
    sequence: str | None
    period_start: date
    period_end: date

    @property
    def text(self) -> str:
        """One string per identity (stored unique)."""
        parts = [
            self.account,
            self.currency,
            self.statement_id or "",
            self.sequence or "",
            self.period_start.isoformat(),
            self.period_end.isoformat(),
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def content_hash(parsed: ParsedStatement) -> str:
    """What a statement says (balances and lines), hashed: the same content, the same hash,
    whichever file (or position in the file) it came from.

    The hash is SHA-256 of the canonical JSON of ``{"closing", "control_count",
    "control_total", "lines", "opening", "opening_derived"}`` (keys sorted, no spaces,
    UTF-8), each line a list of its fields. It is fed a slice of lines at a time, never
    the whole document: for a 140,000-line statement the document is tens of MB.

    Line amounts are written with ``str``: the parser contract puts them at the
    currency's scale, so one value has one spelling (and ``canonical_decimal``'s
    ``format`` was a third of this function's time on a 100,000-line statement).
    """
    head = _canonical_json(
        {
            "closing": _canon(parsed.closing),
            "control_count": parsed.control_count,
            "control_total": _canon(parsed.control_total),
        }
    )
    tail = _canonical_json(
        {"opening": _canon(parsed.opening), "opening_derived": parsed.opening_derived}
    )
    digest = hashlib.sha256(head[:-1].encode())
    digest.update(b',"lines":[')
    lines = parsed.lines
    for start in range(0, len(lines), _HASH_SLICE):
        if start:
            digest.update(b",")
        # "[[...],[...]]" without its outer brackets: the lines of this slice.
        digest.update(
            _canonical_json([_hashed(ln) for ln in lines[start : start + _HASH_SLICE]])[
                1:-1
            ].encode()
        )
    digest.update(b"],")
    digest.update(tail[1:].encode())
    return digest.hexdigest()


#: Lines serialized per step of :func:`content_hash`.
_HASH_SLICE: Final = 2000


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hashed(ln: ParsedLine) -> list[Any]:
    return [
        ln.number,
        str(ln.amount),
        ln.booking_date and ln.booking_date.isoformat(),
        ln.value_date and ln.value_date.isoformat(),
        ln.reference,
        ln.end_to_end_id,
        ln.counterparty,
        ln.counterparty_account,
        ln.description,
        ln.bank_reference,
        ln.type_code,
    ]


def _canon(value: Decimal | None) -> str | None:
    return None if value is None else canonical_decimal(value)
