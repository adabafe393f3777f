"""Ports of delivery after commit: the outbox, Slack and the ledger, their breakers and
where delivery stands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.breaker import Breaker
from domain.delivery import MessageLocation, OutboxMessage
from domain.delivery import Outcome as DeliveryOutcome
from domain.items import JournalEntry
from domain.ledger import Outcome as LedgerOutcome
from domain.ledger_status import BreakerStatus, DeliveryCounts
from domain.notifications import Notification


class OutboxSink(Protocol):
    """Slack messages to send after commit, enqueued in the same transaction."""

    async def enqueue(self, notifications: Sequence[Notification], *, now: datetime) -> None:
        """Adds the notifications; a dedupe key seen before is skipped."""
        ...

    async def queued(self, dedupe_key: str) -> bool:
        """Whether a message was ever enqueued under ``dedupe_key`` (in any state:
        pending, sending, sent or dead), this transaction's own included."""
        ...

    async def sent_at(self, dedupe_key: str) -> datetime | None:
        """When Slack accepted the message enqueued under ``dedupe_key``; None while it
        is not (yet) sent: pending, retrying, dead, or never enqueued."""
        ...

    async def settle(self, row_id: int, *, attempts: int, now: datetime) -> bool:
        """Marks a claimed row sent, if it is still that claim's (same attempt, still
        sending); False when another relay took it over."""
        ...


class BreakerReader(Protocol):
    """The circuit breakers' stored state, read inside a transaction."""

    async def get(self, name: str) -> Breaker:
        """The breaker (closed when it was never stored)."""
        ...


class LedgerSink(Protocol):
    """Hands one journal entry to the ledger (one attempt, no retries)."""

    async def send(self, entry: JournalEntry) -> LedgerOutcome:
        """Delivers ``entry`` under its idempotency key; never raises for the ledger's
        answers or its absence (those are outcomes)."""
        ...


class Notifier(Protocol):
    """Turns one outbox message into Slack Web API calls (one attempt, no retries)."""

    async def deliver(
        self, message: OutboxMessage, *, card: MessageLocation | None, now: datetime
    ) -> DeliveryOutcome:
        """Sends the message; ``card`` is where the message to edit already is."""
        ...


class LedgerStatusRepository(Protocol):
    """Where delivery to the ledger stands: its breaker and the entries' delivery states."""

    async def breaker(self, name: str) -> BreakerStatus:
        """The named breaker; a closed one with no history when none is stored."""
        ...

    async def delivery_counts(self) -> DeliveryCounts:
        """Journal entries per delivery state (pending, sent, dead, held)."""
        ...
