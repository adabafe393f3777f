"""Plain data views of domain values for the CLI's JSON and tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.dispute_timeline import TimelineEntry
from domain.items import Item, JournalEntry, format_human_id
from domain.ledger_status import JournalRecord
from domain.money import Money
from domain.policy import Policy
from domain.sla import sla_due_at


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def item_summary(item: Item, policy: Policy) -> dict[str, Any]:
    """The fields ``queue --json`` promises, plus a few that help a reviewer."""
    return {
        "id": item.human_id,
        "external_id": item.facts.external_id,
        "source": item.facts.source,
        "kind": item.kind.value,
        "state": item.state.value,
        "route": item.route.value,
        "priority": item.priority,
        "amount": str(item.facts.amount),
        "currency": item.facts.currency,
        "entity": item.facts.entity,
        "counterparty": item.facts.counterparty,
        "team": item.team,
        "assignee": item.assignee,
        "sla_due_at": _iso(sla_due_at(item, policy)),
        "version": item.version,
    }


def item_detail(item: Item, policy: Policy) -> dict[str, Any]:
    """Everything ``show`` prints about an item (history and entries are added by the caller)."""
    f = item.facts
    detail = item_summary(item, policy)
    detail.update(
        {
            "risk_tier": f.risk_tier.value if f.risk_tier else None,
            "aging_days": f.aging_days,
            "booked_on": f.booked_on.isoformat() if f.booked_on else None,
            "confidence": str(f.confidence) if f.confidence is not None else None,
            "score": f.score,
            "matched_value": str(f.matched_value) if f.matched_value is not None else None,
            "variance": str(f.variance) if f.variance is not None else None,
            "record_count": f.record_count,
            "entity_risk_score": (
                str(f.entity_risk_score) if f.entity_risk_score is not None else None
            ),
            "prepared_by": f.prepared_by,
            "reference": f.reference,
            "description": f.description,
            "extra": f.extra,
            "reasons": list(item.reasons),
            "policy_version": item.policy_version,
            "required_approvals": item.required_approvals,
            "approvals": [
                {"user": a.user, "at": a.at.isoformat(), "note": a.note} for a in item.approvals
            ],
            "ledger_ref": item.ledger_ref,
            "decided_by": item.decided_by,
            "decided_at": _iso(item.decided_at),
            "decision_note": item.decision_note,
            "claim_expires_at": _iso(item.claim_expires_at),
            "created_at": item.created_at.isoformat(),
            "updated_at": item.updated_at.isoformat(),
            "dispute": (
                {
                    "state": item.dispute.state.value,
                    "category": item.dispute.category.value,
                    "description": item.dispute.description,
                    "opened_by": item.dispute.opened_by,
                    "outcome": item.dispute.outcome.value if item.dispute.outcome else None,
                }
                if item.dispute
                else None
            ),
        }
    )
    return detail


def entry_view(entry: JournalEntry) -> dict[str, Any]:
    """A journal entry with amounts as decimal strings."""
    return {
        "ledger_ref": entry.ledger_ref,
        "idempotency_key": entry.idempotency_key,
        "kind": entry.kind.value,
        "dispute_id": entry.dispute_id,
        "reverses": entry.reverses,
        "hold": entry.hold,
        "currency": entry.currency,
        "memo": entry.memo,
        "created_at": entry.created_at.isoformat(),
        "lines": [
            {
                "account": ln.account,
                "debit": str(Money.from_minor(ln.debit_minor, entry.currency).amount),
                "credit": str(Money.from_minor(ln.credit_minor, entry.currency).amount),
            }
            for ln in entry.lines
        ],
    }


#: The columns of ``journal export --format csv``: the entry's fields, repeated on each
#: of its lines, then the line's own (``line`` counts from 1 within the entry).
JOURNAL_CSV_ENTRY_COLUMNS = (
    "id",
    "idempotency_key",
    "ledger_ref",
    "item",
    "kind",
    "entity",
    "currency",
    "memo",
    "created_at",
    "dispute_id",
    "reverses",
    "hold",
    "delivery",
    "reference",
    "delivered_at",
)
JOURNAL_CSV_COLUMNS = (*JOURNAL_CSV_ENTRY_COLUMNS, "line", "account", "debit", "credit")


def journal_record_view(record: JournalRecord) -> dict[str, Any]:
    """One entry of ``journal --json`` (and of ``journal export --format jsonl``).

    The contract other systems read: ``idempotency_key``, ``ledger_ref``, ``item``
    (``R-N``), ``kind``, ``delivery`` (pending, sent, dead), ``reference`` (the ledger's,
    or null) and ``lines`` (``account``, ``debit``, ``credit`` as decimal strings in the
    entry's currency). The rest is added help; fields may be added, never changed.
    """
    entry = record.entry
    return {
        "id": record.id,
        "idempotency_key": entry.idempotency_key,
        "ledger_ref": entry.ledger_ref,
        "item": format_human_id(entry.item_id),
        "kind": entry.kind.value,
        "delivery": record.delivery.value,
        "reference": entry.reference,
        "entity": entry.entity,
        "currency": entry.currency,
        "memo": entry.memo,
        "created_at": entry.created_at.isoformat(),
        "dispute_id": entry.dispute_id,
        "reverses": entry.reverses,
        "hold": entry.hold,
        "delivered_at": _iso(entry.delivered_at),
        "lines": entry_view(entry)["lines"],
    }


def journal_csv_rows(record: JournalRecord) -> list[dict[str, Any]]:
    """The rows of ``journal export --format csv`` for one entry: one per journal line,
    empty cells for absent values."""
    view = journal_record_view(record)
    entry_fields = {k: ("" if view[k] is None else view[k]) for k in JOURNAL_CSV_ENTRY_COLUMNS}
    return [entry_fields | {"line": n, **line} for n, line in enumerate(view["lines"], start=1)]


def timeline_view(entry: TimelineEntry) -> dict[str, Any]:
    """One dispute timeline step, JSON-safe (``recon-bot show --json``)."""
    return {
        "dispute": entry.dispute,
        "step": entry.step.value,
        "at": _iso(entry.at),
        "actor": entry.actor,
        "summary": entry.summary,
        "text": entry.text,
        "seq": entry.seq,
    }
