"""Repositories over one open connection (the unit of work's transaction)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.dashboard import HIGH_PRIORITY, MEDIUM_PRIORITY
from domain.items import Item, JournalEntry, ReviewState
from domain.sla import SETTLED
from store.bulk import insert_rows, insert_values
from store.mapping import (
    ITEM_COLUMNS,
    entry_from_row,
    entry_to_row,
    item_from_row,
    item_to_row,
    item_values,
)
from store.tables import items, journal_entries

#: Bind names of the version check in update_many (not column names: SET takes those).
_ID, _EXPECTED = "b_id", "b_expected_version"
_UPDATE_CHECKED = update(items).where(
    and_(items.c.id == bindparam(_ID), items.c.version == bindparam(_EXPECTED))
)


def _checked_row(item: Item, expected_version: int) -> dict[str, Any]:
    """The parameters of :data:`_UPDATE_CHECKED` that write ``item`` over ``expected_version``."""
    assert item.id is not None
    values = item_to_row(item)
    del values["id"]
    values[_ID] = item.id
    values[_EXPECTED] = expected_version
    return values


# SQLite allows 32766 bound parameters; stay well below for IN lists.
_IN_CHUNK = 500


class SqlItemRepository:
    """Items with optimistic version checks."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, item: Item) -> Item:
        """Inserts and returns the item with its id."""
        result = await self._conn.execute(insert(items).values(**item_to_row(item)))
        new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        assert new_id is not None
        return _with_id(item, int(new_id))

    async def add_many(self, new_items: Sequence[Item]) -> None:
        """Inserts new items with ids from :meth:`reserve_ids` in one executemany."""
        if any(item.id is None for item in new_items):
            raise ValueError("add_many takes items with ids from reserve_ids")
        await insert_values(self._conn, items, ITEM_COLUMNS, [item_values(i) for i in new_items])

    async def reserve_ids(self, count: int) -> list[int]:
        """Ids for ``count`` new items, ascending, taken before the insert.

        INSERT ... RETURNING with guaranteed order makes SQLAlchemy fall back to one
        statement per row on SQLite, so ids are taken first: on SQLite from the current
        maximum, safe because the writer holds the database lock (BEGIN IMMEDIATE) until
        the insert commits; on PostgreSQL from the column's own sequence.
        """
        if count <= 0:
            return []
        return await self._allocate_ids(count)

    async def _allocate_ids(self, count: int) -> list[int]:
        if self._conn.dialect.name == "postgresql":
            rows = await self._conn.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('items', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            )
            return [int(r[0]) for r in rows.all()]
        top = (await self._conn.execute(select(func.max(items.c.id)))).scalar()
        start = int(top or 0) + 1
        return list(range(start, start + count))

    async def get(self, item_id: int) -> Item | None:
        """The item, or None."""
        row = (await self._conn.execute(select(items).where(items.c.id == item_id))).mappings()
        found = row.first()
        return item_from_row(found) if found else None

    async def get_by_external(self, source: str, external_id: str) -> Item | None:
        """The item ingested under ``(source, external_id)``, or None."""
        found = await self.get_many_by_external(source, [external_id])
        return found.get(external_id)

    async def get_many_by_external(
        self, source: str, external_ids: Sequence[str]
    ) -> dict[str, Item]:
        """Items of one source by external id, in chunks of a few hundred."""
        out: dict[str, Item] = {}
        unique = list(dict.fromkeys(external_ids))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            rows = await self._conn.execute(
                select(items).where(items.c.source == source, items.c.external_id.in_(chunk))
            )
            for row in rows.mappings():
                out[row["external_id"]] = item_from_row(row)
        return out

    async def update(self, item: Item, *, expected_version: int) -> bool:
        """Writes ``item`` only if the stored version is still ``expected_version``."""
        # One prepared statement: building the UPDATE per call cost more than running it.
        result = await self._conn.execute(_UPDATE_CHECKED, _checked_row(item, expected_version))
        return result.rowcount == 1

    async def update_many(self, changes: Sequence[tuple[Item, int]]) -> list[int]:
        """Version-checked writes of many items: one executemany where the driver counts
        the rows a batch changed (SQLite), one statement each where it cannot (asyncpg).
        """
        if not changes:
            return []
        if not self._conn.dialect.supports_sane_multi_rowcount:
            return [
                item.id
                for item, expected in changes
                if item.id is not None and not await self.update(item, expected_version=expected)
            ]
        rows = [_checked_row(item, expected) for item, expected in changes]
        result = await self._conn.execute(_UPDATE_CHECKED, rows)
        if result.rowcount == len(rows):
            return []
        # Some were not written: those whose stored version is not the one just written
        # (all of them, should that not account for the difference).
        ids = [item.id for item, _ in changes if item.id is not None]
        found = await self._conn.execute(
            select(items.c.id, items.c.version).where(items.c.id.in_(ids))
        )
        stored: dict[int, int] = {row[0]: row[1] for row in found}
        stale = [i.id for i, _ in changes if i.id is not None and stored.get(i.id) != i.version]
        return stale or ids

    async def claimable(
        self,
        *,
        teams: Sequence[str],
        limit: int,
        offset: int = 0,
        exclude_prepared_by: str | None = None,
        skip_locked: bool = False,
    ) -> list[Item]:
        """Unassigned pending items of these teams, highest priority first, oldest first.

        With ``exclude_prepared_by``, that user's own items are filtered out in SQL, so a
        limit never fills up with items they could not take. With ``skip_locked`` on
        PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED``: a concurrent claimer's
        rows are passed over instead of waited for. SQLite's writer transaction
        (``BEGIN IMMEDIATE``) already excludes every other writer.
        """
        stmt = select(items).where(
            items.c.state == ReviewState.PENDING.value, items.c.team.in_(list(teams))
        )
        if exclude_prepared_by is not None:
            stmt = stmt.where(
                or_(items.c.prepared_by.is_(None), items.c.prepared_by != exclude_prepared_by)
            )
        stmt = stmt.order_by(items.c.priority.desc(), items.c.id).limit(limit).offset(offset)
        if skip_locked and self._conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        rows = await self._conn.execute(stmt)
        return [item_from_row(r) for r in rows.mappings()]

    async def count(
        self,
        *,
        states: Sequence[ReviewState] | None = None,
        teams: Sequence[str] | None = None,
        assignee: str | None = None,
    ) -> int:
        """How many items match every given filter."""
        stmt = select(func.count()).select_from(items)
        if states:
            stmt = stmt.where(items.c.state.in_([s.value for s in states]))
        if teams is not None:
            stmt = stmt.where(items.c.team.in_(list(teams)))
        if assignee:
            stmt = stmt.where(items.c.assignee == assignee)
        return int((await self._conn.execute(stmt)).scalar_one())

    async def summary(
        self, *, teams: Sequence[str] | None, overdue_before: datetime
    ) -> dict[str, int]:
        """Dashboard counts in one grouped query (see the port's docstring)."""
        band = case(
            (items.c.priority >= HIGH_PRIORITY, "high"),
            (items.c.priority >= MEDIUM_PRIORITY, "medium"),
            else_="low",
        )
        # A digest item whose clock waits for its digest is not late, whatever its age.
        is_late = and_(items.c.sla_started_at < overdue_before, items.c.sla_waits.is_(False))
        overdue = func.sum(case((is_late, 1), else_=0))
        stmt = select(items.c.state, band, func.count(), overdue).group_by(items.c.state, band)
        if teams is not None:
            stmt = stmt.where(items.c.team.in_(list(teams)))
        counts = {
            "pending_high": 0,
            "pending_medium": 0,
            "pending_low": 0,
            "overdue": 0,
            "awaiting_second_approval": 0,
            "open_disputes": 0,
            "dead_lettered": 0,
        }
        settled = {s.value for s in SETTLED}
        for state, band_name, n, late in (await self._conn.execute(stmt)).all():
            counts[f"state:{state}"] = counts.get(f"state:{state}", 0) + int(n)
            if state == ReviewState.PENDING.value:
                counts[f"pending_{band_name}"] += int(n)
            if state not in settled and state != ReviewState.DISPUTED.value:
                counts["overdue"] += int(late or 0)
        counts["awaiting_second_approval"] = counts.get("state:awaiting_second_approval", 0)
        counts["open_disputes"] = counts.get("state:disputed", 0)
        counts["dead_lettered"] = counts.get("state:dead_letter", 0)
        return counts

    async def due_for_ladder(self, *, now: datetime, limit: int) -> list[Item]:
        """Items whose next SLA rung is due, earliest first (uses the sla_next_at index)."""
        rows = await self._conn.execute(
            select(items)
            .where(items.c.sla_next_at.is_not(None), items.c.sla_next_at <= now)
            .order_by(items.c.sla_next_at, items.c.id)
            .limit(limit)
        )
        return [item_from_row(r) for r in rows.mappings()]

    async def open_after(self, *, after_id: int, limit: int) -> list[Item]:
        """Open items with ids above ``after_id``, in id order."""
        rows = await self._conn.execute(
            select(items)
            .where(items.c.id > after_id, items.c.state.not_in([s.value for s in SETTLED]))
            .order_by(items.c.id)
            .limit(limit)
        )
        return [item_from_row(r) for r in rows.mappings()]

    async def expired_claims(self, *, now: datetime, limit: int) -> list[Item]:
        """Assigned items whose claim lease ended before ``now``."""
        rows = await self._conn.execute(
            select(items)
            .where(
                items.c.state == ReviewState.ASSIGNED.value,
                items.c.claim_expires_at.is_not(None),
                items.c.claim_expires_at < now,
            )
            .order_by(items.c.claim_expires_at)
            .limit(limit)
        )
        return [item_from_row(r) for r in rows.mappings()]

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
        stmt = select(items)
        if states:
            stmt = stmt.where(items.c.state.in_([s.value for s in states]))
        if team:
            stmt = stmt.where(items.c.team == team)
        if teams is not None:
            stmt = stmt.where(items.c.team.in_(list(teams)))
        if assignee:
            stmt = stmt.where(items.c.assignee == assignee)
        stmt = stmt.order_by(items.c.priority.desc(), items.c.id).limit(limit).offset(offset)
        rows = await self._conn.execute(stmt)
        return [item_from_row(r) for r in rows.mappings()]

    async def open_outside(self, *, teams: Sequence[str], min_ladder_level: int = 0) -> list[Item]:
        """Open items of no team or of another team, at the level or above (see the port)."""
        stmt = select(items).where(
            items.c.state.not_in([s.value for s in SETTLED]),
            or_(items.c.team.is_(None), items.c.team.not_in(list(teams))),
        )
        if min_ladder_level > 0:
            stmt = stmt.where(items.c.ladder_level >= min_ladder_level)
        rows = await self._conn.execute(stmt.order_by(items.c.priority.desc(), items.c.id))
        return [item_from_row(r) for r in rows.mappings()]


