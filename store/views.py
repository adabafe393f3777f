"""Where each user's Slack views stand (the App Home page they read), in the store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from store.bulk import dialect_insert
from store.tables import home_pages


class SqlViewStateRepository:
    """Implements :class:`domain.ports.ViewStateRepository` on one connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def home_page(self, user: str) -> int:
        """The App Home page (0 first) the user last chose; 0 when they never did."""
        found = await self._conn.execute(
            select(home_pages.c.page).where(home_pages.c.user_id == user)
        )
        page = found.scalar()
        return int(page) if page is not None else 0

    async def set_home_page(self, user: str, page: int, *, now: datetime) -> None:
        """Remembers the page in one statement (two sessions may set it at once)."""
        stmt = dialect_insert(self._conn.dialect.name, home_pages).values(
            user_id=user, page=page, updated_at=now
        )
        await self._conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[home_pages.c.user_id],
                set_={"page": stmt.excluded.page, "updated_at": stmt.excluded.updated_at},
            )
        )
