"""An item's disputes as a timeline, read from its audit records (pure).

The audit log is the dispute's history: every step is a record (``dispute.opened``,
``dispute.updated``, ``dispute.note``, ``dispute.message``, ``dispute.write_off_approval``,
``dispute.resolved``). :func:`dispute_timeline` turns an item's records, oldest first, into
:class:`TimelineEntry` values that ``recon-bot show`` and the Slack details view render
their own way: entries carry plain text and the people involved, never markup.

Records are read leniently: a field missing from an old or foreign record leaves that
part of the entry out instead of failing the whole view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.items import DisputeCategory, DisputeOutcome, DisputeState, dispute_id


class Step(StrEnum):
    """What one timeline entry records."""

    OPENED = "opened"
    AWAITING_COUNTERPARTY = "awaiting_counterparty"
    RESUMED = "resumed"
    NOTE = "note"
    MESSAGE = "message"
    SIGN_OFF = "sign_off"
    RESOLVED = "resolved"


#: The audit events a dispute's timeline is built from.
DISPUTE_EVENTS = frozenset(
    {
        "dispute.opened",
        "dispute.updated",
        "dispute.note",
        "dispute.message",
        "dispute.write_off_approval",
        "dispute.resolved",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    """One step of a dispute.

    Attributes:
        dispute: The dispute's id (``D-1042-1``); an item disputed twice has two.
        step: What happened.
        at: When (None when the record's time is unreadable).
        actor: Who did it (a Slack user id, or ``system``).
        summary: What happened, as plain text without the actor ("opened the dispute
            (amount mismatch), expected by 2024-05-10").
        text: What the person wrote (description, note, reply), if anything.
        seq: The audit record's sequence number, if known.
    """

    dispute: str
    step: Step
    at: datetime | None
    actor: str
    summary: str
    text: str | None = None
    seq: int | None = None


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def _label(enum: type[DisputeCategory] | type[DisputeOutcome], value: Any) -> str:
    try:
        return enum(value).value.replace("_", " ")
    except ValueError:
        return str(value).replace("_", " ")


def _amount(value: Any, currency: str) -> str | None:
    text = _text(value)
    return f"{text} {currency}" if text and text != "None" else None


def _opened(data: Mapping[str, Any], currency: str) -> tuple[str, str | None]:
    category = data.get("category")
    summary = "opened the dispute"
    if category:
        summary += f" ({_label(DisputeCategory, category)})"
    expected = _text(data.get("expected_resolution"))
    if expected:
        summary += f", expected by {expected}"
    proposed = _amount(data.get("proposed_adjustment"), currency)
    if proposed:
        summary += f", proposed adjustment {proposed}"
    return summary, _text(data.get("description"))


def _updated(data: Mapping[str, Any]) -> tuple[Step, str, str | None]:
    note = _text(data.get("note"))
    if data.get("dispute_to") == DisputeState.AWAITING_COUNTERPARTY.value:
        return Step.AWAITING_COUNTERPARTY, "marked it awaiting the counterparty", note
    return Step.RESUMED, "reopened it (no longer awaiting the counterparty)", note


_MESSAGE_SUMMARY = {
    "posted": "replied in the card's thread",
    "edited": "edited a thread reply",
    "deleted": "deleted a thread reply",
}


def _sign_off(data: Mapping[str, Any], currency: str) -> str:
    summary = "signed off the write-off"
    amount = _amount(data.get("amount"), currency)
    if amount:
        summary += f" of {amount}"
    given, required = data.get("approval"), data.get("required")
    if isinstance(given, int) and isinstance(required, int):
        summary += f" ({given} of {required})"
    return summary


def _resolved(data: Mapping[str, Any], currency: str) -> str:
    summary = f"resolved it: {_label(DisputeOutcome, data.get('outcome'))}"
    amount = _amount(data.get("amount"), currency)
    if amount:
        summary += f", {amount}"
    return summary


def dispute_timeline(
    records: Iterable[Mapping[str, Any]], *, item_id: int, currency: str
) -> list[TimelineEntry]:
    """The item's dispute steps, in record order.

    Args:
        records: The item's audit records, oldest first, as decoded record bodies
            (``event``, ``actor``, ``time``, ``data``, ``seq``); other events are skipped.
        item_id: The item's id (dispute ids are ``D-<item id>-<number>``).
        currency: The item's currency, for amounts (records keep decimal strings).
    """
    entries: list[TimelineEntry] = []
    number = 0
    for record in records:
        event = record.get("event")
        if event not in DISPUTE_EVENTS:
            continue
        raw = record.get("data")
        data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        if event == "dispute.opened":
            number += 1
        ident = dispute_id(item_id, max(number, 1))
        actor = str(record.get("actor") or "system")
        text: str | None = None
        match event:
            case "dispute.opened":
                step = Step.OPENED
                summary, text = _opened(data, currency)
            case "dispute.updated":
                step, summary, text = _updated(data)
            case "dispute.note":
                step, summary, text = Step.NOTE, "added a note", _text(data.get("text"))
            case "dispute.message":
                step = Step.MESSAGE
                actor = str(data.get("user") or actor)
                summary = _MESSAGE_SUMMARY.get(str(data.get("change")), "replied in the thread")
                text = _text(data.get("text"))
            case "dispute.write_off_approval":
                step, summary = Step.SIGN_OFF, _sign_off(data, currency)
                text = _text(data.get("note"))
            case _:  # dispute.resolved
                step, summary = Step.RESOLVED, _resolved(data, currency)
                text = _text(data.get("note"))
        seq = record.get("seq")
        entries.append(
            TimelineEntry(
                dispute=ident,
                step=step,
                at=_time(record.get("time")),
                actor=actor,
                summary=summary,
                text=text,
                seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            )
        )
    return entries
