"""In-memory fakes for the domain ports: a fixed clock, the repositories, the unit of work.

Builders of policies, facts and items are in ``tests/builders.py``. Fakes record state;
tests assert on that state (STYLE.md #6). The unit of work is transactional: writes are
staged in the unit of work and reach the shared store only on ``commit()``; leaving the
``async with`` block without committing discards them. Like SQLite, the store has one
writer at a time: the first write of a unit of work takes the store's write lock and holds
it until commit or exit, so two concurrent use cases serialise their writes and a version
check made under the lock sees the other's commit. Every repository call yields to the
event loop once, so ``asyncio.gather`` really interleaves concurrent use cases.

The contract suite (``tests/integration/test_repository_contract.py``) runs the same
checks on these fakes and on the SQL repositories: where they disagree, SQL is right.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from domain.assignment import Accuracy, DecisionMark, Overturn, Verdict, decision_marks
from domain.audit.records import AuditEntry
from domain.breaker import Breaker
from domain.dashboard import HIGH_PRIORITY, MEDIUM_PRIORITY
from domain.delegation import Delegation
from domain.digest import ClusterMember, ClusterRecord, ClusterState
from domain.errors import StaleItem
from domain.fx import FxRate
from domain.gl import LedgerEntry, StoredLedgerEntry
from domain.intake import RowError
from domain.items import Item, JournalEntry, ReviewState, RiskTier, Route
from domain.ledger_status import BreakerStatus, Delivery, DeliveryCounts
from domain.matching.history import MatchTally
from domain.matching.records import Band
from domain.matching.stored import CheckRecord, CheckState, MatchRecord, MatchState, highest
from domain.money import canonical_decimal
from domain.notifications import Notification
from domain.ports import (
    AuditSink,
    BreakerReader,
    Clock,
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
    StatementRepository,
    ThreadRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    ViewStateRepository,
)
from domain.sla import SETTLED
from domain.statements.records import (
    LineTotals,
    MatchStatus,
    Original,
    Stage1Status,
    Statement,
    StatementKey,
    StatementLine,
)

# --- time ----------------------------------------------------------------------------

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
"""A Monday morning, UTC: the default 'now' of the unit tests."""


class FixedClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self._now = _aware(now)

    def now(self) -> datetime:
        """The current fake time (aware UTC)."""
        return self._now

    def set(self, now: datetime) -> None:
        """Jumps to ``now``."""
        self._now = _aware(now)

    def advance(self, delta: timedelta) -> datetime:
        """Moves forward by ``delta`` and returns the new time."""
        self._now += delta
        return self._now


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("FixedClock needs an aware datetime (UTC inside)")
    return value.astimezone(UTC)


# --- store ---------------------------------------------------------------------------


class DuplicateKey(Exception):
    """A unique key already exists (what a real database raises as an IntegrityError)."""


class ReadOnlyViolation(Exception):
    """A read-only unit of work tried to write."""


@dataclass(slots=True, kw_only=True)
class IngestRun:
    """One recorded ingest run."""

    id: int
    source: str
    file_name: str
    policy_version: str
    started_at: datetime
    finished_at: datetime | None = None
    summary: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantinedRow:
    """A rejected intake row kept for the user to fix."""

    run_id: int
    error: RowError
    raw: str
    at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedNotification:
    """A notification in the outbox, with when it was enqueued."""

    notification: Notification
    enqueued_at: datetime


@dataclass(slots=True)
class InMemoryStore:
    """The committed state shared by every unit of work of one factory."""

    items: dict[int, Item] = field(default_factory=dict)
    journal: dict[str, JournalEntry] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    runs: dict[int, IngestRun] = field(default_factory=dict)
    quarantine: list[QuarantinedRow] = field(default_factory=list)
    policies: dict[str, str] = field(default_factory=dict)
    outbox: dict[str, QueuedNotification] = field(default_factory=dict)
    #: When Slack accepted each outbox message, by dedupe key (the relay's part: tests
    #: set it with ``mark_sent``); absent is not sent.
    sent: dict[str, datetime] = field(default_factory=dict)
    home_pages: dict[str, int] = field(default_factory=dict)
    #: Where the desk's messages about each item are: (channel, ts) -> item id (the
    #: fake of cards and sent outbox rows; tests place them with ``posted_at``).
    posted: dict[tuple[str, str], int] = field(default_factory=dict)
    once_keys: dict[str, int | None] = field(default_factory=dict)
    breakers: dict[str, Breaker] = field(default_factory=dict)
    digest_windows: dict[int, str] = field(default_factory=dict)
    clusters: dict[int, ClusterRecord] = field(default_factory=dict)
    #: Breakers as readers see them (``recon-bot status``, App Home), set by tests.
    breaker_statuses: dict[str, BreakerStatus] = field(default_factory=dict)
    #: Each delivered (or dead) entry's state by idempotency key; absent is pending.
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    statements: dict[int, Statement] = field(default_factory=dict)
    originals: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    delegations: list[Delegation] = field(default_factory=list)
    last_statement_id: int = 0
    #: Ledger entries by (entry id, account), and FX rates by (date, base, currency, source).
    gl: dict[tuple[str, str], StoredLedgerEntry] = field(default_factory=dict)
    fx_rates: dict[tuple[date, str, str, str], FxRate] = field(default_factory=dict)
    #: Stage 2's matches by id and consistency checks by id.
    matches: dict[int, MatchRecord] = field(default_factory=dict)
    checks: dict[int, CheckRecord] = field(default_factory=dict)
    last_match_id: int = 0
    last_check_id: int = 0
    last_match_run_id: int = 0
    #: How many times the match history was read (routing reads it once per batch).
    history_reads: int = 0
    last_item_id: int = 0
    last_run_id: int = 0
    last_cluster_id: int = 0
    commits: int = 0
    rollbacks: int = 0
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class InMemoryItemRepository:
    """Items as a dict overlay: the unit of work's staged writes over the committed store."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _visible(self) -> dict[int, Item]:
        return self._uow.items_visible()

    async def add(self, item: Item) -> Item:
        """Inserts with the next id; ``(source, external_id)`` is unique."""
        await self._uow.begin_write()
        if item.id is not None:
            raise ValueError("a new item has no id yet")
        key = (item.facts.source, item.facts.external_id)
        if any((i.facts.source, i.facts.external_id) == key for i in self._visible().values()):
            raise DuplicateKey(f"item {key} already exists")
        self._uow.store.last_item_id += 1
        stored = dataclasses.replace(item, id=self._uow.store.last_item_id)
        self._uow.staged_items[self._uow.store.last_item_id] = stored
        return stored

    async def reserve_ids(self, count: int) -> list[int]:
        """The next ``count`` ids (none for a count below 1)."""
        await self._uow.begin_write()
        if count <= 0:
            return []
        first = self._uow.store.last_item_id + 1
        self._uow.store.last_item_id += count
        return list(range(first, first + count))

    async def add_many(self, items: Sequence[Item]) -> None:
        """Inserts items that carry reserved ids; ``(source, external_id)`` is unique."""
        await self._uow.begin_write()
        taken = {(i.facts.source, i.facts.external_id) for i in self._visible().values()}
        for item in items:
            if item.id is None or item.id > self._uow.store.last_item_id:
                raise ValueError("add_many takes items with ids from reserve_ids")
            key = (item.facts.source, item.facts.external_id)
            if key in taken:
                raise DuplicateKey(f"item {key} already exists")
            taken.add(key)
            self._uow.staged_items[item.id] = item

    async def get(self, item_id: int) -> Item | None:
        """The item, or None."""
        await asyncio.sleep(0)
        return self._visible().get(item_id)

    async def get_by_external(self, source: str, external_id: str) -> Item | None:
        """The item ingested under ``(source, external_id)``, or None."""
        await asyncio.sleep(0)
        return next(
            (
                i
                for i in self._visible().values()
                if i.facts.source == source and i.facts.external_id == external_id
            ),
            None,
        )

    async def get_many_by_external(
        self, source: str, external_ids: Sequence[str]
    ) -> dict[str, Item]:
        """Items of one source by external id."""
        await asyncio.sleep(0)
        wanted = set(external_ids)
        return {
            i.facts.external_id: i
            for i in self._visible().values()
            if i.facts.source == source and i.facts.external_id in wanted
        }

    async def update(self, item: Item, *, expected_version: int) -> bool:
        """Writes ``item`` if the stored version is still ``expected_version``."""
        await self._uow.begin_write()
        if item.id is None:
            raise ValueError("cannot update an item that was never stored")
        current = self._visible().get(item.id)
        if current is None or current.version != expected_version:
            return False
        self._uow.staged_items[item.id] = item
        return True

    async def update_many(self, changes: Sequence[tuple[Item, int]]) -> list[int]:
        """:meth:`update` for each pair; the ids not written."""
        stale = []
        for item, expected in changes:
            if not await self.update(item, expected_version=expected):
                assert item.id is not None
                stale.append(item.id)
        return stale

    async def claimable(
        self,
        *,
        teams: Sequence[str],
        limit: int,
        offset: int = 0,
        exclude_prepared_by: str | None = None,
        skip_locked: bool = False,
    ) -> list[Item]:
        """Pending (so unassigned) items of these teams, priority descending then id.

        Like SQL, the state alone says unassigned: the assignee field is not looked at.
        ``skip_locked`` changes nothing here: the fake's units of work do not interleave
        writes (like SQLite's single writer).
        """
        await asyncio.sleep(0)
        wanted = set(teams)
        found = [
            i
            for i in self._visible().values()
            if i.state is ReviewState.PENDING
            and i.team in wanted
            and (exclude_prepared_by is None or i.facts.prepared_by != exclude_prepared_by)
        ]
        return sorted(found, key=_queue_order)[offset : offset + limit]

    async def count(
        self,
        *,
        states: Sequence[ReviewState] | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
    ) -> int:
        """How many items match every given filter."""
        await asyncio.sleep(0)
        return len(
            [i for i in self._visible().values() if _matches(i, states, None, teams, assignee)]
        )

    async def summary(
        self, *, teams: Sequence[str] | None, overdue_before: datetime
    ) -> dict[str, int]:
        """Dashboard counts, as the port describes them."""
        await asyncio.sleep(0)
        counts = {
            "pending_high": 0,
            "pending_medium": 0,
            "pending_low": 0,
            "overdue": 0,
            "awaiting_second_approval": 0,
            "open_disputes": 0,
            "dead_lettered": 0,
        }
        for item in self._visible().values():
            if teams is not None and item.team not in teams:
                continue
            key = f"state:{item.state.value}"
            counts[key] = counts.get(key, 0) + 1
            if item.state is ReviewState.PENDING:
                band = (
                    "high"
                    if item.priority >= HIGH_PRIORITY
                    else "medium"
                    if item.priority >= MEDIUM_PRIORITY
                    else "low"
                )
                counts[f"pending_{band}"] += 1
            if (
                item.state not in SETTLED
                and item.state is not ReviewState.DISPUTED
                and item.sla_started_at < overdue_before
                and not item.sla_waits
            ):
                counts["overdue"] += 1
        counts["awaiting_second_approval"] = counts.get("state:awaiting_second_approval", 0)
        counts["open_disputes"] = counts.get("state:disputed", 0)
        counts["dead_lettered"] = counts.get("state:dead_letter", 0)
        return counts

    async def due_for_ladder(self, *, now: datetime, limit: int) -> list[Item]:
        """Items whose next SLA rung is due, earliest first."""
        await asyncio.sleep(0)
        due = [
            i
            for i in self._visible().values()
            if i.sla_next_at is not None and i.sla_next_at <= now
        ]
        due.sort(key=lambda i: (i.sla_next_at, i.id))
        return due[:limit]

    async def open_after(self, *, after_id: int, limit: int) -> list[Item]:
        """Open items with ids above ``after_id``, in id order."""
        await asyncio.sleep(0)
        found = sorted(
            (
                i
                for i in self._visible().values()
                if (i.id or 0) > after_id and i.state not in SETTLED
            ),
            key=lambda i: i.id or 0,
        )
        return found[:limit]

    async def expired_claims(self, *, now: datetime, limit: int) -> list[Item]:
        """Assigned items whose lease ended before ``now``, oldest lease first."""
        await asyncio.sleep(0)
        found = [
            i
            for i in self._visible().values()
            if i.state is ReviewState.ASSIGNED
            and i.claim_expires_at is not None
            and i.claim_expires_at < now
        ]
        return sorted(found, key=lambda i: (i.claim_expires_at, i.id))[:limit]

    async def query(
        self,
        *,
        states: Sequence[ReviewState] | None = None,
        team: str | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Item]:
        """Items matching every given filter, priority descending then id."""
        await asyncio.sleep(0)
        found = [i for i in self._visible().values() if _matches(i, states, team, teams, assignee)]
        return sorted(found, key=_queue_order)[offset : offset + limit]

    async def open_outside(self, *, teams: Sequence[str], min_ladder_level: int = 0) -> list[Item]:
        """Open items of no team or of another team, at the level or above (see the port)."""
        await asyncio.sleep(0)
        found = [
            i
            for i in self._visible().values()
            if i.state not in SETTLED
            and (i.team is None or i.team not in teams)
            and i.ladder_level >= min_ladder_level
        ]
        return sorted(found, key=_queue_order)


