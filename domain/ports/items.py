"""Ports of the review desk's items: the items, their journal entries, the ingest runs
that make them, the digests that batch them and the Slack threads that discuss them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.digest import ClusterMember, ClusterRecord, ClusterState
from domain.intake import RowError
from domain.items import Item, JournalEntry, ReviewState


class ItemRepository(Protocol):
    """Items, with optimistic version checks on every update."""

    async def add(self, item: Item) -> Item:
        """Inserts and returns the item with its id."""
        ...

    async def reserve_ids(self, count: int) -> list[int]:
        """Ids for ``count`` new items, ascending, for :meth:`add_many` in this transaction."""
        ...

    async def add_many(self, items: Sequence[Item]) -> None:
        """Inserts new items that carry ids from :meth:`reserve_ids`, in one statement."""
        ...

    async def get(self, item_id: int) -> Item | None:
        """The item, or None."""
        ...

    async def get_by_external(self, source: str, external_id: str) -> Item | None:
        """The item ingested under ``(source, external_id)``, or None."""
        ...

    async def get_many_by_external(
        self, source: str, external_ids: Sequence[str]
    ) -> dict[str, Item]:
        """Items of one source by external id (one round trip for a whole batch)."""
        ...

    async def update(self, item: Item, *, expected_version: int) -> bool:
        """Writes ``item`` if the stored version is still ``expected_version``.

        Returns False (and writes nothing) when someone else changed it first.
        """
        ...

    async def update_many(self, changes: Sequence[tuple[Item, int]]) -> list[int]:
        """:meth:`update` for many ``(item, expected_version)`` pairs, in few round trips.

        Returns the ids of the items someone else changed first (empty when all were
        written); the caller fails its transaction on any, as the others may be written.
        """
        ...

    async def claimable(
        self,
        *,
        teams: Sequence[str],
        limit: int,
        offset: int = 0,
        exclude_prepared_by: str | None = None,
        skip_locked: bool = False,
    ) -> list[Item]:
        """Unassigned pending items of these teams, highest priority first.

        ``exclude_prepared_by`` leaves out the items that user prepared (they may never
        approve those, so they should not claim them either). ``skip_locked`` locks the
        rows returned until the unit of work ends and passes over rows another unit of
        work holds (PostgreSQL's ``FOR UPDATE SKIP LOCKED``), so concurrent claimers are
        handed distinct items; a store whose writer is exclusive (SQLite) needs no lock.
        """
        ...

    async def count(
        self,
        *,
        states: Sequence[ReviewState] | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
    ) -> int:
        """How many items match every given filter."""
        ...

    async def summary(
        self, *, teams: Sequence[str] | None, overdue_before: datetime
    ) -> dict[str, int]:
        """Dashboard counts: ``pending_high|medium|low``, ``overdue``,
        ``awaiting_second_approval``, ``open_disputes``, ``dead_lettered``, and one count per
        state (``state:<name>``). ``teams=None`` counts every team."""
        ...

    async def due_for_ladder(self, *, now: datetime, limit: int) -> list[Item]:
        """Items whose next SLA rung is due (``sla_next_at <= now``), earliest first."""
        ...

    async def open_after(self, *, after_id: int, limit: int) -> list[Item]:
        """Open items with ids above ``after_id``, in id order (for recomputing deadlines)."""
        ...

    async def expired_claims(self, *, now: datetime, limit: int) -> list[Item]:
        """Assigned items whose claim lease ended before ``now``."""
        ...

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
        """Items matching every given filter, highest priority first."""
        ...

    async def open_outside(self, *, teams: Sequence[str], min_ladder_level: int = 0) -> list[Item]:
        """Every open (unsettled) item of no team or of a team not in ``teams``, at
        ``min_ladder_level`` or above, highest priority first: the candidates for what
        sits in an escalation tier of someone outside its team (the caller keeps those
        in their tier)."""
        ...


class JournalRepository(Protocol):
    """Journal entries; the idempotency key is unique."""

    async def add(self, entry: JournalEntry) -> None:
        """Inserts the entry."""
        ...

    async def add_many(self, entries: Sequence[JournalEntry]) -> None:
        """Inserts several entries in one statement."""
        ...

    async def get_by_key(self, idempotency_key: str) -> JournalEntry | None:
        """The entry with that key, or None."""
        ...

    async def for_item(self, item_id: int) -> list[JournalEntry]:
        """Entries of one item, oldest first."""
        ...

    async def for_items(self, item_ids: Sequence[int]) -> dict[int, list[JournalEntry]]:
        """Entries of several items, each item's oldest first (items with none are absent)."""
        ...

    async def mark_delivered(self, idempotency_key: str, *, reference: str, now: datetime) -> bool:
        """Stores the ledger's reference on an undelivered entry; False when it already
        had one (or there is no such entry)."""
        ...

    async def held(self, *, limit: int) -> list[JournalEntry]:
        """Entries that may not leave yet (``hold`` set), oldest first."""
        ...

    async def release(self, entry: JournalEntry) -> bool:
        """Rewrites a held entry (same key) with ``entry``'s lines and hold; False when the
        stored entry is no longer held (someone released it first)."""
        ...


class IntakeRepository(Protocol):
    """Ingest runs and the quarantine of rejected rows."""

    async def start_run(
        self, *, source: str, file_name: str, policy_version: str, now: datetime
    ) -> int:
        """Records a new run and returns its id."""
        ...

    async def quarantine(
        self, *, run_id: int, rows: Sequence[tuple[RowError, str]], now: datetime
    ) -> None:
        """Keeps rejected rows (error and raw text) for the user to list and fix."""
        ...

    async def finish_run(self, *, run_id: int, summary: dict[str, Any], now: datetime) -> None:
        """Stores the run's summary."""
        ...

    async def remember_policy(self, *, version: str, body: str, now: datetime) -> None:
        """Keeps the policy text of a version the first time it is used."""
        ...


class DigestRepository(Protocol):
    """Digest windows and their clusters."""

    async def candidate_teams(self) -> list[str]:
        """Teams with digest items not yet in any digest."""
        ...

    async def candidates(self, *, team: str, limit: int) -> list[Item]:
        """A team's pending digest items not yet in any digest, oldest first."""
        ...

    async def mark(self, *, item_ids: Sequence[int], window: str) -> int:
        """Claims items for a window (only those still unclaimed); returns how many."""
        ...

    async def awaiting_post(self, *, limit: int) -> list[tuple[str, Item]]:
        """Items a digest took whose clock still waits for that digest's post, each with
        its window (oldest first)."""
        ...

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
        """Stores a cluster (item id, version, content hash each) and returns its id."""
        ...

    async def window_posted(self, *, team: str, window: str) -> bool:
        """Whether this team's digest for this window already exists."""
        ...

    async def get_cluster(self, cluster_id: int) -> ClusterRecord | None:
        """The cluster, or None."""
        ...

    async def close_cluster(
        self, cluster_id: int, *, state: ClusterState, actor: str, now: datetime
    ) -> bool:
        """Moves an open cluster to ``state``; False when it was no longer open."""
        ...


class ThreadRepository(Protocol):
    """Which item a Slack thread belongs to, from where the desk posted its messages."""

    async def item_of_thread(self, *, channel: str, thread_ts: str) -> int | None:
        """The item whose card, or a sent copy of one of its messages (reminder,
        escalation alert, DM), is the message at ``thread_ts`` in ``channel``; None
        when the desk posted no such message."""
        ...
