"""Journal entries read outside a unit of work (the ledger relay reads what it sends)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from domain.items import JournalEntry
from store.engine import Database
from store.mapping import entry_from_row
from store.tables import journal_entries


class JournalReader:
    """Reads stored journal entries by idempotency key."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def by_keys(self, keys: Collection[str]) -> dict[str, JournalEntry]:
        """The stored entries among ``keys``, by key (absent keys are left out)."""
        if not keys:
            return {}
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(
                select(journal_entries).where(journal_entries.c.idempotency_key.in_(list(keys)))
            )
            return {r["idempotency_key"]: entry_from_row(r) for r in rows.mappings()}