def _matches(
    item: Item,
    states: Sequence[ReviewState] | None,
    team: str | None,
    teams: Sequence[str] | None,
    assignee: str | None,
) -> bool:
    return (
        (not states or item.state in states)
        and (not team or item.team == team)
        and (teams is None or item.team in teams)
        and (not assignee or item.assignee == assignee)
    )


def _queue_order(item: Item) -> tuple[int, int]:
    return (-item.priority, item.id or 0)


class InMemoryJournalRepository:
    """Journal entries keyed by their unique idempotency key."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _visible(self) -> dict[str, JournalEntry]:
        return {**self._uow.store.journal, **self._uow.staged_journal}

    async def add(self, entry: JournalEntry) -> None:
        """Inserts; a second entry with the same idempotency key raises DuplicateKey."""
        await self._uow.begin_write()
        if entry.idempotency_key in self._visible():
            raise DuplicateKey(f"journal entry {entry.idempotency_key} already exists")
        self._uow.staged_journal[entry.idempotency_key] = entry

    async def add_many(self, entries: Sequence[JournalEntry]) -> None:
        """Inserts several entries."""
        for entry in entries:
            await self.add(entry)

    async def get_by_key(self, idempotency_key: str) -> JournalEntry | None:
        """The entry with that key, or None."""
        await asyncio.sleep(0)
        return self._visible().get(idempotency_key)

    async def for_item(self, item_id: int) -> list[JournalEntry]:
        """Entries of one item, oldest first."""
        await asyncio.sleep(0)
        return [e for e in self._visible().values() if e.item_id == item_id]

    async def for_items(self, item_ids: Sequence[int]) -> dict[int, list[JournalEntry]]:
        """Entries of several items, each item's oldest first."""
        await asyncio.sleep(0)
        wanted = set(item_ids)
        out: dict[int, list[JournalEntry]] = {}
        for entry in self._visible().values():
            if entry.item_id in wanted:
                out.setdefault(entry.item_id, []).append(entry)
        return out

    async def mark_delivered(self, idempotency_key: str, *, reference: str, now: datetime) -> bool:
        """Stores the ledger's reference once."""
        await self._uow.begin_write()
        entry = self._visible().get(idempotency_key)
        if entry is None or entry.reference is not None:
            return False
        self._uow.staged_journal[idempotency_key] = dataclasses.replace(
            entry, reference=reference, delivered_at=now
        )
        return True

    async def held(self, *, limit: int) -> list[JournalEntry]:
        """Held entries, oldest first."""
        await asyncio.sleep(0)
        return [e for e in self._visible().values() if e.hold is not None][:limit]

    async def release(self, entry: JournalEntry) -> bool:
        """Rewrites a still-held entry."""
        await self._uow.begin_write()
        stored = self._visible().get(entry.idempotency_key)
        if stored is None or stored.hold is None:
            return False
        self._uow.staged_journal[entry.idempotency_key] = dataclasses.replace(
            stored, lines=entry.lines, memo=entry.memo, hold=entry.hold
        )
        return True


