"""Reconciliation items: the values the desk works on.

Items are immutable; every change makes a new value with ``dataclasses.replace`` and a
higher ``version`` (the optimistic-lock token the store checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from domain.fx import AppliedRate
from domain.money import Money


class RiskTier(StrEnum):
    """Counterparty risk tier, lowest first (policy lists the tiers that need a human now)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ItemKind(StrEnum):
    """What the matching engine left for a human."""

    UNMATCHED = "unmatched"
    MATCH = "match"
    BATCH = "batch"
    STATEMENT = "statement"


class Route(StrEnum):
    """Where routing sent the item."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"
    AUTO_ACCEPTED = "auto_accepted"


class _Worded(StrEnum):
    """A StrEnum whose values read as words once their underscores are spaces."""

    @property
    def label(self) -> str:
        """The value as people read it: ``awaiting second approval``."""
        return self.value.replace("_", " ")


class ReviewState(_Worded):
    """Review state machine states (see ``domain.states``)."""

    PENDING = "pending"
    ASSIGNED = "assigned"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    DISPUTED = "disputed"
    DEAD_LETTER = "dead_letter"
    POSTED = "posted"
    #: An ``unmatched`` item closed because a later matching run matched its line or
    #: entry (auto-accepted, or a pending match a person accepted): nothing to post.
    MATCHED = "matched"


class DisputeState(_Worded):
    """Dispute branch states."""

    OPEN = "open"
    AWAITING_COUNTERPARTY = "awaiting_counterparty"
    RESOLVED = "resolved"


class DisputeOutcome(_Worded):
    """How a dispute ended."""

    MATCHED = "matched"
    ADJUSTED = "adjusted"
    WRITTEN_OFF = "written_off"
    WITHDRAWN = "withdrawn"


class EntryKind(StrEnum):
    """Why a journal entry exists (the ``kind`` of ``recon-bot journal --json``)."""

    APPROVAL = "approval"
    WRITE_OFF = "write_off"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"
    MATCH = "match"


class DisputeCategory(StrEnum):
    """Why an item is disputed."""

    AMOUNT_MISMATCH = "amount_mismatch"
    MISSING_COUNTERPARTY_RECORD = "missing_counterparty_record"
    DUPLICATE = "duplicate"
    FX_DIFFERENCE = "fx_difference"
    TIMING = "timing"
    SUSPECTED_FRAUD = "suspected_fraud"
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """One approver's sign-off."""

    user: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispute:
    """The dispute branch of an item."""

    state: DisputeState
    category: DisputeCategory
    description: str
    opened_by: str
    opened_at: datetime
    counterparty_contact: str | None = None
    expected_resolution: date | None = None
    evidence_links: tuple[str, ...] = ()
    proposed_adjustment: Decimal | None = None
    outcome: DisputeOutcome | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    write_off_approvals: tuple[Approval, ...] = ()
    #: 1 for an item's first dispute, 2 for the next one opened after it was resolved...
    number: int = 1
    #: The amount adjusted or written off, given with the resolution (item currency).
    resolution_amount: Decimal | None = None
    #: When the desk reminded the dispute's owner that the expected resolution date had
    #: passed (once per dispute; None until then).
    reminded_at: datetime | None = None
    #: Sign-offs the write-off needs, as the latest sign-off's decision worked it out (at
    #: the dated FX rate of the item's day): what the card shows. None before the first.
    write_off_required: int | None = None


