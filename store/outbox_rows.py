"""Outbox rows as the relay and ``recon-bot outbox`` read them: the row and message types,
where an enqueued message stands, and the decoding of a row into them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from domain.delivery import OutboxMessage
from domain.notifications import NoticeKind
from domain.templates import NoticeBody, decode
from store.outbox_sink import RowState

#: The kinds of rows the Slack relay delivers (every kind but the ledger's).
SLACK_KINDS = frozenset(NoticeKind) - {NoticeKind.LEDGER}


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRow:
    """A claimed (or listed) outbox row."""

    id: int
    dedupe_key: str
    kind: NoticeKind
    target: str
    item_id: int | None
    payload: NoticeBody
    thread_of: str | None
    update_of: str | None
    state: RowState
    attempts: int
    failures: int
    available_at: datetime
    last_error: str | None
    created_at: datetime


class CardPostInFlight(NamedTuple):
    """Another claim on the same item's card: live (wait for it) or lapsed (in doubt)."""

    live: bool
    unsure_since: datetime | None


class RowResult(NamedTuple):
    """Where an enqueued message stands: its state and, once sent, where it is."""

    state: RowState
    channel: str | None
    ts: str | None


def _row(r: Any) -> OutboxRow:
    kind = NoticeKind(r["kind"])
    payload, links = decode(kind, r["payload"] or {})
    return OutboxRow(
        id=r["id"],
        dedupe_key=r["dedupe_key"],
        kind=kind,
        target=r["target"],
        item_id=r["item_id"],
        payload=payload,
        thread_of=links.thread_of,
        update_of=links.update_of,
        state=RowState(r["state"]),
        attempts=r["attempts"],
        failures=r["failures"],
        available_at=r["available_at"],
        last_error=r["last_error"],
        created_at=r["created_at"],
    )


def _message(r: Any, **claim: Any) -> OutboxMessage:
    """The message of an outbox row (``claim``: attempts, failures, created_at)."""
    kind = NoticeKind(r["kind"])
    payload, links = decode(kind, r["payload"] or {})
    return OutboxMessage(
        id=r["id"],
        kind=kind,
        target=r["target"],
        item_id=r["item_id"],
        payload=payload,
        thread_of=links.thread_of,
        update_of=links.update_of,
        dedupe_key=r["dedupe_key"],
        **claim,
    )
