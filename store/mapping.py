"""Row <-> domain value mapping. Money crosses as integer minor units, decimals as text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.fx import AppliedRate
from domain.items import (
    Approval,
    Dispute,
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
    EntryKind,
    Item,
    ItemFacts,
    ItemKind,
    JournalEntry,
    JournalLine,
    ReviewState,
    RiskTier,
    Route,
)
from domain.money import Money, to_minor


def _minor(value: Decimal | None, currency: str) -> int | None:
    return None if value is None else to_minor(value, currency)


def _from_minor(value: int | None, currency: str) -> Decimal | None:
    return None if value is None else Money.from_minor(value, currency).amount


def _dec_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _approvals_to_json(approvals: tuple[Approval, ...]) -> list[dict[str, Any]]:
    return [{"user": a.user, "at": a.at.isoformat(), "note": a.note} for a in approvals]


def _approvals_from_json(data: list[dict[str, Any]] | None) -> tuple[Approval, ...]:
    return tuple(
        Approval(user=a["user"], at=datetime.fromisoformat(a["at"]), note=a.get("note"))
        for a in data or []
    )


def _dispute_to_json(d: Dispute | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "state": d.state.value,
        "category": d.category.value,
        "description": d.description,
        "opened_by": d.opened_by,
        "opened_at": d.opened_at.isoformat(),
        "counterparty_contact": d.counterparty_contact,
        "expected_resolution": d.expected_resolution.isoformat() if d.expected_resolution else None,
        "evidence_links": list(d.evidence_links),
        "proposed_adjustment": _dec_text(d.proposed_adjustment),
        "outcome": d.outcome.value if d.outcome else None,
        "resolved_by": d.resolved_by,
        "resolved_at": d.resolved_at.isoformat() if d.resolved_at else None,
        "write_off_approvals": _approvals_to_json(d.write_off_approvals),
        "number": d.number,
        "resolution_amount": _dec_text(d.resolution_amount),
        "reminded_at": d.reminded_at.isoformat() if d.reminded_at else None,
        **({"write_off_required": d.write_off_required} if d.write_off_required else {}),
    }


def _dispute_from_json(d: dict[str, Any] | None) -> Dispute | None:
    if not d:
        return None
    return Dispute(
        state=DisputeState(d["state"]),
        category=DisputeCategory(d["category"]),
        description=d["description"],
        opened_by=d["opened_by"],
        opened_at=datetime.fromisoformat(d["opened_at"]),
        counterparty_contact=d.get("counterparty_contact"),
        expected_resolution=(
            date.fromisoformat(d["expected_resolution"]) if d.get("expected_resolution") else None
        ),
        evidence_links=tuple(d.get("evidence_links") or ()),
        proposed_adjustment=(
            Decimal(d["proposed_adjustment"]) if d.get("proposed_adjustment") is not None else None
        ),
        outcome=DisputeOutcome(d["outcome"]) if d.get("outcome") else None,
        resolved_by=d.get("resolved_by"),
        resolved_at=datetime.fromisoformat(d["resolved_at"]) if d.get("resolved_at") else None,
        write_off_approvals=_approvals_from_json(d.get("write_off_approvals")),
        number=d.get("number", 1),
        resolution_amount=(
            Decimal(d["resolution_amount"]) if d.get("resolution_amount") is not None else None
        ),
        reminded_at=datetime.fromisoformat(d["reminded_at"]) if d.get("reminded_at") else None,
        write_off_required=d.get("write_off_required"),
    )


#: The items columns in the order :func:`item_values` gives them, ``id`` first.
ITEM_COLUMNS: tuple[str, ...] = (
    "id",
    "source",
    "external_id",
    "kind",
    "entity",
    "currency",
    "amount_minor",
    "counterparty",
    "risk_tier",
    "aging_days",
    "booked_on",
    "confidence",
    "score",
    "matched_minor",
    "variance_minor",
    "record_count",
    "entity_risk_score",
    "prepared_by",
    "reference",
    "description",
    "extra",
    "content_hash",
    "state",
    "route",
    "priority",
    "reasons",
    "policy_version",
    "team",
    "required_approvals",
    "created_at",
    "updated_at",
    "sla_started_at",
    "version",
    "assignee",
    "claim_expires_at",
    "approvals",
    "ladder_level",
    "escalation_tier",
    "sla_credit_seconds",
    "sla_next_at",
    "dispute",
    "ledger_ref",
    "decided_by",
    "decided_at",
    "decision_note",
    "sla_waits",
    "shown_in_digest",
    "fx",
)


def item_values(item: Item) -> tuple[Any, ...]:
    """Column values for an item, in :data:`ITEM_COLUMNS` order (``id`` may be None).

    A tuple, not a dict: a bulk insert of new items takes them as they are, without a
    dict per row to build and then take apart column by column.
    """
    f = item.facts
    return (
        item.id,
        f.source,
        f.external_id,
        f.kind.value,
        f.entity,
        f.currency,
        to_minor(f.amount, f.currency),
        f.counterparty,
        f.risk_tier.value if f.risk_tier else None,
        f.aging_days,
        f.booked_on,
        _dec_text(f.confidence),
        f.score,
        _minor(f.matched_value, f.currency),
        _minor(f.variance, f.currency),
        f.record_count,
        _dec_text(f.entity_risk_score),
        f.prepared_by,
        f.reference,
        f.description,
        dict(f.extra),
        item.content_hash,
        item.state.value,
        item.route.value,
        item.priority,
        list(item.reasons),
        item.policy_version,
        item.team,
        item.required_approvals,
        item.created_at,
        item.updated_at,
        item.sla_started_at,
        item.version,
        item.assignee,
        item.claim_expires_at,
        _approvals_to_json(item.approvals) if item.approvals else [],
        item.ladder_level,
        item.escalation_tier,
        item.sla_credit_seconds,
        item.sla_next_at,
        _dispute_to_json(item.dispute) if item.dispute is not None else None,
        item.ledger_ref,
        item.decided_by,
        item.decided_at,
        item.decision_note,
        item.sla_waits,
        item.shown_in_digest,
        item.fx.audit_data() if item.fx is not None else None,
    )


def item_to_row(item: Item) -> dict[str, Any]:
    """Column values for an item by name (without ``id`` when it has none yet)."""
    row = dict(zip(ITEM_COLUMNS, item_values(item), strict=True))
    if row["id"] is None:
        del row["id"]
    return row


def item_from_row(row: Mapping[Any, Any]) -> Item:
    """The domain item for a stored row."""
    currency = row["currency"]
    facts = ItemFacts(
        source=row["source"],
        external_id=row["external_id"],
        kind=ItemKind(row["kind"]),
        entity=row["entity"],
        currency=currency,
        amount=Money.from_minor(row["amount_minor"], currency).amount,
        counterparty=row["counterparty"],
        risk_tier=RiskTier(row["risk_tier"]) if row["risk_tier"] else None,
        aging_days=row["aging_days"],
        booked_on=row["booked_on"],
        confidence=Decimal(row["confidence"]) if row["confidence"] is not None else None,
        score=row["score"],
        matched_value=_from_minor(row["matched_minor"], currency),
        variance=_from_minor(row["variance_minor"], currency),
        record_count=row["record_count"],
        entity_risk_score=(
            Decimal(row["entity_risk_score"]) if row["entity_risk_score"] is not None else None
        ),
        prepared_by=row["prepared_by"],
        reference=row["reference"],
        description=row["description"],
        extra=dict(row["extra"] or {}),
    )
    return Item(
        id=row["id"],
        facts=facts,
        content_hash=row["content_hash"],
        state=ReviewState(row["state"]),
        route=Route(row["route"]),
        priority=row["priority"],
        reasons=tuple(row["reasons"] or ()),
        policy_version=row["policy_version"],
        team=row["team"],
        required_approvals=row["required_approvals"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sla_started_at=row["sla_started_at"],
        version=row["version"],
        assignee=row["assignee"],
        claim_expires_at=row["claim_expires_at"],
        approvals=_approvals_from_json(row["approvals"]),
        ladder_level=row["ladder_level"],
        escalation_tier=row["escalation_tier"],
        sla_credit_seconds=row["sla_credit_seconds"],
        sla_next_at=row["sla_next_at"],
        dispute=_dispute_from_json(row["dispute"]),
        ledger_ref=row["ledger_ref"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision_note=row["decision_note"],
        sla_waits=bool(row["sla_waits"]),
        shown_in_digest=row["shown_in_digest"],
        fx=AppliedRate.from_audit_data(row["fx"]) if row["fx"] else None,
    )


def entry_to_row(entry: JournalEntry) -> dict[str, Any]:
    """Column values for a journal entry."""
    return {
        "idempotency_key": entry.idempotency_key,
        "ledger_ref": entry.ledger_ref,
        "item_id": entry.item_id,
        "currency": entry.currency,
        "lines": [
            {"account": ln.account, "debit_minor": ln.debit_minor, "credit_minor": ln.credit_minor}
            for ln in entry.lines
        ],
        "memo": entry.memo,
        "created_at": entry.created_at,
        "kind": entry.kind.value,
        "entity": entry.entity,
        "dispute_id": entry.dispute_id,
        "reverses": entry.reverses,
        "hold": entry.hold,
        "reference": entry.reference,
        "delivered_at": entry.delivered_at,
    }


def entry_from_row(row: Mapping[Any, Any]) -> JournalEntry:
    """The domain entry for a stored row."""
    return JournalEntry(
        idempotency_key=row["idempotency_key"],
        ledger_ref=row["ledger_ref"],
        item_id=row["item_id"],
        currency=row["currency"],
        lines=tuple(JournalLine(**ln) for ln in row["lines"]),
        memo=row["memo"],
        created_at=row["created_at"],
        kind=EntryKind(row["kind"]),
        entity=row["entity"],
        dispute_id=row["dispute_id"],
        reverses=row["reverses"],
        hold=row["hold"],
        reference=row["reference"],
        delivered_at=row["delivered_at"],
    )
