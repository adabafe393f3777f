"""The unit of work: one transaction holding item changes, audit records and outbox rows.

``commit()`` records the interaction the change answers (``store.inbox``), seals the
audit log (a signed checkpoint of the new size and root, inside the same transaction)
unless the factory's :class:`~store.audit.sealer.AuditSealer` batches it (then a
checkpoint covers the commit within the merge delay), commits, then appends the
checkpoint to the anchors file outside the database and runs the after-commit hooks
(e.g. waking the outbox relay). Leaving the block without ``commit()`` rolls everything
back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.assignment import decision_marks
from domain.audit.records import AuditEntry
from domain.notifications import NoticeKind
from domain.ports import (
    AuditSink,
    BreakerReader,
    DigestRepository,
    FxRateRepository,
    IntakeRepository,
    ItemRepository,
    JournalRepository,
    LedgerRepository,
    LedgerStatusRepository,
    MatchRepository,
    OnceKeys,
    OutboxSink,
    PeopleRepository,
    Signer,
    StatementRepository,
    ThreadRepository,
    ViewStateRepository,
)
from store.audit.anchors import AnchorFile, AnchorFileError
from store.audit.log import HeadCache, SqlAuditLog
from store.audit.sealer import AuditSealer
from store.breakers import SqlBreakerReader
from store.digests import SqlDigestRepository
from store.engine import Database
from store.gl import SqlFxRateRepository, SqlLedgerRepository
from store.inbox import settle
from store.intake import SqlIntakeRepository
from store.ledger_status import SqlLedgerStatusRepository
from store.matches import SqlMatchRepository
from store.outbox_sink import SqlOutboxSink
from store.people import SqlPeopleRepository
from store.repositories import SqlItemRepository, SqlJournalRepository
from store.statements import SqlStatementRepository
from store.threads import SqlOnceKeys, SqlThreadRepository
from store.views import SqlViewStateRepository

log = logging.getLogger(__name__)

#: An after-commit hook and the outbox kinds that call it (None: any).
Hook = tuple[Callable[[], None], frozenset[NoticeKind] | None]


class _TalliedAudit:
    """The audit log, which also keeps each reviewer's verdicts (and overturns) current in
    the same transaction: every audited decision, on whatever path, counts towards
    accuracy (:func:`domain.assignment.decision_marks`)."""

    def __init__(self, log: SqlAuditLog, people: SqlPeopleRepository) -> None:
        self.log = log
        self._people = people

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        await self.log.append(entries)
        overturns, marks = decision_marks(entries)
        if overturns or marks:
            await self._people.note_decisions(overturns, marks)


class _ReadOnlyAudit:
    async def append(self, entries: Sequence[AuditEntry]) -> None:
        raise RuntimeError("a read-only unit of work cannot write audit records")


class SqlUnitOfWork:
    """One database transaction (see module docstring)."""

    # Typed as the ports (Protocol attributes are invariant).
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

    def __init__(
        self,
        *,
        database: Database,
        signer: Signer,
        anchors: AnchorFile | None,
        read_only: bool = False,
        after_commit: Sequence[Hook] = (),
        sealer: AuditSealer | None = None,
        head_cache: HeadCache | None = None,
        audited: Sequence[Callable[[Sequence[AuditEntry]], None]] = (),
    ) -> None:
        self._audited = audited
        self._database = database
        self._signer = signer
        self._anchors = anchors
        self._sealer = sealer
        self._head_cache = head_cache
        self._read_only = read_only
        self._after_commit = after_commit
        self._conn: AsyncConnection | None = None
        self._committed = False

    @property
    def connection(self) -> AsyncConnection:
        """The open connection (for store-level helpers such as the outbox)."""
        if self._conn is None:
            raise RuntimeError("unit of work is not open")
        return self._conn

    async def __aenter__(self) -> Self:
        engine = self._database.reader if self._read_only else self._database.writer
        conn = await engine.connect()
        try:
            await conn.begin()
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self._committed = False
        self.items = SqlItemRepository(conn)
        self.journal = SqlJournalRepository(conn)
        self.intake = SqlIntakeRepository(conn)
        self.gl = SqlLedgerRepository(conn)
        self.fx = SqlFxRateRepository(conn)
        self.digests = SqlDigestRepository(conn)
        self.views = SqlViewStateRepository(conn)
        self.ledger_status = SqlLedgerStatusRepository(conn)
        self.threads = SqlThreadRepository(conn)
        self.once = SqlOnceKeys(conn)
        self.statements = SqlStatementRepository(conn)
        self.people = SqlPeopleRepository(conn)
        self.matches = SqlMatchRepository(conn)
        self._outbox = SqlOutboxSink(conn)
        self.outbox = self._outbox
        self.audit = (
            _ReadOnlyAudit()
            if self._read_only
            else _TalliedAudit(
                SqlAuditLog(conn, signer=self._signer, head_cache=self._head_cache), self.people
            )
        )
        self.breakers = SqlBreakerReader(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self.connection
        self._conn = None
        try:
            if not self._committed:
                await conn.rollback()
        finally:
            await conn.close()

    async def commit(self) -> None:
        """Records the interaction, seals the audit log (or leaves it to the sealer),
        commits, anchors, runs hooks.

        Raises:
            TakenOver: another run of the interaction committed first; nothing is
                committed.
        """
        conn = self.connection
        checkpoint = None
        unsealed_at = None
        audit = self.audit.log if isinstance(self.audit, _TalliedAudit) else None
        # The interaction this change answers happened with it (``store.inbox``); raises
        # TakenOver, rolling the change back, when another run of it already committed.
        settled = await settle(conn, datetime.now(UTC)) if audit and audit.appended else None
        if audit is not None and audit.unsealed_since is not None:
            since = audit.unsealed_since
            if self._sealer is None or self._sealer.seal_in_commit(since):
                checkpoint = await audit.seal()
            else:
                unsealed_at = since  # the sealer covers it within the merge delay
        await conn.commit()
        self._committed = True
        if settled is not None:
            settled.changed = True
        if self._sealer is not None:
            if checkpoint is not None:
                self._sealer.sealed(checkpoint.time)
            elif unsealed_at is not None:
                self._sealer.left_unsealed(unsealed_at)
        if checkpoint is not None and self._anchors is not None:
            try:
                await asyncio.to_thread(self._anchors.append, checkpoint)
            except (OSError, AnchorFileError):
                # The change is committed: failing the request now would tell the user
                # otherwise. The anchoring job re-appends the latest checkpoint later.
                log.exception(
                    "could not append the audit checkpoint to the anchors file",
                    extra={"event": "anchor_failed", "size": checkpoint.size},
                )
        if self._audited and isinstance(audit, SqlAuditLog) and audit.appended:
            for observe in self._audited:
                try:
                    observe(audit.appended)
                except Exception:  # the change is committed: a count must not undo that
                    log.exception("audit observer failed", extra={"event": "audit_observer"})
        if self._outbox.enqueued:
            for hook, kinds in self._after_commit:
                if kinds is None or kinds & self._outbox.kinds:
                    hook()


class SqlUnitOfWorkFactory:
    """Makes units of work over one database, signer and anchors file.

    Without a ``sealer`` every commit that appended audit records signs its own
    checkpoint; with one, commits under load leave theirs to it (the merge delay).
    """

    def __init__(
        self,
        *,
        database: Database,
        signer: Signer,
        anchors: AnchorFile | None,
        sealer: AuditSealer | None = None,
    ) -> None:
        self.database = database
        self._signer = signer
        self._anchors = anchors
        self.sealer = sealer
        self._head_cache = HeadCache()  # one per process: this factory's writes only
        self._after_commit: list[Hook] = []
        self._audited: list[Callable[[Sequence[AuditEntry]], None]] = []

    def on_commit(
        self, hook: Callable[[], None], *, kinds: frozenset[NoticeKind] | None = None
    ) -> None:
        """Calls ``hook`` after a commit that enqueued messages (of one of ``kinds``, when
        given): cheap, e.g. ``event.set``."""
        self._after_commit.append((hook, kinds))

    def on_audited(self, observe: Callable[[Sequence[AuditEntry]], None]) -> None:
        """Calls ``observe`` with the audit records of each commit that appended some
        (cheap and never raising: it runs on the request's path, e.g. a metrics count)."""
        self._audited.append(observe)

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            database=self.database,
            signer=self._signer,
            anchors=self._anchors,
            read_only=read_only,
            after_commit=self._after_commit,
            sealer=self.sealer,
            head_cache=self._head_cache,
            audited=self._audited,
        )
