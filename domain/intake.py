"""Intake rows -> ItemFacts, strictly: every problem names the line, the field and why.

Pure: rows arrive as ``dict[str, str]`` already read by the shell (CSV or JSON Lines);
``today`` comes in as an argument for turning ``booked_on`` into an age.

Text that would show as something else is not let through: a control character or a
bidirectional override (``Evil\u202eCorp`` shows as ``EvilproC``) in an identifier
rejects the row, and in text people read (counterparty, reference, description) is
replaced by a visible placeholder, the value as received kept in ``extra``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.errors import MoneyError
from domain.items import ItemFacts, ItemKind, RiskTier, RoutingDecision
from domain.money import canonical_decimal, normalize_currency, parse_amount, parse_decimal

if TYPE_CHECKING:  # the type only: reading rows needs no audit code
    from domain.audit.records import CanonicalData

REQUIRED = ("external_id", "entity", "currency", "amount")
KNOWN = frozenset(
    {
        *REQUIRED,
        "kind",
        "source",
        "counterparty",
        "counterparty_risk_tier",
        "aging_days",
        "booked_on",
        "confidence",
        "score",
        "matched_value",
        "variance",
        "record_count",
        "entity_risk_score",
        "prepared_by",
        "reference",
        "description",
    }
)
MAX_TEXT = 300
#: Free text people read: a character from :data:`UNSAFE` in it is replaced (not the row
#: rejected), the value as received kept in ``extra`` under ``raw:<column>``. In any
#: other known column (identifiers above all) it rejects the row.
DISPLAYED = frozenset({"counterparty", "reference", "description"})
#: Characters that are not text or change how the text around them is shown: C0 controls
#: but tab and line breaks (NUL among them), DEL, C1 controls, and the bidirectional
#: embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: Shown in place of each unsafe character: visible, so a reader sees something was there.
PLACEHOLDER = "\ufffd"
#: Whole-number columns are 32-bit INTEGER on PostgreSQL.
MAX_INT = 2**31 - 1
# ASCII digits only: int() also takes "1_000" and non-ASCII (Arabic-Indic, full-width) digits.
_WHOLE_NUMBER = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class RowError:
    """Why one input row was rejected."""

    line: int
    field: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeRow:
    """A validated row and where it came from.

    ``content_hash``, ``decision`` and ``routing_record`` may come precomputed
    (:func:`domain.routing.prepare` in a parsing process): ingest uses the decision, and
    the record's data that tells it, only when it was made under the policy version in
    force, and routes the row itself otherwise.
    """

    line: int
    facts: ItemFacts
    raw: str = ""
    content_hash: str | None = None
    decision: RoutingDecision | None = None
    #: The ``item.ingested`` audit data of a new item from this row, ready to record.
    routing_record: CanonicalData | None = None


class _Bad(Exception):
    def __init__(self, field: str, error: str) -> None:
        super().__init__(error)
        self.field = field
        self.error = error


def _text(row: dict[str, str], name: str, *, required: bool = False) -> str | None:
    value = row.get(name)
    value = value.strip() if isinstance(value, str) else value
    if not value:
        if required:
            raise _Bad(name, "is required")
        return None
    if len(value) > MAX_TEXT and name != "description":
        raise _Bad(name, f"is longer than {MAX_TEXT} characters")
    return value


def _printable(row: dict[str, str]) -> bool:
    """Whether every value is printable text, so none holds a character of :data:`UNSAFE`.

    One C call for the whole row: the per-value checks run only for the rare row that
    fails it (line breaks in a description, a no-break space, an unsafe character).
    """
    try:
        return "".join(row.values()).isprintable()
    except TypeError:  # not all text: check each value
        return False


def _refuse_unsafe(row: dict[str, str]) -> None:
    """Rejects a row whose identifier (or other known column but free text) is unsafe."""
    for name, value in row.items():  # in the file's column order: the first one is named
        if name not in KNOWN or name in DISPLAYED or not isinstance(value, str):
            continue
        if found := UNSAFE.search(value.strip()):
            char = found.group()
            label = unicodedata.name(char, "a control character")
            raise _Bad(name, f"holds U+{ord(char):04X} ({label}), which is not plain text")


def _neutralised(name: str, value: str | None, kept: dict[str, str]) -> str | None:
    """``value`` with each unsafe character replaced by :data:`PLACEHOLDER`; the value
    as received goes into ``kept`` (the item's ``extra``)."""
    if value is None or UNSAFE.search(value) is None:
        return value
    kept[f"raw:{name}"] = value
    return UNSAFE.sub(PLACEHOLDER, value)


def _int(row: dict[str, str], name: str, lo: int, hi: int | None = None) -> int | None:
    raw = _text(row, name)
    if raw is None:
        return None
    if not _WHOLE_NUMBER.match(raw):
        raise _Bad(name, f"{raw!r} is not a whole number")
    if len(raw.lstrip("+-")) > len(str(MAX_INT)):
        raise _Bad(name, f"{raw} is too large (at most {MAX_INT})")
    value = int(raw)
    if value > MAX_INT:
        raise _Bad(name, f"{value} is too large (at most {MAX_INT})")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise _Bad(name, f"{value} must be {bound}")
    return value


def _dec(
    row: dict[str, str], name: str, lo: Decimal | None = None, hi: Decimal | None = None
) -> Decimal | None:
    raw = _text(row, name)
    if raw is None:
        return None
    try:
        value = parse_decimal(raw)
    except MoneyError as exc:
        raise _Bad(name, str(exc)) from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _Bad(name, f"{raw} must be between {lo} and {hi}")
    return value


def _money(
    row: dict[str, str], name: str, currency: str, *, required: bool = False
) -> Decimal | None:
    raw = _text(row, name, required=required)
    if raw is None:
        return None
    try:
        return parse_amount(raw, currency)
    except MoneyError as exc:
        raise _Bad(name, str(exc)) from None


def _canonical_decimal(value: Decimal | None) -> str | None:
    return None if value is None else canonical_decimal(value)


def content_hash(facts: ItemFacts) -> str:
    """Identity of an item's content: what a re-ingest compares to decide 'amended'.

    Decimals are hashed by value: amounts are already at their currency's scale, and
    ``confidence`` and ``entity_risk_score`` are hashed without trailing zeros, so a
    re-export that only respells ``0.9`` as ``0.90`` is not an amendment (which would
    void the approvals already given).
    ``aging_days`` is left out: it grows every day without the item changing.
    """
    return _hash(facts, _canonical_decimal)


def _legacy_decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def same_content(stored_hash: str, facts: ItemFacts, *, hashed: str | None = None) -> bool:
    """Whether ``facts`` are the content ``stored_hash`` identifies.

    ``hashed`` is ``content_hash(facts)`` when already known. Also accepts the hash of
    earlier releases (``str()`` of the decimals), so items stored before the change are
    not all reported as amended by their next re-ingest.
    """
    if stored_hash == (hashed if hashed is not None else content_hash(facts)):
        return True
    return stored_hash == _hash(facts, _legacy_decimal)


# One encoder for every hash (json.dumps with options builds a new one per call).
_HASH_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _hash(facts: ItemFacts, decimal_text: Callable[[Decimal | None], str | None]) -> str:
    doc: dict[str, Any] = {
        "source": facts.source,
        "external_id": facts.external_id,
        "kind": facts.kind.value,
        "entity": facts.entity,
        "currency": facts.currency,
        "amount": str(facts.amount),
        "counterparty": facts.counterparty,
        "risk_tier": facts.risk_tier.value if facts.risk_tier else None,
        "booked_on": facts.booked_on.isoformat() if facts.booked_on else None,
        "confidence": decimal_text(facts.confidence),
        "score": facts.score,
        "matched_value": str(facts.matched_value) if facts.matched_value is not None else None,
        "variance": str(facts.variance) if facts.variance is not None else None,
        "record_count": facts.record_count,
        "entity_risk_score": decimal_text(facts.entity_risk_score),
        "prepared_by": facts.prepared_by,
        "reference": facts.reference,
        "description": facts.description,
        "extra": facts.extra,
    }
    return hashlib.sha256(_HASH_JSON.encode(doc).encode()).hexdigest()


def parse_row(
    row: dict[str, str], *, line: int, default_source: str, today: date, plain_text: bool = False
) -> ItemFacts | RowError:
    """Validates one intake row.

    Args:
        row: column -> text (JSON Lines values already turned to text, numbers exactly).
        line: the row's line number in its file, for the error report.
        default_source: the source when the row names none (``--source``, or the file name).
        today: the UTC date used to compute aging from ``booked_on``.
        plain_text: the caller knows no value holds a character of :data:`UNSAFE` (say,
            its line is ASCII with no control character), so they are not looked for.
    """
    try:
        return _parse(row, default_source=default_source, today=today, plain_text=plain_text)
    except _Bad as bad:
        return RowError(line=line, field=bad.field, error=bad.error)


def _parse(row: dict[str, str], *, default_source: str, today: date, plain_text: bool) -> ItemFacts:
    printable = plain_text or _printable(row)
    if not printable:
        _refuse_unsafe(row)
    external_id = _text(row, "external_id", required=True)
    entity = _text(row, "entity", required=True)
    currency_raw = _text(row, "currency", required=True)
    assert external_id and entity and currency_raw
    try:
        currency = normalize_currency(currency_raw)
    except MoneyError as exc:
        raise _Bad("currency", str(exc)) from None
    amount = _money(row, "amount", currency, required=True)
    assert amount is not None

    kind_raw = (_text(row, "kind") or ItemKind.UNMATCHED.value).lower()
    try:
        kind = ItemKind(kind_raw)
    except ValueError:
        allowed = ", ".join(k.value for k in ItemKind)
        raise _Bad("kind", f"{kind_raw!r} is not one of {allowed}") from None

    tier_raw = _text(row, "counterparty_risk_tier")
    tier: RiskTier | None = None
    if tier_raw:
        try:
            tier = RiskTier(tier_raw.lower())
        except ValueError:
            raise _Bad(
                "counterparty_risk_tier", f"{tier_raw!r} is not one of low, medium, high, critical"
            ) from None

    booked_raw = _text(row, "booked_on")
    booked_on: date | None = None
    if booked_raw:
        try:
            booked_on = date.fromisoformat(booked_raw)
        except ValueError:
            raise _Bad("booked_on", f"{booked_raw!r} is not a date (YYYY-MM-DD)") from None
        if booked_on > today:
            raise _Bad("booked_on", f"{booked_raw} is in the future")
    aging = _int(row, "aging_days", 0)
    if aging is None and booked_on is not None:
        aging = (today - booked_on).days

    score = _int(row, "score", 0, 100)
    if kind is ItemKind.MATCH and score is None:
        raise _Bad("score", "is required for a match (0..100)")
    matched = _money(row, "matched_value", currency)
    variance = _money(row, "variance", currency)
    record_count = _int(row, "record_count", 0)
    if kind is ItemKind.BATCH:
        if matched is None:
            raise _Bad("matched_value", "is required for a batch")
        if variance is None:
            raise _Bad("variance", "is required for a batch")

    extra = {k: ("" if v is None else str(v)) for k, v in row.items() if k not in KNOWN and k}
    counterparty = _text(row, "counterparty")
    reference = _text(row, "reference")
    description = _text(row, "description")
    if not printable:
        as_received: dict[str, str] = {}
        counterparty = _neutralised("counterparty", counterparty, as_received)
        reference = _neutralised("reference", reference, as_received)
        description = _neutralised("description", description, as_received)
        extra.update(as_received)
    return ItemFacts(
        source=_text(row, "source") or default_source,
        external_id=external_id,
        kind=kind,
        entity=entity,
        currency=currency,
        amount=amount,
        counterparty=counterparty,
        risk_tier=tier,
        aging_days=aging,
        booked_on=booked_on,
        confidence=_dec(row, "confidence", Decimal(0), Decimal(1)),
        score=score,
        matched_value=matched,
        variance=variance,
        record_count=record_count,
        entity_risk_score=_dec(row, "entity_risk_score", Decimal(0), Decimal(1)),
        prepared_by=_text(row, "prepared_by"),
        reference=reference,
        description=description,
        extra=extra,
    )