class InMemoryIntakeRepository:
    """Ingest runs, the quarantine and remembered policy texts."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def start_run(
        self, *, source: str, file_name: str, policy_version: str, now: datetime
    ) -> int:
        """Records a new run and returns its id."""
        await self._uow.begin_write()
        self._uow.store.last_run_id += 1
        run_id = self._uow.store.last_run_id
        self._uow.staged_runs[run_id] = IngestRun(
            id=run_id,
            source=source,
            file_name=file_name,
            policy_version=policy_version,
            started_at=now,
        )
        return run_id

    async def quarantine(
        self, *, run_id: int, rows: Sequence[tuple[RowError, str]], now: datetime
    ) -> None:
        """Keeps rejected rows with their error and raw text."""
        await self._uow.begin_write()
        self._uow.staged_quarantine.extend(
            QuarantinedRow(run_id=run_id, error=error, raw=raw, at=now) for error, raw in rows
        )

    async def finish_run(self, *, run_id: int, summary: dict[str, Any], now: datetime) -> None:
        """Stores the run's summary; like SQL's UPDATE, an unknown run changes nothing."""
        await self._uow.begin_write()
        run = self._uow.staged_runs.get(run_id) or self._uow.store.runs.get(run_id)
        if run is None:
            return
        staged = dataclasses.replace(run, finished_at=now, summary=copy.deepcopy(summary))
        self._uow.staged_runs[run_id] = staged

    async def remember_policy(self, *, version: str, body: str, now: datetime) -> None:
        """Keeps the first text seen for a policy version."""
        await self._uow.begin_write()
        if version not in self._uow.store.policies:
            self._uow.staged_policies.setdefault(version, body)


class InMemoryDigestRepository:
    """Digest windows and clusters, as ``store/digests.py`` keeps them.

    Which window took an item is kept beside the item (like the SQL column that item
    updates never touch), so a later update of the item leaves it in its window.
    """

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _window_of(self, item_id: int) -> str | None:
        staged = self._uow.staged_digest_windows
        return staged[item_id] if item_id in staged else self._uow.store.digest_windows.get(item_id)

    def _clusters(self) -> dict[int, ClusterRecord]:
        return {**self._uow.store.clusters, **self._uow.staged_clusters}

    def _undigested(self) -> list[Item]:
        return sorted(
            (
                i
                for i in self._uow.items_visible().values()
                if i.route is Route.DIGEST
                and i.state is ReviewState.PENDING
                and i.id is not None
                and self._window_of(i.id) is None
            ),
            key=lambda i: i.id or 0,
        )

    async def candidate_teams(self) -> list[str]:
        """Teams with digest items not yet in any digest, sorted."""
        await asyncio.sleep(0)
        return sorted({i.team for i in self._undigested() if i.team is not None})

    async def candidates(self, *, team: str, limit: int) -> list[Item]:
        """A team's undigested pending digest items, oldest (lowest id) first."""
        await asyncio.sleep(0)
        return [i for i in self._undigested() if i.team == team][:limit]

    async def awaiting_post(self, *, limit: int) -> list[tuple[str, Item]]:
        """Items a digest took whose clock still waits for its post, oldest first."""
        await asyncio.sleep(0)
        waiting = [
            (window, i)
            for i in sorted(self._uow.items_visible().values(), key=lambda i: i.id or 0)
            if i.sla_waits and i.id is not None and (window := self._window_of(i.id)) is not None
        ]
        return waiting[:limit]

    async def mark(self, *, item_ids: Sequence[int], window: str) -> int:
        """Claims the still-unclaimed existing items for the window; returns how many."""
        await self._uow.begin_write()
        stored = self._uow.items_visible()
        claimed = 0
        for item_id in dict.fromkeys(item_ids):
            if item_id in stored and self._window_of(item_id) is None:
                self._uow.staged_digest_windows[item_id] = window
                claimed += 1
        return claimed

    async def add_cluster(
        self,
        *,
        window: str,
        team: str,
        key: str,
        items: Sequence[ClusterMember],
        apart: bool,
        now: datetime,
    ) -> int:
        """Stores an open cluster and returns its id."""
        await self._uow.begin_write()
        self._uow.store.last_cluster_id += 1
        cluster_id = self._uow.store.last_cluster_id
        self._uow.staged_clusters[cluster_id] = ClusterRecord(
            id=cluster_id,
            window=window,
            team=team,
            key=key,
            items=tuple((item_id, version) for item_id, version, _ in items),
            hashes=tuple(digest for _, _, digest in items),
            apart=apart,
            state=ClusterState.OPEN,
        )
        return cluster_id

    async def window_posted(self, *, team: str, window: str) -> bool:
        """Whether a cluster of this team's digest for this window exists."""
        await asyncio.sleep(0)
        return any(c.team == team and c.window == window for c in self._clusters().values())

    async def get_cluster(self, cluster_id: int) -> ClusterRecord | None:
        """The cluster, or None."""
        await asyncio.sleep(0)
        return self._clusters().get(cluster_id)

    async def close_cluster(
        self, cluster_id: int, *, state: ClusterState, actor: str, now: datetime
    ) -> bool:
        """Moves an open cluster to ``state`` (compare-and-set on ``open``)."""
        await self._uow.begin_write()
        cluster = self._clusters().get(cluster_id)
        if cluster is None or cluster.state is not ClusterState.OPEN:
            return False
        self._uow.staged_clusters[cluster_id] = dataclasses.replace(
            cluster, state=state, decided_by=actor
        )
        return True


