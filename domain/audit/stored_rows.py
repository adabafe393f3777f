"""The table rows ``audit verify --deep`` compares with the log (pure values).

The store reads ``items``, ``journal_entries`` and ``statements`` rows into these, and
:class:`~domain.audit.replay.LogReplay` checks each against what the records say.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredItem:
    """One ``items`` row, as the replay compares it.

    ``amount`` is ``amount_minor`` at the currency's scale, or None when the stored
    currency has no known scale (then the currency itself differs from the log).
    """

    item_id: int
    state: str
    currency: str
    amount: Decimal | None
    amount_minor: int
    kind: str
    route: str
    team: str | None
    required_approvals: int
    content_hash: str
    policy_version: str
    approvers: tuple[str, ...]
    decided_by: str | None
    ledger_ref: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLine:
    """One line of a stored journal entry, at the entry currency's scale."""

    account: str
    debit: Decimal | None
    credit: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEntry:
    """One ``journal_entries`` row, as the replay compares it."""

    ledger_ref: str
    item_id: int
    idempotency_key: str
    currency: str
    lines: tuple[StoredLine, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredStatement:
    """One ``statements`` row, as the replay compares it."""

    statement_id: int
    stage1_status: str
    revision: int
    sha256: str
    content_hash: str
    approvers: tuple[str, ...]
