"""The unit of work: one transaction, its repositories, its audit log and its once-keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from domain.audit.records import AuditEntry
from domain.ports.delivery import BreakerReader, LedgerStatusRepository, OutboxSink
from domain.ports.items import (
    DigestRepository,
    IntakeRepository,
    ItemRepository,
    JournalRepository,
    ThreadRepository,
)
from domain.ports.matching import FxRateRepository, LedgerRepository, MatchRepository
from domain.ports.people import PeopleRepository, ViewStateRepository
from domain.ports.statements import StatementRepository


class AuditSink(Protocol):
    """The audit log as the use cases see it: append inside the current transaction."""

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Chains and stores the entries; they commit or vanish with the transaction."""
        ...


class OnceKeys(Protocol):
    """Keys of effects that must happen once, whatever the retries or restarts."""

    async def first_time(self, key: str, *, item_id: int | None, now: datetime) -> bool:
        """Records ``key`` in this transaction; False when it was recorded before.

        The key commits (or vanishes) with the effect it guards, so two deliveries at
        once record the effect once.
        """
        ...


class UnitOfWork(Protocol):
    """One database transaction: everything in it commits together or not at all."""

    items: ItemRepository
    journal: JournalRepository
    intake: IntakeRepository
    gl: LedgerRepository
    fx: FxRateRepository
    digests: DigestRepository
    views: ViewStateRepository
    ledger_status: LedgerStatusRepository

    threads: ThreadRepository
    once: OnceKeys
    statements: StatementRepository
    people: PeopleRepository
    matches: MatchRepository
    outbox: OutboxSink
    audit: AuditSink
    breakers: BreakerReader

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Commits; without it, leaving the block rolls back."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes a fresh unit of work per use case."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work; ``read_only`` ones never write and may run beside writers."""
        ...
