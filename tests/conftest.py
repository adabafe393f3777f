"""Shared fixtures: a migrated store on SQLite always, and on PostgreSQL when configured.

PostgreSQL tests need ``RECON_TEST_POSTGRES_URL`` (e.g.
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``); each test gets its own schema, so
runs never see each other's rows. Without the variable they skip, saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from store.engine import Database, create_database
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_POLICY = ROOT / "bot" / "policy.example.yml"
POSTGRES_ENV = "RECON_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    """The PostgreSQL URL for store tests, if configured."""
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database a store test runs on."""
    if request.param == "postgres" and postgres_url() is None:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL store tests skipped")
    return str(request.param)


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database (no schema) on the selected backend."""
    if backend == "sqlite":
        db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'recon.db'}")
        try:
            yield db
        finally:
            await db.dispose()
        return
    url = postgres_url()
    assert url is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_database(url)
    async with admin.writer.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = create_database(url, search_path=schema)
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.writer.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def migrated(database: Database) -> Database:
    """The database with every migration applied."""
    await upgrade(database)
    return database
