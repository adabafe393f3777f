"""Digest windows: which items a window took, and the clusters its buttons act on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.digest import ClusterMember, ClusterRecord, ClusterState
from domain.items import Item, ReviewState, Route
from store.mapping import item_from_row
from store.tables import digest_clusters, items

_UNDIGESTED = (
    items.c.route == Route.DIGEST.value,
    items.c.state == ReviewState.PENDING.value,
    items.c.digest_window.is_(None),
)


class SqlDigestRepository:
    """Digest queries and writes over the unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def candidate_teams(self) -> list[str]:
        """Teams with digest items not yet in any digest."""
        rows = await self._conn.execute(
            select(items.c.team).where(*_UNDIGESTED, items.c.team.is_not(None)).distinct()
        )
        return sorted(str(r[0]) for r in rows.all())

    async def candidates(self, *, team: str, limit: int) -> list[Item]:
        """A team's undigested pending digest items, oldest first."""
        rows = await self._conn.execute(
            select(items)
            .where(*_UNDIGESTED, items.c.team == team)
            .order_by(items.c.id)
            .limit(limit)
        )
        return [item_from_row(r) for r in rows.mappings()]

    async def mark(self, *, item_ids: Sequence[int], window: str) -> int:
        """Claims still-unclaimed items for the window; two processes never both get one."""
        claimed = 0
        for start in range(0, len(item_ids), 500):
            chunk = list(item_ids[start : start + 500])
            result = await self._conn.execute(
                update(items)
                .where(items.c.id.in_(chunk), items.c.digest_window.is_(None))
                .values(digest_window=window)
            )
            claimed += int(result.rowcount or 0)
        return claimed

    async def awaiting_post(self, *, limit: int) -> list[tuple[str, Item]]:
        """Items a digest took whose clock still waits for that digest's post."""
        rows = await self._conn.execute(
            select(items)
            .where(items.c.sla_waits.is_(True), items.c.digest_window.is_not(None))
            .order_by(items.c.id)
            .limit(limit)
        )
        return [(str(r["digest_window"]), item_from_row(r)) for r in rows.mappings()]

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
        result = await self._conn.execute(
            insert(digest_clusters).values(
                window=window,
                team=team,
                cluster_key=key,
                items=[list(pair) for pair in items],
                apart=1 if apart else 0,
                state=ClusterState.OPEN.value,
                created_at=now,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])

    async def window_posted(self, *, team: str, window: str) -> bool:
        """Whether this team's digest for this window already exists."""
        found = await self._conn.execute(
            select(digest_clusters.c.id)
            .where(digest_clusters.c.team == team, digest_clusters.c.window == window)
            .limit(1)
        )
        return found.first() is not None

    async def get_cluster(self, cluster_id: int) -> ClusterRecord | None:
        """The cluster, or None."""
        row = (
            (
                await self._conn.execute(
                    select(digest_clusters).where(digest_clusters.c.id == cluster_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return ClusterRecord(
            id=int(row["id"]),
            window=row["window"],
            team=row["team"],
            key=row["cluster_key"],
            items=tuple((int(entry[0]), int(entry[1])) for entry in row["items"]),
            hashes=tuple(str(entry[2]) if len(entry) > 2 else "" for entry in row["items"]),
            apart=bool(row["apart"]),
            state=ClusterState(row["state"]),
            decided_by=row["decided_by"],
        )

    async def close_cluster(
        self, cluster_id: int, *, state: ClusterState, actor: str, now: datetime
    ) -> bool:
        """Moves an open cluster to ``state`` (compare-and-set on ``open``)."""
        result = await self._conn.execute(
            update(digest_clusters)
            .where(
                digest_clusters.c.id == cluster_id,
                digest_clusters.c.state == ClusterState.OPEN.value,
            )
            .values(state=state.value, decided_by=actor, decided_at=now)
        )
        return result.rowcount == 1
