"""Where journal entries stand on their way to the ledger, as readers see it.

The relay delivers each deliverable entry through one outbox row (``kind='ledger'``,
dedupe key :func:`ledger_dedupe_key`); a circuit breaker named :data:`LEDGER_BREAKER`
guards the sink. This module names what ``recon-bot journal``, ``recon-bot status`` and
the compliance officers' App Home show of that: an entry's :class:`Delivery`, the
breaker's :class:`BreakerStatus` and the :class:`LedgerHealth` summary. It decides
nothing about delivery itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.breaker import LEDGER, BreakerState
from domain.items import JournalEntry
from domain.money import Money

__all__ = [
    "LEDGER_BREAKER",
    "BreakerState",
    "BreakerStatus",
    "Delivery",
    "DeliveryCounts",
    "JournalRecord",
    "LedgerHealth",
    "error_class",
    "ledger_dedupe_key",
]

#: The breaker around the ledger sink (``breakers.name``; ``status --json`` key).
LEDGER_BREAKER = LEDGER


def ledger_dedupe_key(idempotency_key: str) -> str:
    """The dedupe key of the outbox row that delivers the entry with this key."""
    return f"ledger:{idempotency_key}"


class Delivery(StrEnum):
    """An entry's delivery state (the ``delivery`` of ``recon-bot journal --json``).

    ``pending`` covers an entry waiting or in flight, one held back (its ``hold`` says
    why, e.g. "no account mapping") and one made before entries were delivered.
    """

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerStatus:
    """A breaker as stored (a closed one with no history when there is no row)."""

    name: str
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: datetime | None = None
    probe_at: datetime | None = None
    last_error: str | None = None
    updated_at: datetime | None = None

    @property
    def last_error_class(self) -> str | None:
        """The kind of the last error (see :func:`error_class`), or None."""
        return error_class(self.last_error)


#: The longest error class shown (App Home, ``status``); the full text stays in the store.
_ERROR_CLASS_CHARS = 60


def error_class(error: str | None) -> str | None:
    """The kind of an error text, without its detail: ``"TimeoutError: read timed out"``
    gives ``TimeoutError``, ``"HTTP 503: ..."`` gives ``HTTP 503``. Detail can hold a
    ledger's answer or a URL, which a dashboard has no business showing.
    """
    if error is None or not error.strip():
        return None
    head = error.strip().split(":", 1)[0].strip().splitlines()[0]
    return head[:_ERROR_CLASS_CHARS]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryCounts:
    """Entries by delivery state; the four are disjoint and add up to every entry.

    ``held`` are entries that may not leave (their ``hold`` is set), ``pending`` the
    rest of the not-yet-sent, not-dead ones.
    """

    pending: int = 0
    sent: int = 0
    dead: int = 0
    held: int = 0

    @property
    def unposted(self) -> int:
        """Entries the ledger does not have yet (``recon-bot journal --unposted``)."""
        return self.pending + self.dead + self.held


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerHealth:
    """What a compliance officer's App Home shows of the ledger."""

    breaker: BreakerStatus
    counts: DeliveryCounts


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRecord:
    """A stored entry, its row id (what ``journal export --since`` counts by) and where
    its delivery stands."""

    id: int
    entry: JournalEntry
    delivery: Delivery

    @property
    def amount(self) -> Money:
        """The entry's size: the sum of its debits, in its currency."""
        minor = sum(line.debit_minor for line in self.entry.lines)
        return Money.from_minor(minor, self.entry.currency)