class InMemoryViewStateRepository:
    """The App Home page each user chose, staged like every other write."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def home_page(self, user: str) -> int:
        await asyncio.sleep(0)
        staged = self._uow.staged_home_pages
        return staged[user] if user in staged else self._uow.store.home_pages.get(user, 0)

    async def set_home_page(self, user: str, page: int, *, now: datetime) -> None:
        await self._uow.begin_write()
        self._uow.staged_home_pages[user] = page


class InMemoryLedgerStatusRepository:
    """Delivery to the ledger: breakers and delivery states as the store holds them (tests
    set them), over the journal this unit of work sees."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def breaker(self, name: str) -> BreakerStatus:
        await asyncio.sleep(0)
        return self._uow.store.breaker_statuses.get(name, BreakerStatus(name=name))

    async def delivery_counts(self) -> DeliveryCounts:
        await asyncio.sleep(0)
        counts = {"pending": 0, "sent": 0, "dead": 0, "held": 0}
        journal = {**self._uow.store.journal, **self._uow.staged_journal}
        for key, entry in journal.items():
            delivery = self._uow.store.deliveries.get(key, Delivery.PENDING)
            bucket = delivery.value
            if delivery is Delivery.PENDING and entry.hold is not None:
                bucket = "held"
            counts[bucket] += 1
        return DeliveryCounts(**counts)


class InMemoryThreadRepository:
    """Which item a thread belongs to, from where the desk's messages are."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def item_of_thread(self, *, channel: str, thread_ts: str) -> int | None:
        await asyncio.sleep(0)
        return self._uow.store.posted.get((channel, thread_ts))


class InMemoryOnceKeys:
    """Once-keys, staged like every other write."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def first_time(self, key: str, *, item_id: int | None, now: datetime) -> bool:
        await self._uow.begin_write()
        if key in self._uow.store.once_keys or key in self._uow.staged_once:
            return False
        self._uow.staged_once[key] = item_id
        return True


