"""Ingest runs, the quarantine of rejected rows, and the policy versions seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.gauges import STATEMENT_RUNS
from domain.intake import RowError
from store.bulk import insert_rows
from store.tables import ingest_runs, policy_versions, quarantine


class SqlIntakeRepository:
    """Runs and quarantine over the unit of work's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def start_run(
        self, *, source: str, file_name: str, policy_version: str, now: datetime
    ) -> int:
        """Records a new run and returns its id."""
        result = await self._conn.execute(
            insert(ingest_runs).values(
                source=source, file_name=file_name, started_at=now, policy_version=policy_version
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])

    async def quarantine(
        self, *, run_id: int, rows: Sequence[tuple[RowError, str]], now: datetime
    ) -> None:
        """Keeps rejected rows for the user to list and fix."""
        if not rows:
            return
        await insert_rows(
            self._conn,
            quarantine,
            [
                {
                    "run_id": run_id,
                    "line": err.line,
                    "field": err.field,
                    "error": err.error,
                    "raw": raw,
                    "created_at": now,
                }
                for err, raw in rows
            ],
        )

    async def finish_run(self, *, run_id: int, summary: dict[str, Any], now: datetime) -> None:
        """Stores the run's summary."""
        await self._conn.execute(
            update(ingest_runs)
            .where(ingest_runs.c.id == run_id)
            .values(finished_at=now, summary=summary)
        )

    async def remember_policy(self, *, version: str, body: str, now: datetime) -> None:
        """Keeps the policy text of a version the first time it is used."""
        found = await self._conn.execute(
            select(policy_versions.c.version).where(policy_versions.c.version == version)
        )
        if found.first() is None:
            await self._conn.execute(
                insert(policy_versions).values(version=version, body=body, first_seen_at=now)
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantineListing:
    """The rejected rows of one run, and whether the run finished.

    A run that never finished (it stopped, was killed, or still runs) holds only the
    rejected rows of the batches it stored.
    """

    run_id: int
    finished: bool
    rows: list[dict[str, Any]]


async def list_rejected(
    conn: AsyncConnection, *, run_id: int | None, limit: int
) -> QuarantineListing | None:
    """Rejected rows of one run (when ``run_id`` is None, the latest run that quarantines
    rows: statement imports report their refusals themselves and keep none here).

    None when there is no such run (or no run at all).
    """
    runs = select(ingest_runs.c.id, ingest_runs.c.finished_at)
    if run_id is None:
        found = await conn.execute(
            runs.where(ingest_runs.c.source != STATEMENT_RUNS)
            .order_by(ingest_runs.c.id.desc())
            .limit(1)
        )
    else:
        found = await conn.execute(runs.where(ingest_runs.c.id == run_id))
    run = found.first()
    if run is None:
        return None
    rows = await conn.execute(
        select(quarantine.c.line, quarantine.c.field, quarantine.c.error, quarantine.c.raw)
        .where(quarantine.c.run_id == run.id)
        .order_by(quarantine.c.line, quarantine.c.id)
        .limit(limit)
    )
    return QuarantineListing(
        run_id=int(run.id),
        finished=run.finished_at is not None,
        rows=[dict(r) for r in rows.mappings()],
    )