class SqlJournalRepository:
    """Journal entries; the unique idempotency key is the database's guarantee."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, entry: JournalEntry) -> None:
        """Inserts the entry (a duplicate key raises IntegrityError and rolls back)."""
        await self._conn.execute(insert(journal_entries).values(**entry_to_row(entry)))

    async def add_many(self, entries: Sequence[JournalEntry]) -> None:
        """Inserts several entries in one statement."""
        if entries:
            await insert_rows(self._conn, journal_entries, [entry_to_row(e) for e in entries])

    async def get_by_key(self, idempotency_key: str) -> JournalEntry | None:
        """The entry with that key, or None."""
        rows = await self._conn.execute(
            select(journal_entries).where(journal_entries.c.idempotency_key == idempotency_key)
        )
        found = rows.mappings().first()
        return entry_from_row(found) if found else None

    async def for_item(self, item_id: int) -> list[JournalEntry]:
        """Entries of one item, oldest first."""
        rows = await self._conn.execute(
            select(journal_entries)
            .where(journal_entries.c.item_id == item_id)
            .order_by(journal_entries.c.id)
        )
        return [entry_from_row(r) for r in rows.mappings()]

    async def for_items(self, item_ids: Sequence[int]) -> dict[int, list[JournalEntry]]:
        """Entries of several items, each item's oldest first, in chunks of a few hundred."""
        out: dict[int, list[JournalEntry]] = {}
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            rows = await self._conn.execute(
                select(journal_entries)
                .where(journal_entries.c.item_id.in_(chunk))
                .order_by(journal_entries.c.id)
            )
            for row in rows.mappings():
                entry = entry_from_row(row)
                out.setdefault(entry.item_id, []).append(entry)
        return out

    async def mark_delivered(self, idempotency_key: str, *, reference: str, now: datetime) -> bool:
        """Stores the ledger's reference on the entry, once (compare-and-set on none)."""
        result = await self._conn.execute(
            update(journal_entries)
            .where(
                journal_entries.c.idempotency_key == idempotency_key,
                journal_entries.c.reference.is_(None),
            )
            .values(reference=reference, delivered_at=now)
        )
        return result.rowcount == 1

    async def held(self, *, limit: int) -> list[JournalEntry]:
        """Entries that may not leave yet, oldest first."""
        rows = await self._conn.execute(
            select(journal_entries)
            .where(journal_entries.c.hold.is_not(None))
            .order_by(journal_entries.c.id)
            .limit(limit)
        )
        return [entry_from_row(r) for r in rows.mappings()]

    async def release(self, entry: JournalEntry) -> bool:
        """Rewrites a still-held entry's lines, memo and hold (same key)."""
        row = entry_to_row(entry)
        result = await self._conn.execute(
            update(journal_entries)
            .where(
                journal_entries.c.idempotency_key == entry.idempotency_key,
                journal_entries.c.hold.is_not(None),
            )
            .values(lines=row["lines"], memo=row["memo"], hold=row["hold"])
        )
        return result.rowcount == 1


def _with_id(item: Item, item_id: int) -> Item:
    return dataclasses.replace(item, id=item_id)