class InMemoryStatementRepository:
    """Statements as a dict overlay, like the items; lines are kept on the statement."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _visible(self) -> dict[int, Statement]:
        return {**self._uow.store.statements, **self._uow.staged_statements}

    async def add(self, statement: Statement) -> Statement:
        """Inserts with the next id; the identity is unique."""
        await self._uow.begin_write()
        if statement.id is not None:
            raise ValueError("a new statement has no id yet")
        key = statement.key.text
        if any(s.key.text == key for s in self._visible().values()):
            raise StaleItem(f"statement {key} was imported by someone else at the same moment")
        numbers = [ln.number for ln in statement.lines]
        if len(set(numbers)) != len(numbers):
            raise DuplicateKey("two lines of one statement share a number")
        self._uow.store.last_statement_id += 1
        stored = dataclasses.replace(statement, id=self._uow.store.last_statement_id)
        self._uow.staged_statements[self._uow.store.last_statement_id] = stored
        return stored

    async def get(self, statement_id: int, *, with_lines: bool = True) -> Statement | None:
        """The statement, or None."""
        await asyncio.sleep(0)
        found = self._visible().get(statement_id)
        if found is None or with_lines:
            return found
        return dataclasses.replace(found, lines=())

    async def get_by_key(self, key: StatementKey) -> Statement | None:
        """The statement with that identity, or None."""
        await asyncio.sleep(0)
        for statement in self._visible().values():
            if statement.key.text == key.text:
                return statement
        return None

    async def update(
        self, statement: Statement, *, expected_version: int, lines: Sequence[int] | None = None
    ) -> bool:
        """Writes over the expected version only (``lines`` only says what changed)."""
        await self._uow.begin_write()
        assert statement.id is not None
        current = self._visible().get(statement.id)
        if current is None or current.version != expected_version:
            return False
        if lines is not None:  # only those lines changed: the others stay as stored
            wanted = set(lines)
            kept = {ln.number: ln for ln in current.lines if ln.number not in wanted}
            kept.update({ln.number: ln for ln in statement.lines if ln.number in wanted})
            statement = dataclasses.replace(statement, lines=tuple(kept[n] for n in sorted(kept)))
        self._uow.staged_statements[current.id or 0] = statement
        return True

    async def previous(
        self, *, account: str, currency: str, before: date, exclude_id: int | None
    ) -> Statement | None:
        """The latest-ending statement of the account that started before ``before``."""
        await asyncio.sleep(0)
        found = [
            s
            for s in self._visible().values()
            if s.account == account
            and s.currency == currency
            and s.period_start < before
            and s.id != exclude_id
        ]
        if not found:
            return None
        best = max(found, key=lambda s: (s.period_end, s.period_start, s.id or 0))
        return dataclasses.replace(best, lines=())

    async def following(
        self, *, account: str, currency: str, after: date, exclude_id: int | None
    ) -> Statement | None:
        """The earliest-starting statement of the account that started after ``after``."""
        await asyncio.sleep(0)
        found = [
            s
            for s in self._visible().values()
            if s.account == account
            and s.currency == currency
            and s.period_start > after
            and s.id != exclude_id
        ]
        if not found:
            return None
        best = min(found, key=lambda s: (s.period_start, s.period_end, s.id or 0))
        return dataclasses.replace(best, lines=())

    async def query(
        self,
        *,
        status: Stage1Status | None = None,
        account: str | None = None,
        teams: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Statement]:
        """Statements without lines, by account, period start and id."""
        await asyncio.sleep(0)
        found = [
            dataclasses.replace(s, lines=())
            for s in self._visible().values()
            if (status is None or s.stage1_status is status)
            and (account is None or s.account == account)
            and (teams is None or s.team in teams)
        ]
        found.sort(key=lambda s: (s.account, s.period_start, s.id or 0))
        return found[offset : offset + limit]

    async def count(
        self, *, status: Stage1Status | None = None, teams: Sequence[str] | None = None
    ) -> int:
        """How many statements match."""
        await asyncio.sleep(0)
        return sum(
            1
            for s in self._visible().values()
            if (status is None or s.stage1_status is status) and (teams is None or s.team in teams)
        )

    async def line_totals(self, statement_id: int, currency: str) -> LineTotals:
        """Summed over the stored lines (zeros for no statement, like the SQL sum)."""
        await asyncio.sleep(0)
        found = self._visible().get(statement_id)
        if found is None:
            return LineTotals(counted=0, removed=0, credits=Decimal(0), debits=Decimal(0))
        return found.totals()

    async def lines_page(
        self, statement_id: int, currency: str, *, offset: int, limit: int
    ) -> tuple[StatementLine, ...]:
        """A slice of the stored lines."""
        await asyncio.sleep(0)
        found = self._visible().get(statement_id)
        return () if found is None else found.lines[offset : offset + limit]

    async def line(self, statement_id: int, currency: str, number: int) -> StatementLine | None:
        """The stored line of that number."""
        await asyncio.sleep(0)
        found = self._visible().get(statement_id)
        lines = found.lines if found is not None else ()
        return next((ln for ln in lines if ln.number == number), None)

    async def line_counts(self, statement_ids: Sequence[int]) -> dict[int, int]:
        """Lines that count per statement."""
        await asyncio.sleep(0)
        visible = self._visible()
        return {i: len(visible[i].counted) if i in visible else 0 for i in statement_ids}

    async def approved_lines(
        self,
        *,
        match_status: MatchStatus | None = MatchStatus.UNMATCHED,
        after: tuple[int, int] | None = None,
        limit: int = 1000,
    ) -> list[tuple[Statement, StatementLine]]:
        """Lines of approved statements in (statement, number) order."""
        await asyncio.sleep(0)
        out: list[tuple[Statement, StatementLine]] = []
        for sid in sorted(self._visible()):
            statement = self._visible()[sid]
            if statement.stage1_status is not Stage1Status.APPROVED:
                continue
            head = dataclasses.replace(statement, lines=())
            for line in sorted(statement.counted, key=lambda ln: ln.number):
                if match_status is not None and line.match_status is not match_status:
                    continue
                if after is not None and (sid, line.number) <= after:
                    continue
                out.append((head, line))
        return out[:limit]

    async def set_line_match_statuses(
        self, keys: Sequence[tuple[int, int]], status: MatchStatus
    ) -> int:
        done = 0
        for sid, number in sorted(set(keys)):
            done += await self.set_line_match_status(sid, number, status)
        return done

    async def set_line_match_status(
        self, statement_id: int, number: int, status: MatchStatus
    ) -> bool:
        await self._uow.begin_write()
        found = self._visible().get(statement_id)
        if found is None or not any(ln.number == number for ln in found.lines):
            return False
        lines = tuple(
            dataclasses.replace(ln, match_status=status) if ln.number == number else ln
            for ln in found.lines
        )
        self._uow.staged_statements[statement_id] = dataclasses.replace(found, lines=lines)
        return True

    async def keep_original(self, *, file_name: str, original: Original, now: datetime) -> None:
        """Keeps the bytes once per hash."""
        await self._uow.begin_write()
        if original.sha256 not in self._uow.store.originals:
            self._uow.staged_originals.setdefault(original.sha256, (file_name, original.unpack()))

    async def original(self, sha256: str) -> tuple[str, bytes] | None:
        """The kept file, or None."""
        await asyncio.sleep(0)
        return self._uow.store.originals.get(sha256) or self._uow.staged_originals.get(sha256)


class InMemoryOutboxSink:
    """The outbox: notifications keyed by their dedupe key (a repeat is skipped)."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def enqueue(self, notifications: Sequence[Notification], *, now: datetime) -> None:
        """Stages the notifications whose dedupe key was never seen.

        Like SQL, a key repeated within one batch keeps the batch's last notification;
        a key enqueued before (committed or earlier in this unit of work) keeps the first.
        """
        await self._uow.begin_write()
        for notification in {n.dedupe_key: n for n in notifications}.values():
            key = notification.dedupe_key
            if key in self._uow.store.outbox or key in self._uow.staged_outbox:
                continue
            self._uow.staged_outbox[key] = QueuedNotification(
                notification=notification, enqueued_at=now
            )

    async def queued(self, dedupe_key: str) -> bool:
        """Whether the key was enqueued (committed, or earlier in this unit of work)."""
        await asyncio.sleep(0)
        return dedupe_key in self._uow.store.outbox or dedupe_key in self._uow.staged_outbox

    async def sent_at(self, dedupe_key: str) -> datetime | None:
        """When the message was sent (``InMemoryStore.sent``); None: not sent."""
        await asyncio.sleep(0)
        return self._uow.store.sent.get(dedupe_key)

    async def settle(self, row_id: int, *, attempts: int, now: datetime) -> bool:
        """Rows here have no claims: settling always holds (the relay is tested on SQL)."""
        await self._uow.begin_write()
        return True