def dispute_id(item_id: int, number: int) -> str:
    """The id people and entries use for an item's dispute: ``D-1042-1``."""
    return f"D-{item_id}-{number}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemFacts:
    """What intake knows about an item: the part a re-ingest may amend.

    Amounts are exact Decimals at the currency's scale.
    """

    source: str
    external_id: str
    kind: ItemKind
    entity: str
    currency: str
    amount: Decimal
    counterparty: str | None = None
    risk_tier: RiskTier | None = None
    aging_days: int | None = None
    booked_on: date | None = None
    confidence: Decimal | None = None
    score: int | None = None
    matched_value: Decimal | None = None
    variance: Decimal | None = None
    record_count: int | None = None
    entity_risk_score: Decimal | None = None
    prepared_by: str | None = None
    reference: str | None = None
    description: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def money(self) -> Money:
        """The amount as Money."""
        return Money(amount=self.amount, currency=self.currency)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingDecision:
    """Routing's verdict with its reasons; stored with the policy version it used."""

    route: Route
    kind: ItemKind
    reasons: tuple[str, ...]
    priority: int
    team: str | None
    required_approvals: int
    policy_version: str
    reporting_amount: Decimal | None
    #: The rate ``reporting_amount`` was converted at, and where it came from (None: no
    #: rate, or the item is in the reporting currency).
    fx: AppliedRate | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalLine:
    """One side of a journal entry, in minor units."""

    account: str
    debit_minor: int = 0
    credit_minor: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """A balanced entry for the ledger, created only on a final decision, never before.

    Corrective entries (adjustment, write-off, reversal) name the dispute they settle
    and, for a reversal, the entry they reverse: history is corrected, never changed.
    """

    idempotency_key: str
    ledger_ref: str
    item_id: int
    currency: str
    lines: tuple[JournalLine, ...]
    memo: str
    created_at: datetime
    kind: EntryKind = EntryKind.APPROVAL
    entity: str = ""
    #: The dispute this entry settles (``D-1042-1``), if any.
    dispute_id: str | None = None
    #: The idempotency key of the entry this one reverses, if any.
    reverses: str | None = None
    #: Why the entry may not leave yet (``no account mapping``); None when deliverable.
    hold: str | None = None
    #: The ledger's own reference, once the ledger has accepted the entry.
    reference: str | None = None
    delivered_at: datetime | None = None

    @property
    def balanced(self) -> bool:
        """Debits equal credits and nothing is negative."""
        debits = sum(line.debit_minor for line in self.lines)
        credits = sum(line.credit_minor for line in self.lines)
        nonneg = all(line.debit_minor >= 0 and line.credit_minor >= 0 for line in self.lines)
        return nonneg and debits == credits


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """A reconciliation item under review."""

    id: int | None
    facts: ItemFacts
    content_hash: str
    state: ReviewState
    route: Route
    priority: int
    reasons: tuple[str, ...]
    policy_version: str
    team: str | None
    required_approvals: int
    created_at: datetime
    updated_at: datetime
    sla_started_at: datetime
    version: int = 1
    assignee: str | None = None
    claim_expires_at: datetime | None = None
    approvals: tuple[Approval, ...] = ()
    ladder_level: int = 0
    #: The escalation tier the SLA ladder moved the item into (its name in the graph);
    #: None until the ladder moves it, then derived from ``ladder_level`` where unset
    #: (an item escalated by a person, or stored before the column existed).
    escalation_tier: str | None = None
    sla_credit_seconds: int = 0  # SLA time used before ``sla_started_at`` (e.g. before a pause)
    sla_next_at: datetime | None = None  # when the next ladder rung falls due (indexed)
    #: A digest item's clock waits for the digest that shows it to be posted (then it
    #: starts at that moment); False for every other item, and once it started.
    sla_waits: bool = False
    #: The window of the digest whose post started the item's clock (reminders name
    #: that digest's thread); None when no digest showed it.
    shown_in_digest: str | None = None
    dispute: Dispute | None = None
    ledger_ref: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    #: The FX rate its routing converted the amount at (None: reporting currency, or no
    #: rate); its approvals' records repeat it, since the approvals it needs came from it.
    fx: AppliedRate | None = None

    @property
    def human_id(self) -> str:
        """The id people type: ``R-1042``."""
        if self.id is None:
            raise ValueError("item has no id until it is stored")
        return format_human_id(self.id)

    @property
    def kind(self) -> ItemKind:
        """The item's kind (routing may turn a weak match into an unmatched exception)."""
        return self.facts.kind

    @property
    def money(self) -> Money:
        """The item's amount."""
        return self.facts.money


def format_human_id(item_id: int) -> str:
    """``1042`` -> ``R-1042``."""
    return f"R-{item_id}"


#: The largest id the store can hold (a signed 64-bit column); anything above cannot exist.
MAX_ITEM_ID = 2**63 - 1


def parse_ascii_number(text: str, *, maximum: int) -> int | None:
    """``"1042"`` -> 1042 when ``text`` is ASCII digits only and the value is at most ``maximum``.

    ``str.isdigit`` also accepts superscript two (which ``int`` then refuses with a
    ValueError) and Arabic-Indic one (which ``int`` reads as 1), and ``int`` refuses more
    than 4,300 digits: every number people or Slack payloads hand us goes through here
    instead, so a stray character is "not a number", never a crash or another item.

    Args:
        text: The digits, with no sign, space or separator.
        maximum: The largest acceptable value; longer inputs are refused before ``int``.

    Returns:
        The value, or None for anything else (including an empty string).
    """
    if not text or len(text) > len(str(maximum)) or not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= maximum else None


_ASCII_DIGITS = re.compile(r"[0-9]+")


#: The largest id people may type: well above :data:`MAX_ITEM_ID`, so an absurdly large id
#: is an unknown item rather than a typo, yet short enough that ``int`` never meets its
#: 4,300-digit limit.
_LARGEST_TYPED_ID = 10**30 - 1


def parse_human_id(text: str) -> int | None:
    """``R-1042``, ``r-1042`` or ``1042`` -> 1042; anything else -> None.

    Only ASCII digits make an id: ``R-²`` and ``R-`` with an Arabic-Indic one are not ids.
    """
    raw = text.strip().upper().removeprefix("R-")
    item_id = parse_ascii_number(raw.lstrip("0") or "0", maximum=_LARGEST_TYPED_ID)
    return item_id if item_id else None
