"""Row <-> domain value mapping. Money crosses as integer minor units, decimals as text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.items import (
    Approval,
    Dispute,
    DisputeCategory,
    DisputeOutcome,
    DisputeState,
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
    )


def item_to_row(item: Item) -> dict[str, Any]:
    """Column values for an item (without ``id`` when it has none yet)."""
    f = item.facts
    row: dict[str, Any] = {
        "source": f.source,
        "external_id": f.external_id,
        "kind": f.kind.value,
        "entity": f.entity,
        "currency": f.currency,
        "amount_minor": to_minor(f.amount, f.currency),
        "counterparty": f.counterparty,
        "risk_tier": f.risk_tier.value if f.risk_tier else None,
        "aging_days": f.aging_days,
        "booked_on": f.booked_on,
        "confidence": _dec_text(f.confidence),
        "score": f.score,
        "matched_minor": _minor(f.matched_value, f.currency),
        "variance_minor": _minor(f.variance, f.currency),
        "record_count": f.record_count,
        "entity_risk_score": _dec_text(f.entity_risk_score),
        "prepared_by": f.prepared_by,
        "reference": f.reference,
        "description": f.description,
        "extra": dict(f.extra),
        "content_hash": item.content_hash,
        "state": item.state.value,
        "route": item.route.value,
        "priority": item.priority,
        "reasons": list(item.reasons),
        "policy_version": item.policy_version,
        "team": item.team,
        "required_approvals": item.required_approvals,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "sla_started_at": item.sla_started_at,
        "version": item.version,
        "assignee": item.assignee,
        "claim_expires_at": item.claim_expires_at,
        "approvals": _approvals_to_json(item.approvals),
        "ladder_level": item.ladder_level,
        "sla_credit_seconds": item.sla_credit_seconds,
        "sla_next_at": item.sla_next_at,
        "dispute": _dispute_to_json(item.dispute),
        "ledger_ref": item.ledger_ref,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at,
        "decision_note": item.decision_note,
    }
    if item.id is not None:
        row["id"] = item.id
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
        sla_credit_seconds=row["sla_credit_seconds"],
        sla_next_at=row["sla_next_at"],
        dispute=_dispute_from_json(row["dispute"]),
        ledger_ref=row["ledger_ref"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision_note=row["decision_note"],
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
    )