class InMemoryBreakers:
    """Breakers as the tests set them (``InMemoryStore.breakers``)."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    async def get(self, name: str) -> Breaker:
        """The breaker (closed when never set)."""
        await asyncio.sleep(0)
        return self._uow.store.breakers.get(name) or Breaker(name=name)


class InMemoryAuditSink:
    """The audit log as a list; ``entries`` holds committed entries only."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def entries(self) -> list[AuditEntry]:
        """Committed entries, in append order."""
        return list(self._uow.store.audit)

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Stages the entries; they land on commit or vanish with the unit of work."""
        await self._uow.begin_write()
        self._uow.staged_audit.extend(entries)


class InMemoryLedgerRepository:
    """Ledger entries at their latest version, with the SQL repository's refusals."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _visible(self) -> dict[tuple[str, str], StoredLedgerEntry]:
        return {**self._uow.store.gl, **self._uow.staged_ledger}

    async def get_many(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredLedgerEntry]:
        visible = self._visible()
        return {k: visible[k] for k in keys if k in visible}

    async def add_many(
        self, entries: Sequence[LedgerEntry], *, run_id: int | None, now: datetime
    ) -> None:
        await self._uow.begin_write()
        visible = self._visible()
        for entry in entries:
            if entry.key in visible:
                raise DuplicateKey(f"ledger entry {entry.key} exists")
            visible[entry.key] = self._uow.staged_ledger[entry.key] = StoredLedgerEntry(
                entry=entry,
                version=1,
                match_status=MatchStatus.UNMATCHED,
                content_hash=entry.content_hash(),
            )

    async def revise(
        self, entry: LedgerEntry, *, expected_version: int, run_id: int | None, now: datetime
    ) -> bool:
        await self._uow.begin_write()
        current = self._visible().get(entry.key)
        if (
            current is None
            or current.version != expected_version
            or current.match_status is not MatchStatus.UNMATCHED
        ):
            return False
        self._uow.staged_ledger[entry.key] = StoredLedgerEntry(
            entry=entry,
            version=expected_version + 1,
            match_status=current.match_status,
            content_hash=entry.content_hash(),
        )
        return True

    async def set_match_status(
        self, key: tuple[str, str], status: MatchStatus, *, now: datetime
    ) -> bool:
        await self._uow.begin_write()
        current = self._visible().get(key)
        if current is None:
            return False
        self._uow.staged_ledger[key] = dataclasses.replace(current, match_status=status)
        return True

    async def set_match_statuses(
        self, keys: Sequence[tuple[str, str]], status: MatchStatus, *, now: datetime
    ) -> int:
        done = 0
        for key in sorted(set(keys)):
            done += await self.set_match_status(key, status, now=now)
        return done

    async def open_entries(self, *, account: str, currency: str) -> list[StoredLedgerEntry]:
        await asyncio.sleep(0)
        return sorted(
            (
                e
                for e in self._visible().values()
                if e.entry.account == account
                and e.entry.currency == currency
                and e.match_status is MatchStatus.UNMATCHED
            ),
            key=lambda e: e.entry.entry_id,
        )


class InMemoryMatchRepository:
    """Matches and checks as dict overlays, with the SQL repository's refusals."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _matches(self) -> dict[int, MatchRecord]:
        return {**self._uow.store.matches, **self._uow.staged_matches}

    def _checks(self) -> dict[int, CheckRecord]:
        return {**self._uow.store.checks, **self._uow.staged_checks}

    async def add(self, record: MatchRecord) -> MatchRecord:
        await self._uow.begin_write()
        self._uow.store.last_match_id += 1
        stored = dataclasses.replace(record, id=self._uow.store.last_match_id)
        self._uow.staged_matches[self._uow.store.last_match_id] = stored
        return stored

    async def update(self, record: MatchRecord, *, expected_version: int) -> bool:
        await self._uow.begin_write()
        assert record.id is not None
        current = self._matches().get(record.id)
        if current is None or current.version != expected_version:
            return False
        self._uow.staged_matches[record.id] = dataclasses.replace(
            record, version=expected_version + 1, created_at=current.created_at
        )
        return True

    async def get(self, match_id: int) -> MatchRecord | None:
        await asyncio.sleep(0)
        return self._matches().get(match_id)

    async def live(self) -> list[MatchRecord]:
        await asyncio.sleep(0)
        return [m for _, m in sorted(self._matches().items()) if m.state is not MatchState.REJECTED]

    async def query(
        self,
        *,
        band: Band | None = None,
        state: MatchState | None = None,
        statement_id: int | None = None,
        limit: int = 100,
    ) -> list[MatchRecord]:
        await asyncio.sleep(0)
        out = [
            m
            for _, m in sorted(self._matches().items())
            if (band is None or m.band is band)
            and (state is None or m.state is state)
            and (statement_id is None or m.statement_id == statement_id)
        ]
        return out[:limit]

    async def changed_since(self, *, statement_id: int, since: datetime) -> list[MatchRecord]:
        await asyncio.sleep(0)
        return [
            m
            for _, m in sorted(self._matches().items())
            if m.statement_id == statement_id and m.updated_at >= since
        ]

    async def count_pending(self, *, teams: Sequence[str] | None = None) -> int:
        await asyncio.sleep(0)
        heads = {**self._uow.store.statements, **self._uow.staged_statements}
        return sum(
            1
            for m in self._matches().values()
            if m.state is MatchState.PENDING_REVIEW
            and m.statement_id in heads
            and (teams is None or heads[m.statement_id].team in teams)
        )

    async def counterparty_risk(self, names: Sequence[str]) -> dict[str, RiskTier]:
        await asyncio.sleep(0)
        wanted = set(names)
        out: dict[str, RiskTier] = {}
        for item in self._uow.items_visible().values():
            name, tier = item.facts.counterparty, item.facts.risk_tier
            if name in wanted and name is not None and tier is not None:
                out[name] = highest(out.get(name), tier)
        return out

    async def start_run(self, *, statement_id: int | None, now: datetime) -> int:
        await self._uow.begin_write()
        self._uow.store.last_match_run_id += 1
        return self._uow.store.last_match_run_id

    async def match_history(
        self, names: Sequence[str], *, since: date, until: date, min_score: int
    ) -> dict[str, MatchTally]:
        await asyncio.sleep(0)
        wanted = {n for n in names if n}
        if not wanted:
            return {}
        self._uow.store.history_reads += 1
        covered = {
            key
            for m in self._matches().values()
            if m.state is not MatchState.REJECTED and m.score >= min_score
            for key in m.bank_lines
        }
        counts: dict[str, list[int]] = {}
        for sid, statement in self._uow.statements_visible().items():
            if statement.stage1_status is not Stage1Status.APPROVED:
                continue
            for line in statement.counted:
                day = line.booking_date or line.value_date or statement.period_end
                name = line.counterparty
                if name not in wanted or name is None or not since <= day <= until:
                    continue
                tally = counts.setdefault(name, [0, 0])
                tally[0] += 1
                tally[1] += (sid, line.number) in covered
        return {n: MatchTally(lines=c[0], matched=c[1]) for n, c in counts.items()}

    async def add_checks(self, checks: Sequence[CheckRecord]) -> int:
        if not checks:
            return 0
        await self._uow.begin_write()
        known = {c.key for c in self._checks().values()}
        added = 0
        for check in checks:
            if check.key in known:
                continue
            known.add(check.key)
            self._uow.store.last_check_id += 1
            cid = self._uow.store.last_check_id
            self._uow.staged_checks[cid] = dataclasses.replace(check, id=cid)
            added += 1
        return added

    async def get_check(self, check_id: int) -> CheckRecord | None:
        await asyncio.sleep(0)
        return self._checks().get(check_id)

    async def resolve_check(self, record: CheckRecord) -> bool:
        await self._uow.begin_write()
        assert record.id is not None
        current = self._checks().get(record.id)
        if current is None or current.state is not CheckState.OPEN:
            return False
        self._uow.staged_checks[record.id] = dataclasses.replace(
            current,
            state=CheckState.RESOLVED,
            resolution=record.resolution,
            note=record.note,
            resolved_by=record.resolved_by,
            resolved_at=record.resolved_at,
        )
        return True

    async def checks(
        self, *, state: CheckState | None = None, statement_id: int | None = None
    ) -> list[CheckRecord]:
        await asyncio.sleep(0)
        return [
            c
            for _, c in sorted(self._checks().items())
            if (state is None or c.state is state)
            and (statement_id is None or c.statement_id == statement_id)
        ]


def _as_stored(rate: FxRate) -> FxRate:
    """The rate as the store keeps it: exact text in its one canonical spelling."""
    return dataclasses.replace(rate, rate=Decimal(canonical_decimal(rate.rate)))


class InMemoryFxRateRepository:
    """Dated rates by key; the book query as the SQL one answers it."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _visible(self) -> dict[tuple[date, str, str, str], FxRate]:
        return {**self._uow.store.fx_rates, **self._uow.staged_fx}

    async def get_many(
        self, keys: Sequence[tuple[date, str, str, str]]
    ) -> dict[tuple[date, str, str, str], FxRate]:
        visible = self._visible()
        return {k: visible[k] for k in keys if k in visible}

    async def add_many(self, rates: Sequence[FxRate], *, now: datetime) -> None:
        await self._uow.begin_write()
        visible = self._visible()
        for rate in rates:
            if rate.key in visible:
                raise DuplicateKey(f"FX rate {rate.key} exists")
            visible[rate.key] = self._uow.staged_fx[rate.key] = _as_stored(rate)

    async def replace(self, rate: FxRate, *, now: datetime) -> bool:
        await self._uow.begin_write()
        if rate.key not in self._visible():
            return False
        self._uow.staged_fx[rate.key] = _as_stored(rate)
        return True

    async def for_book(
        self, *, currencies: Collection[str], since: date, until: date
    ) -> list[FxRate]:
        codes = set(currencies)
        pairs = [r for r in self._visible().values() if r.base in codes and r.currency in codes]
        found = [r for r in pairs if since <= r.on <= until]
        latest: dict[tuple[str, str, str], FxRate] = {}
        for rate in pairs:
            group = (rate.base, rate.currency, rate.source)
            if rate.on < since and (group not in latest or latest[group].on < rate.on):
                latest[group] = rate
        return found + list(latest.values())


