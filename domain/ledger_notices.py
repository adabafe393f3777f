"""The ledger's outbox rows: a journal entry's delivery and the breaker's alert."""

from __future__ import annotations

from datetime import datetime

from domain import ledger
from domain.items import JournalEntry
from domain.notice import Notification
from domain.templates import (
    LedgerBreaker,
    LedgerPost,
    NoticeKind,
)


def ledger_delivery(entry: JournalEntry) -> Notification:
    """The outbox row that delivers ``entry`` to the ledger (exactly one per entry: the
    dedupe key is ``ledger:{idempotency_key}``).

    Raises:
        ValueError: the entry is held (it may not leave until its hold is lifted).
    """
    if entry.hold is not None:
        raise ValueError(f"journal entry {entry.ledger_ref} is held: {entry.hold}")
    return Notification(
        kind=NoticeKind.LEDGER,
        target=ledger.TARGET,
        dedupe_key=ledger.dedupe_key(entry.idempotency_key),
        item_id=entry.item_id,
        payload=LedgerPost(idempotency_key=entry.idempotency_key),
    )


def ledger_breaker(channel: str, *, state: str, error: str, since: datetime) -> Notification:
    """Compliance's alert that the ledger's breaker opened (or closed), once per opening:
    the dedupe key names the state and when the breaker opened."""
    return Notification(
        kind=NoticeKind.ALERT,
        target=channel,
        dedupe_key=f"ledger_breaker:{state}:{since.isoformat()}",
        payload=LedgerBreaker(state=state, error=error),
    )