class InMemoryPeopleRepository:
    """Delegations as a list; load and accuracy derived from the items and the audit log
    (a replay of every audited decision, independent of the SQL table's bookkeeping)."""

    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _delegations(self) -> list[Delegation]:
        staged = self._uow.staged_delegations
        return list(staged if staged is not None else self._uow.store.delegations)

    async def active_delegations(self, *, now: datetime) -> list[Delegation]:
        return sorted((d for d in self._delegations() if d.active(now)), key=lambda d: d.user)

    async def start_delegation(self, delegation: Delegation) -> None:
        await self.end_delegation(user=delegation.user, now=delegation.started_at)
        self._uow.staged_delegations = [*self._delegations(), delegation]

    async def end_delegation(self, *, user: str, now: datetime) -> Delegation | None:
        await self._uow.begin_write()
        ended: Delegation | None = None
        out = []
        for d in self._delegations():
            if d.user == user and d.ended_at is None:
                d_ended = dataclasses.replace(d, ended_at=now)
                if d.until > now:
                    ended = d_ended
                out.append(d_ended)
            else:
                out.append(d)
        self._uow.staged_delegations = out
        return ended

    async def open_counts(self, users: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self._uow.items_visible().values():
            holder = item.assignee
            if holder is not None and holder in users and item.state not in SETTLED:
                counts[holder] = counts.get(holder, 0) + 1
        return counts

    async def accuracy(self, users: Sequence[str], *, since: datetime) -> dict[str, Accuracy]:
        verdicts: list[list[Any]] = []  # [item_id, user, verdict, at, overturned]
        for entry in [*self._uow.store.audit, *self._uow.staged_audit]:
            overturns, marks = decision_marks([entry])
            for o in overturns:
                for v in verdicts:
                    if v[0] == o.item_id and v[2] is o.verdict and not v[4] and v[3] <= o.at:
                        v[4] = True
            verdicts.extend([m.item_id, m.user, m.verdict, m.at, False] for m in marks)
        out: dict[str, Accuracy] = {}
        for _, user, _verdict, at, overturned in verdicts:
            if user in users and at >= since:
                prior = out.get(user, Accuracy(decided=0, overturned=0))
                out[user] = Accuracy(
                    decided=prior.decided + 1, overturned=prior.overturned + int(overturned)
                )
        return out

    async def note_decisions(
        self, overturns: Sequence[Overturn], marks: Sequence[DecisionMark]
    ) -> None:
        """Nothing to keep: :meth:`accuracy` replays the audit log."""
        assert all(isinstance(m.verdict, Verdict) for m in marks)


class InMemoryUnitOfWork:
    """One transaction over an :class:`InMemoryStore`."""

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

    def __init__(self, store: InMemoryStore, *, read_only: bool = False) -> None:
        self.store = store
        self.read_only = read_only
        self.committed = False
        self.staged_items: dict[int, Item] = {}
        self.staged_journal: dict[str, JournalEntry] = {}
        self.staged_audit: list[AuditEntry] = []
        self.staged_runs: dict[int, IngestRun] = {}
        self.staged_quarantine: list[QuarantinedRow] = []
        self.staged_policies: dict[str, str] = {}
        self.staged_outbox: dict[str, QueuedNotification] = {}
        self.staged_home_pages: dict[str, int] = {}
        self.staged_once: dict[str, int | None] = {}
        self.staged_digest_windows: dict[int, str] = {}
        self.staged_clusters: dict[int, ClusterRecord] = {}
        self.staged_statements: dict[int, Statement] = {}
        self.staged_originals: dict[str, tuple[str, bytes]] = {}
        self.staged_ledger: dict[tuple[str, str], StoredLedgerEntry] = {}
        self.staged_fx: dict[tuple[date, str, str, str], FxRate] = {}
        self.staged_delegations: list[Delegation] | None = None
        self.staged_matches: dict[int, MatchRecord] = {}
        self.staged_checks: dict[int, CheckRecord] = {}
        self._holds_lock = False
        self._entered = False
        self.items = InMemoryItemRepository(self)
        self.journal = InMemoryJournalRepository(self)
        self.intake = InMemoryIntakeRepository(self)
        self.gl = InMemoryLedgerRepository(self)
        self.fx = InMemoryFxRateRepository(self)
        self.digests = InMemoryDigestRepository(self)
        self.views = InMemoryViewStateRepository(self)
        self.ledger_status = InMemoryLedgerStatusRepository(self)
        self.threads = InMemoryThreadRepository(self)
        self.once = InMemoryOnceKeys(self)
        self.statements = InMemoryStatementRepository(self)
        self.people = InMemoryPeopleRepository(self)
        self.matches = InMemoryMatchRepository(self)
        self.outbox = InMemoryOutboxSink(self)
        self.audit = InMemoryAuditSink(self)
        self.breakers = InMemoryBreakers(self)

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("a unit of work is entered once")
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._has_staged():
            self.store.rollbacks += 1
        self._discard()
        self._release()

    def items_visible(self) -> dict[int, Item]:
        """Committed items with this unit of work's staged writes over them."""
        return {**self.store.items, **self.staged_items}

    def statements_visible(self) -> dict[int, Statement]:
        """Committed statements with this unit of work's staged writes over them."""
        return {**self.store.statements, **self.staged_statements}

    async def begin_write(self) -> None:
        """Takes the store's write lock (once per transaction); refuses in read-only mode."""
        if not self._entered:
            raise RuntimeError("use the unit of work inside 'async with'")
        if self.read_only:
            raise ReadOnlyViolation("this unit of work is read-only")
        if not self._holds_lock:
            await self.store.write_lock.acquire()
            self._holds_lock = True
        else:
            await asyncio.sleep(0)

    async def commit(self) -> None:
        """Publishes the staged writes to the store atomically."""
        await asyncio.sleep(0)
        store = self.store
        store.items.update(self.staged_items)
        store.journal.update(self.staged_journal)
        store.audit.extend(self.staged_audit)
        store.runs.update(self.staged_runs)
        store.quarantine.extend(self.staged_quarantine)
        for version, body in self.staged_policies.items():
            store.policies.setdefault(version, body)
        for key, queued in self.staged_outbox.items():
            store.outbox.setdefault(key, queued)
        store.home_pages.update(self.staged_home_pages)
        store.once_keys.update(self.staged_once)
        store.digest_windows.update(self.staged_digest_windows)
        store.clusters.update(self.staged_clusters)
        store.statements.update(self.staged_statements)
        if self.staged_delegations is not None:
            store.delegations = self.staged_delegations
        for sha, kept in self.staged_originals.items():
            store.originals.setdefault(sha, kept)
        store.gl.update(self.staged_ledger)
        store.fx_rates.update(self.staged_fx)
        store.matches.update(self.staged_matches)
        store.checks.update(self.staged_checks)
        store.commits += 1
        self.committed = True
        self._discard()
        self._release()

    def _has_staged(self) -> bool:
        return bool(
            self.staged_items
            or self.staged_journal
            or self.staged_audit
            or self.staged_runs
            or self.staged_quarantine
            or self.staged_policies
            or self.staged_outbox
            or self.staged_home_pages
            or self.staged_once
            or self.staged_digest_windows
            or self.staged_clusters
            or self.staged_statements
            or self.staged_originals
            or self.staged_ledger
            or self.staged_fx
            or self.staged_matches
            or self.staged_checks
        )

    def _discard(self) -> None:
        self.staged_items = {}
        self.staged_journal = {}
        self.staged_audit = []
        self.staged_runs = {}
        self.staged_quarantine = []
        self.staged_policies = {}
        self.staged_outbox = {}
        self.staged_home_pages = {}
        self.staged_once = {}
        self.staged_digest_windows = {}
        self.staged_clusters = {}
        self.staged_statements = {}
        self.staged_originals = {}
        self.staged_ledger = {}
        self.staged_fx = {}
        self.staged_delegations = None
        self.staged_matches = {}
        self.staged_checks = {}

    def _release(self) -> None:
        if self._holds_lock:
            self._holds_lock = False
            self.store.write_lock.release()


class InMemoryUnitOfWorkFactory:
    """Makes units of work over one shared store; also the tests' window onto that store."""

    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store if store is not None else InMemoryStore()
        self.opened: list[InMemoryUnitOfWork] = []

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        uow = InMemoryUnitOfWork(self.store, read_only=read_only)
        self.opened.append(uow)
        return uow

    def posted_at(self, item_id: int, *, channel: str, ts: str) -> None:
        """Places a message of the desk about ``item_id`` (a card, a reminder...)."""
        self.store.posted[(channel, ts)] = item_id

    # Committed state, for assertions.

    def item(self, item_id: int) -> Item:
        """The committed item (KeyError when absent)."""
        return self.store.items[item_id]

    @property
    def items(self) -> list[Item]:
        """Committed items by id."""
        return [self.store.items[k] for k in sorted(self.store.items)]

    @property
    def journal_entries(self) -> list[JournalEntry]:
        """Committed journal entries, in insertion order."""
        return list(self.store.journal.values())

    @property
    def audit_entries(self) -> list[AuditEntry]:
        """Committed audit entries, in append order."""
        return list(self.store.audit)

    @property
    def notifications(self) -> list[Notification]:
        """Committed outbox notifications, in enqueue order."""
        return [q.notification for q in self.store.outbox.values()]

    def audit_events(self, item_id: int | None = None) -> list[str]:
        """Names of committed audit events (of one item, when given)."""
        return [e.event for e in self.store.audit if item_id is None or e.item_id == item_id]


def _typecheck_ports(
    factory: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> tuple[UnitOfWorkFactory, UnitOfWork, Clock]:
    """Never called: makes mypy prove the fakes satisfy the Protocols."""
    return factory, factory(), clock
